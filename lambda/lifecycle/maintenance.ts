/*
 * The maintenance runs of the lifecycle Lambda ({"kind":"maintenance"}, on the maintenance schedule):
 * observe, ask planMaintenance (lambda/core/maintenance.ts) for the next step, execute it, observe again,
 * until the plan says idle, wait (before anything was done) or corrupt, or the time budget is spent. Every
 * decision is one log line with its reason, every executed step a metric (Defragmentations, LeaderMoves,
 * NospaceCompactions, NospaceDisarms).
 *
 * The join/removal lock (JOIN_LOCK_KEY) is shared: the run holds it while it works, so no member joins or
 * leaves meanwhile. Under NOSPACE the lock cannot be taken (etcd refuses the lease grant, as it refuses
 * every write): then the run goes ahead only while nobody holds it; nobody can take it either until the
 * alarm is disarmed, so no membership change starts meanwhile.
 *
 * Compaction: etcd's auto-compaction does the routine work (the agent's ETCD_AUTO_COMPACTION_*); the run
 * compacts only to recover from NOSPACE, up to the current revision, or with the incremental backup log up to
 * its newest shipped revision (log-compaction.ts shippedFloor; the routine compaction is then the reconcile's,
 * compactBehindLog).
 */
import {
  ActiveAlarm,
  MaintenanceProgress,
  MaintenanceStep,
  MaintenanceThresholds,
  planMaintenance,
} from '../core/maintenance';
import type { Member } from '../core/types';
import { JOIN_LOCK_KEY, LockNotTakenError } from '../adapters/etcd';
import type { EtcdPort, LifecycleContext, MaintenancePort } from './context';
import { errorMessage, Logger, MetricName } from './log';
import { shippedFloor } from './log-compaction';
import { actionEndpoints, observe } from './observe';
import type { HandlerResult } from './result';

/** The join lock's lease while a maintenance run holds it (longer than one member's defragmentation, 120 s). */
const MAINTENANCE_LOCK_TTL_SECONDS = 150;

/** A member is caught up when its raft index is at most this many entries behind the leader's. */
const MAX_LAG_ENTRIES = 1000;

/** The maintenance event: one run over the group's members, when maintenance is on. */
export async function onMaintenance(ctx: LifecycleContext, eventId?: string): Promise<HandlerResult> {
  const log = ctx.log.child({ event: 'maintenance', ...(eventId ? { eventId } : {}) });
  const result = (
    ok: boolean,
    outcome: HandlerResult['outcome'],
    reason: string,
    executed: readonly MaintenanceStep[] = [],
  ): HandlerResult => ({
    ok,
    kind: 'maintenance',
    outcome,
    reason,
    removed: [],
    maintenance: executed.map((s) => ({
      kind: s.kind,
      ...('memberId' in s ? { memberId: s.memberId } : s.kind === 'move-leader' ? { memberId: s.from } : {}),
    })),
  });
  const settings = ctx.config.maintenance;
  if (!settings) {
    const reason = 'maintenance is off (MAINTENANCE=false): no defragmentation, no NOSPACE recovery';
    log.info('maintenance: off', { reason });
    return result(true, 'ignored', reason);
  }
  const obs = await observe(ctx);
  if (!obs.members) {
    const reason = `etcd unreachable at ${obs.probeEndpoints.join(', ') || '(no instance has an IP)'}: no maintenance`;
    log.warn('maintenance: wait', { step: 'wait', reason });
    return result(false, 'waiting', reason);
  }
  const run = await runMaintenance({
    etcd: ctx.etcd,
    maintenance: ctx.maintenance,
    log,
    groupName: ctx.config.groupName,
    endpoints: actionEndpoints(obs),
    desiredCapacity: obs.group.desiredCapacity,
    thresholds: {
      reclaimRatio: settings.reclaimPercent / 100,
      reclaimMinBytes: settings.reclaimMinBytes,
      maxLagEntries: MAX_LAG_ENTRIES,
    },
    budgetMs: settings.budgetSeconds * 1000,
    lockTimeoutMs: Math.min(ctx.lockTimeoutMs, 10_000),
    sleep: ctx.sleep,
    compactionFloor: shippedFloor(ctx, log, obs),
  });
  const final = run.final;
  if (!final) return result(true, 'maintained', 'time budget spent: the next run goes on', run.executed);
  if (final.kind === 'corrupt') return result(false, 'corrupt', final.reason, run.executed);
  if (final.kind === 'wait') return result(true, 'waiting', final.reason, run.executed);
  return result(true, 'maintained', final.reason, run.executed);
}

