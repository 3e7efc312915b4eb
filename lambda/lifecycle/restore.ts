/*
 * The restore trigger: a manual {"kind":"restore"} invocation, or the scheduled reconcile under the
 * `automatic` policy. Every decision is lambda/core/restore.ts's; this module observes, keeps the time since
 * when the quorum is lost (in S3: etcd has no quorum to keep it), asks every member for its revision
 * (Maintenance.Status answers without a quorum) to choose the source (a survivor's own data or the newest
 * snapshot), writes the fenced restore record and reboots the group's instances, whose agents then seed (the
 * survivor with force-new-cluster, or the snapshot's seed) or wipe and join (the others) at boot.
 */
import {
  buildRestoreRecord,
  chooseRestoreSource,
  classifyQuorum,
  planRestoreTrigger,
  PointInTime,
  pointInTimeSnapshots,
  restoreCandidates,
  withoutFailedDrills,
  RestorePolicy,
} from '../core';
import type { LifecycleContext } from './context';
import { errorMessage, Logger, MetricName } from './log';
import { observe, Observation } from './observe';
import type { HandlerResult } from './result';

interface LostState {
  readonly since: number;
}

const lostKey = (prefix: string) => `${prefix}state/quorum-lost.json`;

export async function onRestore(
  ctx: LifecycleContext,
  manual: boolean,
  eventId?: string,
  observed?: Observation,
  /** A manual point-in-time restore (issue 16): `{"kind":"restore","untilRevision":N}` or `"untilTime"`. */
  pointInTime?: PointInTime,
): Promise<HandlerResult> {
  const log = ctx.log.child({
    event: manual ? 'restore' : 'restore-check',
    ...(eventId ? { eventId } : {}),
    ...(pointInTime?.untilRevision !== undefined && { untilRevision: pointInTime.untilRevision }),
    ...(pointInTime?.untilTime !== undefined && { untilTime: new Date(pointInTime.untilTime).toISOString() }),
  });
  const base = { kind: 'restore' as const, removed: [] };
  const { store } = ctx;
  const backup = ctx.config.backup;
  if (!store || !backup) {
    const reason = 'backups are not configured (no BACKUP_BUCKET): nothing to restore from';
    log.warn('decision', { decision: 'no-restore', reason });
    return { ...base, ok: false, outcome: 'ignored', reason };
  }
  const obs = observed ?? (await observe(ctx));
  const verdict = classifyQuorum({
    members: obs.members,
    health: obs.health,
    instances: obs.group.instances,
    peerPort: ctx.config.peerPort,
    scheme: ctx.config.scheme,
    desiredCapacity: obs.group.desiredCapacity,
  });
  const now = ctx.now();
  let lostSince: number | undefined;
  if (verdict.kind === 'lost') {
    lostSince = (await store.getJson<LostState>(lostKey(backup.prefix)))?.since;
    if (lostSince === undefined) {
      await store.putJson(lostKey(backup.prefix), { since: now, reason: verdict.reason });
      lostSince = now;
    }
  } else if (!manual) {
    // The scheduled check with a quorum (or one that may come back): clear the record, nothing to log.
    if (await store.exists(lostKey(backup.prefix))) await store.delete(lostKey(backup.prefix));
    return { ...base, ok: true, outcome: 'no-restore', reason: verdict.reason };
  }
  const latest = await store.latestRestore();
  const trigger = planRestoreTrigger({
    policy: backup.restorePolicy,
    manual,
    verdict,
    lostSince,
    now,
    boundSeconds: backup.restoreAfterSeconds,
    lastRestoreAt: latest?.createdAt,
  });
  log.info('decision', { decision: trigger.kind, verdict: verdict.kind, reason: trigger.reason });
  if (
    trigger.kind === 'none' &&
    !manual &&
    verdict.kind === 'lost' &&
    backup.restorePolicy === RestorePolicy.MANUAL
  ) {
    // The state the manual policy leaves the group in: said once per reconcile, as a line and a metric
    // (the construct's restoreAwaitedAlarm), so that a human learns that the trigger is theirs to invoke.
    log.warn('waiting for the restore trigger', {
      verdict: verdict.reason,
      lostSince,
      trigger: '{"kind":"restore"}',
      reason: trigger.reason,
    });
    log.metric(MetricName.AWAITING_RESTORE_TRIGGER, 1, ctx.config.groupName);
  }
  if (trigger.kind === 'none') {
    return { ...base, ok: !manual, outcome: 'no-restore', reason: trigger.reason };
  }
  return startRestore(ctx, log, obs, latest?.generation ?? 0, trigger.reason, pointInTime);
}

