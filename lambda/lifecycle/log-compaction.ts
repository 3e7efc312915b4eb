/*
 * Compaction while the incremental backup log is on (issue 16): etcd's own auto-compaction is off then (the
 * construct writes none to the agents), and every reconcile compacts to what planLogCompaction
 * (lambda/core/incremental.ts) allows: the user's retention, never past the newest revision the log shipped,
 * unless the log has been behind for too long (its shipper broken: then the cluster's space wins, and the
 * shipper closes the gap with a full snapshot when it is back). One `decision` line `log-compaction` per run.
 */
import { isHealthyStartedVoter, planLogCompaction } from '../core';
import type { LogRetention } from '../core/log-compaction';
import type { LifecycleContext } from './context';
import { errorMessage, Logger } from './log';
import type { Observation } from './observe';

/** How long the log may be behind before compaction stops waiting for it: 6 chunk intervals, at least 5 min. */
export function maxLogLagSeconds(incrementalBackupSeconds: number): number {
  return Math.max(300, 6 * incrementalBackupSeconds);
}

export async function compactBehindLog(ctx: LifecycleContext, log: Logger, obs: Observation): Promise<void> {
  const backup = ctx.config.backup;
  const setting = backup?.logCompaction;
  if (!backup?.incrementalBackupSeconds || !setting || !ctx.chunks || !obs.members || !obs.clusterId) return;
  const voters = obs.members.filter((m) => isHealthyStartedVoter(m, obs.health) && m.clientURLs.length > 0);
  if (voters.length === 0) return;
  try {
    const status = await ctx.maintenance.statusOf(voters);
    const currentRevision = Math.max(0, ...Object.values(status).map((s) => s?.revision ?? 0));
    if (currentRevision === 0) return;
    const retention: LogRetention =
      setting.kind === 'periodic'
        ? { kind: 'periodic', seconds: setting.keep }
        : { kind: 'revisions', count: setting.keep };
    const plan = planLogCompaction({
      retention,
      chunks: await ctx.chunks.list(obs.clusterId),
      clusterId: obs.clusterId,
      currentRevision,
      now: ctx.now(),
      maxLagSeconds: maxLogLagSeconds(backup.incrementalBackupSeconds),
    });
    if (plan.kind === 'none') {
      log.info('decision', {
        decision: 'log-compaction',
        outcome: 'none',
        currentRevision,
        reason: plan.reason,
      });
      return;
    }
    try {
      await ctx.maintenance.compact(
        voters.map((m) => m.clientURLs[0]),
        plan.revision,
      );
    } catch (err) {
      if (/required revision has been compacted/.test(errorMessage(err))) {
        log.info('decision', {
          decision: 'log-compaction',
          outcome: 'none',
          revision: plan.revision,
          reason: `compacted to ${plan.revision} or later already`,
        });
        return;
      }
      throw err;
    }
    (plan.pastLog ? log.warn : log.info).call(log, 'decision', {
      decision: 'log-compaction',
      outcome: 'compacted',
      revision: plan.revision,
      currentRevision,
      pastLog: plan.pastLog,
      reason: plan.reason,
    });
  } catch (err) {
    log.warn('log compaction failed: the next reconcile tries again', { error: errorMessage(err) });
  }
}

/**
 * The NOSPACE recovery's compaction floor while the incremental log is on (runMaintenance's
 * `compactionFloor`): the newest shipped revision; none (compact everything) when the log has shipped
 * nothing for this cluster or its newest chunk is older than maxLogLagSeconds (a broken shipper must not
 * keep the cluster read-only). Undefined without the log.
 */
export function shippedFloor(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
): (() => Promise<number | undefined>) | undefined {
  const seconds = ctx.config.backup?.incrementalBackupSeconds;
  const chunks = ctx.chunks;
  const clusterId = obs.clusterId;
  if (!seconds || !chunks || !clusterId) return undefined;
  return async () => {
    const own = await chunks.list(clusterId);
    const newest = own.reduce<(typeof own)[number] | undefined>(
      (a, c) => (!a || c.last > a.last ? c : a),
      undefined,
    );
    const ageSeconds = newest ? (ctx.now() - newest.time) / 1000 : Infinity;
    const floor = ageSeconds <= maxLogLagSeconds(seconds) ? newest?.last : undefined;
    log.info('decision', {
      decision: 'compaction-floor',
      floor: floor ?? null,
      reason:
        floor !== undefined
          ? `the incremental log has shipped up to revision ${floor}: NOSPACE compaction stops there`
          : `the incremental log ${newest ? `is ${Math.round(ageSeconds)} s behind` : 'has shipped nothing'}: NOSPACE compaction does not wait for it`,
    });
    return floor;
  };
}
