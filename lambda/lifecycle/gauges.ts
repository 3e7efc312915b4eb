/*
 * The gauges every reconcile publishes (lambda/core/gauges.ts computes them): one EMF line per reconcile, and
 * the leader it saw recorded in etcd (cdk-elastic-etcd/leader) so the next reconcile can count a change.
 * Reading sizes, alarms or the record may fail (etcd down, NOSPACE refuses the record's write): what could
 * be read is published, the rest is logged and left out.
 */
import { gaugesOf, Gauges } from '../core/gauges';
import type { LifecycleContext } from './context';
import { errorMessage, Logger, MetricName, MetricValue } from './log';
import { actionEndpoints, Observation } from './observe';

export async function publishGauges(ctx: LifecycleContext, log: Logger, obs: Observation): Promise<Gauges> {
  const members = obs.members;
  const endpoints = members ? actionEndpoints(obs) : [];
  const [status, alarms, previousLeader] = members
    ? await Promise.all([
        ctx.maintenance.statusOf(members.filter((m) => obs.health[m.id] === true)).catch(() => ({})),
        ctx.maintenance.alarms(endpoints).catch((err: Error) => {
          log.warn('gauges: no alarm list', { error: err.message });
          return undefined;
        }),
        ctx.leaderRecord.load(endpoints).catch(() => undefined),
      ])
    : [{}, undefined, undefined];
  const g = gaugesOf({
    members,
    health: obs.health,
    status,
    alarms,
    desiredCapacity: obs.group.desiredCapacity,
    quotaBackendBytes: ctx.config.quotaBackendBytes,
    previousLeader,
  });
  const values: MetricValue[] = [
    { name: MetricName.HEALTHY_VOTERS, value: g.healthyVoters, unit: 'Count' },
    { name: MetricName.DESIRED_CAPACITY, value: g.desiredCapacity, unit: 'Count' },
    { name: MetricName.LEARNERS, value: g.learners, unit: 'Count' },
    { name: MetricName.UNSTARTED_MEMBERS, value: g.unstartedMembers, unit: 'Count' },
    { name: MetricName.LEADER_CHANGES, value: g.leaderChanges, unit: 'Count' },
  ];
  if (g.dbSizeBytes !== undefined) {
    values.push(
      { name: MetricName.DB_SIZE, value: g.dbSizeBytes, unit: 'Bytes' },
      { name: MetricName.DB_SIZE_IN_USE, value: g.dbSizeInUseBytes!, unit: 'Bytes' },
      { name: MetricName.QUOTA_USED_PERCENT, value: g.quotaUsedPercent!, unit: 'Percent' },
    );
  }
  if (g.activeAlarms !== undefined) {
    values.push(
      { name: MetricName.ACTIVE_ALARMS, value: g.activeAlarms, unit: 'Count' },
      { name: MetricName.CORRUPT_ALARMS, value: g.corruptAlarms!, unit: 'Count' },
    );
  }
  log.metrics('gauges', values, ctx.config.groupName);
  if (g.leader !== undefined && g.leader !== previousLeader && endpoints.length > 0) {
    try {
      await ctx.leaderRecord.save(endpoints, g.leader);
    } catch (err) {
      log.warn('gauges: could not record the leader', { leader: g.leader, error: errorMessage(err) });
    }
  }
  return g;
}