async function startRestore(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
  latestGeneration: number,
  why: string,
  pointInTime?: PointInTime,
): Promise<HandlerResult> {
  const store = ctx.store!;
  const base = { kind: 'restore' as const, removed: [] };
  // A point-in-time restore starts from a snapshot taken at or before the point (the record's candidates).
  // A snapshot whose newest restore drill failed is never chosen (issue 16); one never drilled still is.
  const [listed, drills] = await Promise.all([store.list(), store.listDrills()]);
  const usable = withoutFailedDrills(listed, drills);
  const snapshots = restoreCandidates(pointInTimeSnapshots(usable, pointInTime));
  const failedDrills = listed.length - usable.length;
  if (failedDrills > 0) {
    log.info('decision', {
      decision: 'skip-failed-drills',
      skipped: failedDrills,
      reason: `${failedDrills} snapshot(s) failed their restore drill: never chosen`,
    });
  }
  // The incremental log (issue 16): the snapshot candidate counts with the revision its log reaches.
  const chunks = ctx.chunks ? await ctx.chunks.list() : pointInTime ? [] : undefined;
  // Every member's own revision (Maintenance.Status answers without a quorum): the survivors' candidates.
  const statuses = obs.members ? await ctx.maintenance.statusOf(obs.members) : {};
  const revisions = Object.fromEntries(Object.entries(statuses).map(([id, st]) => [id, st?.revision]));
  const choice = chooseRestoreSource({
    members: obs.members,
    revisions,
    instances: obs.group.instances,
    snapshots,
    ...(chunks && { chunks }),
    ...(pointInTime && { pointInTime }),
  });
  log.info('decision', {
    decision: 'restore-source',
    source: choice.kind === 'chosen' ? choice.source : null,
    seed: choice.kind === 'chosen' ? choice.seed.instanceId : null,
    candidates: choice.candidates,
    ...(choice.kind === 'chosen' && choice.log && { log: choice.log }),
    reason: choice.reason,
  });
  if (choice.kind === 'none') {
    return { ...base, ok: false, outcome: 'failed', reason: choice.reason };
  }
  const { seed, source } = choice;
  const record = buildRestoreRecord(latestGeneration, seed, snapshots, ctx.now(), why, source, choice.log);
  if (!(await store.claimRestore(record))) {
    const reason = `restore generation ${record.generation} was claimed by another trigger first: nothing done here`;
    log.info('decision', { decision: 'fenced', generation: record.generation, reason });
    return { ...base, ok: true, outcome: 'fenced', reason };
  }
  log.warn('restore started', {
    generation: record.generation,
    seed: seed.instanceId,
    source,
    ...(source.kind === 'snapshot' && { snapshot: source.key }),
    restoredUpToRevision: source.revision,
    reason: why,
    sourceReason: choice.reason,
  });
  log.metric(MetricName.RESTORES, 1, ctx.config.groupName, { generation: record.generation });
  try {
    await store.delete(`${store.prefix}state/quorum-lost.json`);
  } catch (err) {
    log.warn('could not clear the quorum-lost record', { error: errorMessage(err) });
  }
  const ids = obs.group.instances
    .filter((i) => i.privateIp && !/^(Terminat|Warmed)/.test(i.lifecycleState))
    .map((i) => i.instanceId);
  await ctx.fleet.rebootInstances(ids);
  log.info('instances rebooted: their agents restore (seed) or wipe and join', { instanceIds: ids });
  return {
    ...base,
    ok: true,
    outcome: 'restore-started',
    reason: why,
    restore: {
      generation: record.generation,
      seedInstanceId: seed.instanceId,
      source,
      ...(source.kind === 'snapshot' && { snapshotKey: source.key }),
      restoredUpToRevision: source.revision,
    },
  };
}
