/*
 * Backups: a snapshot of one healthy voter streamed to S3 (lambda/adapters/s3.ts), on the backup schedule
 * ({"kind":"backup"}), by hand, and before each member removal the handler makes.
 *
 * Why the Lambda and not the leader instance: it already runs on a schedule in the VPC with the etcd
 * endpoints, it must take the pre-removal snapshot anyway (it makes the removals), it has no state to lose,
 * and instances then need no S3 write permission (they only read snapshots and restore records). The
 * member snapshotted is a healthy started voter, the leader first: the snapshot is a stream from that one
 * member, bounded by Lambda's 15 min and /tmp-free streaming (nothing is buffered beyond one 8 MB part).
 */
import type { StoredSnapshot } from '../adapters/s3';
import {
  isHealthyStartedVoter,
  lastVerifiedRestoreAgeSeconds,
  newestSnapshotAgeSeconds,
  planChunkRetention,
  planPreRemovalSnapshot,
  PreRemovalDecision,
} from '../core';
import type { LifecycleContext } from './context';
import { errorMessage, Logger, MetricName } from './log';
import { observe, Observation } from './observe';
import type { HandlerResult } from './result';

/** Client URLs of the healthy started voters. */
function snapshotEndpoints(obs: Observation): string[] {
  const voters = (obs.members ?? []).filter(
    (m) => isHealthyStartedVoter(m, obs.health) && m.clientURLs.length > 0,
  );
  return voters.map((m) => m.clientURLs[0]);
}

/** Takes one snapshot and stores it; throws when no healthy voter could be snapshotted. */
export async function takeSnapshot(
  ctx: LifecycleContext,
  log: Logger,
  reason: string,
  obs?: Observation,
): Promise<StoredSnapshot> {
  const store = ctx.store;
  if (!store) throw new Error('backups are not configured (no BACKUP_BUCKET)');
  const o = obs ?? (await observe(ctx));
  const endpoints = snapshotEndpoints(o);
  if (endpoints.length === 0) throw new Error('no healthy started voter to take a snapshot from');
  const errors: string[] = [];
  for (const endpoint of endpoints) {
    const started = ctx.now();
    let snap;
    try {
      snap = await ctx.openSnapshot(endpoint);
    } catch (err) {
      errors.push(`${endpoint}: ${errorMessage(err)}`);
      continue;
    }
    try {
      const stored = await store.upload(snap.stream, {
        time: started,
        revision: snap.revision,
        clusterId: snap.clusterId,
        contentSha256: snap.contentSha256,
      });
      log.info('snapshot stored', {
        reason,
        endpoint,
        key: stored.key,
        revision: stored.revision,
        clusterId: stored.clusterId,
        sha256: stored.sha256,
        contentSha256: stored.contentSha256,
        bytes: stored.size,
        ms: ctx.now() - started,
      });
      return stored;
    } catch (err) {
      errors.push(`${endpoint}: ${errorMessage(err)}`);
    } finally {
      snap.close();
    }
  }
  throw new Error(`snapshot failed on every healthy voter: ${errors.join('; ')}`);
}

/** Emits the age of the newest complete snapshot (the alarm's metric). Never throws. */
export async function reportSnapshotAge(ctx: LifecycleContext, log: Logger): Promise<number | undefined> {
  try {
    const age = newestSnapshotAgeSeconds((await ctx.store?.list()) ?? [], ctx.now());
    if (age !== undefined) {
      log.metric(MetricName.NEWEST_SNAPSHOT_AGE, age, ctx.config.groupName, {}, 'Seconds');
    }
    return age;
  } catch (err) {
    log.warn('could not list snapshots for the age metric', { error: errorMessage(err) });
    return undefined;
  }
}

/**
 * With restore drills on (RESTORE_DRILLS): LastVerifiedRestoreAgeSeconds, the seconds since the newest drill
 * that passed (without one: since the oldest complete snapshot; nothing without a snapshot). Never throws.
 */
export async function reportDrillAge(ctx: LifecycleContext, log: Logger): Promise<number | undefined> {
  if (!ctx.store || !ctx.config.backup?.restoreDrills) return undefined;
  try {
    const drills = await ctx.store.listDrills();
    // The snapshots (one sidecar read each) only matter while no drill has passed.
    const snapshots = drills.some((d) => d.ok) ? [] : await ctx.store.list();
    const age = lastVerifiedRestoreAgeSeconds(drills, ctx.now(), snapshots);
    if (age !== undefined) {
      log.metric(MetricName.LAST_VERIFIED_RESTORE_AGE, age, ctx.config.groupName, {}, 'Seconds');
    }
    return age;
  } catch (err) {
    log.warn('could not list drills for the verified-restore age', { error: errorMessage(err) });
    return undefined;
  }
}

