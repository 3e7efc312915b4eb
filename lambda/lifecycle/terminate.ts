/*
 * EC2 Instance-terminate Lifecycle Action: remove the instance's member before the instance goes, unless that
 * would cost the cluster its quorum. Every decision is planTermination's (lambda/core); this module observes,
 * executes one step at a time and completes the lifecycle action.
 *
 * - remove            → remove the member under the join lock, complete CONTINUE.
 * - remove-dead-first → remove that dead member under the join lock, observe and plan again (bounded).
 * - absent            → complete CONTINUE (already removed: a duplicate or late event, or never joined).
 * - unsafe            → complete ABANDON: with the group's instance lifecycle policy TerminateHookAbandon:
 *                       retain the instance (and its member and data) is kept instead of torn out of quorum.
 * - etcd unreachable  → no member list means the removal cannot be proven safe: ABANDON (retain). Without a
 *                       retention policy ABANDON still terminates, so it is never worse than CONTINUE.
 * - unknown instance  → no private IP can be found (not in the group, and DescribeInstances knows no IP):
 *                       complete CONTINUE; the scheduled reconcile removes a member it may have left behind.
 * - warm pool         → Destination WarmPool (back into the warm pool, stopped): the member would be a dead
 *                       voter, so it is removed exactly like a termination. Origin WarmPool (a warm instance
 *                       terminated): handled the same way; normally it has no member (absent → CONTINUE).
 * Every re-check happens under the lock: observe again, plan again, and remove only when the fresh plan still
 * asks for that very removal, so a join that slipped in between is never undercut.
 */
import { peerURLFor, planTermination } from '../core';
import type { TerminationStep } from '../core/types';
import { removalBackoff, completeAction, removeOrBackOff, startHeartbeats } from './act';
import { snapshotBeforeRemoval } from './backup';
import type { LifecycleContext } from './context';
import type { LifecycleAction } from './events';
import { errorMessage, Logger, MetricName } from './log';
import { actionEndpoints, observe, Observation } from './observe';
import type { HandlerResult } from './result';

/** Re-observations before an unsafe termination is answered with ABANDON, and the pause between them. */
const UNSAFE_RECHECKS = 2;
const UNSAFE_RECHECK_DELAY_MS = 1500;

export async function onTerminate(ctx: LifecycleContext, action: LifecycleAction): Promise<HandlerResult> {
  const log = ctx.log.child({
    event: 'terminate',
    instanceId: action.instanceId,
    hookName: action.hookName,
    ...(action.eventId ? { eventId: action.eventId } : {}),
    ...(action.origin ? { origin: action.origin } : {}),
    ...(action.destination ? { destination: action.destination } : {}),
  });
  if (action.destination === 'WarmPool' || action.origin === 'WarmPool') {
    log.info(
      action.destination === 'WarmPool'
        ? 'instance returns to the warm pool: its member is removed like a termination'
        : 'warm pool instance terminates: handled like a termination',
    );
  }
  const heartbeats = startHeartbeats(ctx, log, action);
  try {
    return await terminate(ctx, log, action);
  } finally {
    heartbeats.stop();
  }
}