export interface MaintenanceRunOptions {
  readonly etcd: Pick<EtcdPort, 'memberList' | 'healthOf' | 'withLock' | 'isLocked'>;
  readonly maintenance: MaintenancePort;
  readonly log: Logger;
  /** For the metrics of the executed steps. */
  readonly groupName: string;
  /** Client URLs to reach the cluster through. */
  readonly endpoints: readonly string[];
  readonly desiredCapacity: number;
  readonly thresholds: MaintenanceThresholds;
  /** The run stops starting steps after this long. */
  readonly budgetMs: number;
  /** Pause between observations while a member catches up after a step. @default 1000 */
  readonly pollMs?: number;
  /** How long to wait for the join lock. @default 10000 */
  readonly lockTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The newest revision that may be compacted (an incremental backup's shipped revision); absent: the current
   * revision. The seam for the backups issue: compaction never discards revisions not shipped.
   */
  readonly compactionFloor?: () => Promise<number | undefined>;
}

export interface MaintenanceRunResult {
  /** The steps executed, in order. */
  readonly executed: readonly MaintenanceStep[];
  /** The step that ended the run (idle, wait, corrupt), or undefined when the budget ran out. */
  readonly final?: MaintenanceStep;
}

export async function runMaintenance(opts: MaintenanceRunOptions): Promise<MaintenanceRunResult> {
  const { etcd, maintenance, log, endpoints } = opts;
  const alarms = await maintenance.alarms(endpoints).catch((err: Error) => {
    log.warn('maintenance: no alarm list, skipped', { reason: err.message });
    return undefined;
  });
  if (!alarms) return { executed: [] };
  if (alarms.some((a) => a.alarm === 'CORRUPT')) {
    // The plan's first rule, before anything else is observed (a corrupt cluster refuses the lock's writes).
    const final = planMaintenance({
      members: [],
      health: {},
      status: {},
      alarms,
      desiredCapacity: opts.desiredCapacity,
      changeInProgress: false,
      thresholds: opts.thresholds,
      progress: { compacted: false, defragmented: [] },
    });
    log.error('maintenance: corrupt', { step: final.kind, reason: final.reason });
    return { executed: [], final };
  }
  // A first look without the lock: a run with nothing to do (the usual case) never takes it, so joins and
  // removals do not queue behind idle runs. The steps themselves re-observe and re-plan under the lock.
  const first = await observeAndPlan(opts, { compacted: false, defragmented: [] });
  if (first.step.kind === 'idle' || first.step.kind === 'wait' || first.step.kind === 'corrupt') {
    const level = first.step.kind === 'corrupt' ? 'ERROR' : 'INFO';
    log.log(level, `maintenance: ${first.step.kind}`, {
      step: first.step.kind,
      reason: first.step.reason,
      done: 0,
    });
    return { executed: [], final: first.step };
  }
  if (alarms.some((a) => a.alarm === 'NOSPACE')) {
    const held = await etcd.isLocked(endpoints, JOIN_LOCK_KEY).catch(() => true);
    if (held) {
      const final: MaintenanceStep = {
        kind: 'wait',
        reason: `NOSPACE alarm active and the join lock ${JOIN_LOCK_KEY} is held: a membership change is under way`,
      };
      log.info('maintenance: wait', { step: final.kind, reason: final.reason });
      return { executed: [], final };
    }
    return steps(opts);
  }
  try {
    // A defragmentation blocks its member for the whole copy: should the lock's keep-alive go through that
    // member, a 15 s lease could lapse mid-run and let a join in. The lease outlives the longest defragment.
    return await etcd.withLock(
      endpoints,
      JOIN_LOCK_KEY,
      opts.lockTimeoutMs ?? 10_000,
      () => steps(opts),
      opts.sleep,
      MAINTENANCE_LOCK_TTL_SECONDS,
    );
  } catch (err) {
    if (!(err instanceof LockNotTakenError)) throw err;
    const final: MaintenanceStep = {
      kind: 'wait',
      reason: `the join lock is held or etcd did not answer: ${err.message}`,
    };
    log.info('maintenance: wait', { step: final.kind, reason: final.reason });
    return { executed: [], final };
  }
}

/** One observation (members, health, status, alarms) and the plan's next step for it. */
async function observeAndPlan(
  opts: MaintenanceRunOptions,
  progress: MaintenanceProgress,
): Promise<{ members: readonly Member[]; alarms: readonly ActiveAlarm[]; step: MaintenanceStep }> {
  const { etcd, maintenance, endpoints } = opts;
  const listed = await etcd.memberList(endpoints);
  const members: readonly Member[] = listed?.members ?? [];
  const health = await etcd.healthOf(members);
  const [status, alarms] = await Promise.all([
    // Only the healthy ones: a dead member would hold the run for a whole call deadline; the plan waits anyway.
    maintenance.statusOf(members.filter((m) => health[m.id] === true)),
    maintenance.alarms(endpoints).catch(() => []),
  ]);
  const step = planMaintenance({
    members,
    health,
    status,
    alarms,
    desiredCapacity: opts.desiredCapacity,
    changeInProgress: false, // under the join lock, or nobody can take it (NOSPACE); the first look re-plans there
    thresholds: opts.thresholds,
    progress,
  });
  return { members, alarms, step };
}

async function steps(opts: MaintenanceRunOptions): Promise<MaintenanceRunResult> {
  const { maintenance, log, endpoints } = opts;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + opts.budgetMs;
  const executed: MaintenanceStep[] = [];
  let progress: MaintenanceProgress = { compacted: false, defragmented: [] };
  while (Date.now() < deadline) {
    const { members, alarms, step } = await observeAndPlan(opts, progress);
    const fields = { step: step.kind, reason: step.reason, done: executed.length };
    if (step.kind === 'idle' || step.kind === 'corrupt') {
      log.log(step.kind === 'corrupt' ? 'ERROR' : 'INFO', `maintenance: ${step.kind}`, fields);
      return { executed, final: step };
    }
    if (step.kind === 'wait') {
      // Before any step: not now, the next scheduled run asks again. After a step: the member catches up.
      log.info('maintenance: wait', fields);
      if (executed.length === 0) return { executed, final: step };
      await sleep(opts.pollMs ?? 1000);
      continue;
    }
    log.info(`maintenance: ${step.kind}`, {
      ...fields,
      ...('memberId' in step ? { memberId: step.memberId } : {}),
      ...(step.kind === 'move-leader' ? { from: step.from, to: step.to } : {}),
    });
    const byId = (id: string) => members.find((m) => m.id === id)!;
    if (step.kind === 'compact') {
      const floor = await opts.compactionFloor?.();
      try {
        const revision = await maintenance.compact(endpoints, floor);
        log.info('maintenance: compacted', { revision, ...(floor !== undefined && { floor }) });
      } catch (err) {
        // Compacted past that revision already (auto-compaction got there first): nothing left to compact.
        if (!/compacted/.test(errorMessage(err))) throw err;
        log.info('maintenance: compacted already', { reason: errorMessage(err) });
      }
      log.metric(MetricName.NOSPACE_COMPACTIONS, 1, opts.groupName);
      progress = { ...progress, compacted: true };
    } else if (step.kind === 'defragment') {
      const started = Date.now();
      await maintenance.defragment(byId(step.memberId));
      log.info('maintenance: defragmented', { memberId: step.memberId, ms: Date.now() - started });
      log.metric(MetricName.DEFRAGMENTATIONS, 1, opts.groupName, { memberId: step.memberId });
      progress = { ...progress, defragmented: [...progress.defragmented, step.memberId] };
    } else if (step.kind === 'move-leader') {
      await maintenance.moveLeader(byId(step.from), step.to);
      log.metric(MetricName.LEADER_MOVES, 1, opts.groupName, { from: step.from, to: step.to });
    } else {
      const ids = alarms.filter((a) => a.alarm === 'NOSPACE').map((a) => a.memberId);
      await maintenance.disarmNospace(endpoints, ids);
      log.metric(MetricName.NOSPACE_DISARMS, 1, opts.groupName, { memberIds: ids });
    }
    executed.push(step);
  }
  log.warn('maintenance: time budget spent', { done: executed.length, budgetMs: opts.budgetMs });
  return { executed };
}