export async function onBackup(ctx: LifecycleContext, eventId?: string): Promise<HandlerResult> {
  const log = ctx.log.child({ event: 'backup', ...(eventId ? { eventId } : {}) });
  const base = { kind: 'backup' as const, removed: [] };
  if (!ctx.store) {
    const reason = 'backups are not configured (no BACKUP_BUCKET): nothing done';
    log.warn('decision', { decision: 'no-backup', reason });
    return { ...base, ok: false, outcome: 'ignored', reason };
  }
  try {
    const s = await takeSnapshot(ctx, log, 'scheduled or requested backup');
    log.metric(MetricName.NEWEST_SNAPSHOT_AGE, 0, ctx.config.groupName, { key: s.key }, 'Seconds');
    await expireChunks(ctx, log);
    return {
      ...base,
      ok: true,
      outcome: 'stored',
      reason: `snapshot at revision ${s.revision} stored as ${s.key}`,
      snapshot: { key: s.key, revision: s.revision, clusterId: s.clusterId, sha256: s.sha256, size: s.size },
    };
  } catch (err) {
    const reason = errorMessage(err);
    log.error('backup failed', { error: reason });
    log.metric(MetricName.BACKUP_FAILURES, 1, ctx.config.groupName);
    await reportSnapshotAge(ctx, log);
    return { ...base, ok: false, outcome: 'failed', reason };
  }
}

/**
 * Retention of the incremental log (issue 16), after each stored snapshot: the chunks no retained snapshot
 * can use (planChunkRetention) are deleted. Snapshots expire by the created bucket's lifecycle rule
 * (`backup.retention`); the chunks follow them here, so a bucket brought by the user (no rule) keeps its
 * chunks exactly as long as its snapshots. Never throws: a failed clean-up is logged and tried next time.
 */
export async function expireChunks(ctx: LifecycleContext, log: Logger): Promise<void> {
  if (!ctx.store || !ctx.chunks) return;
  try {
    const [snapshots, chunks] = await Promise.all([ctx.store.list(), ctx.chunks.list()]);
    const plan = planChunkRetention(chunks, snapshots);
    if (plan.delete.length === 0) return;
    await ctx.chunks.delete(plan.delete.map((c) => c.key));
    log.info('decision', {
      decision: 'expire-chunks',
      deleted: plan.delete.length,
      kept: chunks.length - plan.delete.length,
      reason: Object.values(plan.reasons).join('; '),
    });
  } catch (err) {
    log.warn('could not expire chunks of the incremental log', { error: errorMessage(err) });
  }
}

/** Whether the incremental log makes the pre-removal snapshot unnecessary (planPreRemovalSnapshot). */
async function preRemovalDecision(ctx: LifecycleContext, obs: Observation): Promise<PreRemovalDecision> {
  const bound = ctx.config.backup?.incrementalBackupSeconds;
  if (bound === undefined || !ctx.chunks || !ctx.store) {
    return planPreRemovalSnapshot({ snapshots: [], chunks: [], now: ctx.now() });
  }
  const voters = (obs.members ?? []).filter(
    (m) => isHealthyStartedVoter(m, obs.health) && m.clientURLs.length > 0,
  );
  const [list, statuses] = await Promise.all([
    obs.clusterId ? { clusterId: obs.clusterId } : ctx.etcd.memberList(voters.map((m) => m.clientURLs[0])),
    ctx.maintenance.statusOf(voters),
  ]);
  const revisions = Object.values(statuses)
    .map((s) => s?.revision)
    .filter((r): r is number => r !== undefined);
  const clusterId = list?.clusterId;
  const [snapshots, chunks] = await Promise.all([
    ctx.store.list(),
    clusterId ? ctx.chunks.list(clusterId) : Promise.resolve([]),
  ]);
  return planPreRemovalSnapshot({
    incrementalBackupSeconds: bound,
    clusterId,
    clusterRevision: revisions.length > 0 ? Math.max(...revisions) : undefined,
    snapshots,
    chunks,
    now: ctx.now(),
  });
}

/**
 * Before a member removal (SNAPSHOT_BEFORE_REMOVAL): the state just before it is restorable. Skipped when
 * the incremental log is current (issue 16: the newest snapshot and its log already hold that state, within
 * the log's bound), with a line saying why. A failed snapshot is logged and counted (BackupFailures) but does
 * not block the removal: the instance is leaving either way, and refusing would only retain it.
 */
export async function snapshotBeforeRemoval(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
  memberId: string,
): Promise<void> {
  if (!ctx.store || !ctx.config.backup?.snapshotBeforeRemoval) return;
  if (ctx.config.backup.incrementalBackupSeconds !== undefined) {
    let d: PreRemovalDecision;
    try {
      d = await preRemovalDecision(ctx, obs);
    } catch (err) {
      d = { kind: 'take', reason: `the log's state could not be read: ${errorMessage(err)}` };
    }
    log.info('decision', {
      decision: d.kind === 'skip' ? 'skip-pre-removal-snapshot' : 'pre-removal-snapshot',
      memberId,
      ...(d.lagSeconds !== undefined && { logLagSeconds: d.lagSeconds }),
      reason: d.reason,
    });
    if (d.kind === 'skip') return;
  }
  try {
    await takeSnapshot(ctx, log, `before removal of member ${memberId}`, obs);
  } catch (err) {
    log.error('snapshot before removal failed: removing anyway', { memberId, error: errorMessage(err) });
    log.metric(MetricName.BACKUP_FAILURES, 1, ctx.config.groupName, { memberId });
  }
}