async function terminate(
  ctx: LifecycleContext,
  log: Logger,
  action: LifecycleAction,
): Promise<HandlerResult> {
  const { config } = ctx;
  const removed: string[] = [];
  const finish = async (result: 'CONTINUE' | 'ABANDON', reason: string): Promise<HandlerResult> => {
    if (result === 'ABANDON') {
      log.metric(MetricName.RETAINED_TERMINATIONS, 1, config.groupName, { reason });
    }
    await completeAction(ctx, log, action, result);
    return { ok: true, kind: 'terminate', outcome: result, reason, removed };
  };

  const ip = await privateIpOf(ctx, action.instanceId);
  if (!ip) {
    const reason = `no private IP known for ${action.instanceId} (not in the group, and EC2 reports none): nothing to remove`;
    log.info('decision', { decision: 'unknown-instance', result: 'CONTINUE', reason });
    return finish('CONTINUE', reason);
  }
  const peerURL = peerURLFor(ip, config.peerPort, config.scheme);
  const plan = (obs: Observation): TerminationStep =>
    planTermination({
      members: obs.members ?? [],
      health: obs.health,
      peerURL,
      instances: obs.group.instances,
      peerPort: config.peerPort,
      scheme: config.scheme,
      desiredCapacity: obs.group.desiredCapacity,
    });

  const backoff = removalBackoff(ctx);
  let unsafeSeen = 0;
  for (let round = 1; round <= ctx.maxRounds; round++) {
    const obs = await observe(ctx, [ip]);
    if (!obs.members) {
      const reason = `etcd unreachable at ${obs.probeEndpoints.join(', ') || '(no endpoint)'}: removal of ${peerURL} cannot be proven safe, keep the instance`;
      log.warn('decision', { decision: 'etcd-unreachable', result: 'ABANDON', peerURL, reason });
      return finish('ABANDON', reason);
    }
    const step = plan(obs);
    log.info('decision', {
      decision: step.kind,
      round,
      peerURL,
      ...('memberId' in step ? { memberId: step.memberId } : {}),
      reason: step.reason,
    });
    switch (step.kind) {
      case 'absent':
        return finish('CONTINUE', step.reason);
      case 'unsafe':
        // Health is a snapshot: during the election that follows another member's removal (e.g. two
        // terminations at once) every member can look unhealthy for a moment. Retaining is permanent, so
        // look again a few times before answering ABANDON.
        if (unsafeSeen < UNSAFE_RECHECKS && round < ctx.maxRounds) {
          unsafeSeen++;
          log.info('termination looks unsafe: observing again before retaining', {
            reason: step.reason,
            round,
          });
          await ctx.sleep(UNSAFE_RECHECK_DELAY_MS);
          continue;
        }
        log.warn('termination unsafe: completing with ABANDON so the instance is retained', {
          reason: step.reason,
        });
        return finish('ABANDON', step.reason);
      case 'remove':
      case 'remove-dead-first': {
        await snapshotBeforeRemoval(ctx, log, obs, step.memberId);
        const memberId = step.memberId;
        const endpoints = actionEndpoints(obs, memberId);
        const confirm = (fresh: Observation) => {
          const again = plan(fresh);
          return again.kind === step.kind && again.memberId === memberId;
        };
        const extraIps = [ip];
        const outcome = await removeOrBackOff(ctx, log, {
          memberId,
          endpoints,
          confirm,
          backoff,
          round,
          extraIps,
        });
        if (typeof outcome === 'object' || outcome === 'changed') continue;
        if (outcome === 'removed') {
          removed.push(step.memberId);
          log.info('member removed', { memberId: step.memberId, step: step.kind, reason: step.reason });
          log.metric(MetricName.MEMBER_REMOVALS, 1, config.groupName, {
            memberId: step.memberId,
            step: step.kind,
          });
        }
        if (step.kind === 'remove') return finish('CONTINUE', step.reason);
        continue;
      }
    }
  }
  const reason = `no safe outcome within ${ctx.maxRounds} rounds: keep the instance`;
  log.error('decision', { decision: 'rounds-exhausted', result: 'ABANDON', reason });
  return finish('ABANDON', reason);
}

/** The instance's private IP: from the group, else (instance already out of the group) DescribeInstances on its id. */
async function privateIpOf(ctx: LifecycleContext, instanceId: string): Promise<string | undefined> {
  const group = await ctx.fleet.describeGroup(ctx.config.groupName);
  const inGroup = group.instances.find((i) => i.instanceId === instanceId);
  if (inGroup?.privateIp) return inGroup.privateIp;
  try {
    return (await ctx.fleet.privateIps([instanceId])).get(instanceId);
  } catch (err) {
    if (/InvalidInstanceID/i.test(String((err as { name?: string })?.name) + errorMessage(err)))
      return undefined;
    throw err;
  }
}
