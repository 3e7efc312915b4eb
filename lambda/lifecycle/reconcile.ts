/*
 * Scheduled reconcile: lifecycle events are best-effort, so members whose instance vanished without a
 * terminate action, and unstarted members past the grace period, are removed here. Every decision is
 * planReconcile's (lambda/core). This module observes, keeps the unstarted members' first-seen times in etcd,
 * executes the first `remove` step under the join lock (re-observing and re-planning under the lock), then
 * observes and plans again: one membership change per round, bounded rounds per invocation. `report` steps
 * are logged as warnings; a started learner that is not promoted also counts in the StuckLearners metric.
 */
import { isStarted, planReconcile, planRetainedTerminations } from '../core';
import type { RetainedStep } from '../core';
import type { Backoff } from '../adapters/backoff';
import type { Member, ReconcileStep } from '../core/types';
import { removalBackoff, removeOrBackOff, removeUnderLock } from './act';
import { reportDrillAge, snapshotBeforeRemoval } from './backup';
import { reportCertificateExpiry } from './certs';
import type { LifecycleContext } from './context';
import { publishGauges } from './gauges';
import { compactBehindLog } from './log-compaction';
import { errorMessage, Logger, MetricName } from './log';
import { actionEndpoints, observe, Observation } from './observe';
import type { HandlerResult } from './result';
import { onRestore } from './restore';

export async function onReconcile(ctx: LifecycleContext, eventId?: string): Promise<HandlerResult> {
  const { config } = ctx;
  const log = ctx.log.child({ event: 'reconcile', ...(eventId ? { eventId } : {}) });
  const removed: string[] = [];
  const result = (ok: boolean, reason: string): HandlerResult => ({
    ok,
    kind: 'reconcile',
    outcome: ok ? 'reconciled' : 'not-reconciled',
    reason,
    removed,
  });

  await reportCertificateExpiry(ctx, log);
  /** Retained instances terminated by this invocation (the group may list them a while longer). */
  const terminated = new Set<string>();
  const backoff = removalBackoff(ctx);
  let lastError = '';
  for (let round = 1; round <= ctx.maxRounds; round++) {
    const obs = await observe(ctx);
    if (round === 1)
      await publishGauges(ctx, log, obs).catch((err) =>
        log.warn('gauges failed', { error: errorMessage(err) }),
      );
    if (round === 1 && ctx.store) await restoreCheck(ctx, log, obs);
    if (round === 1) await reportDrillAge(ctx, log);
    if (round === 1) await compactBehindLog(ctx, log, obs);
    if (!obs.members) {
      const reason =
        obs.probeEndpoints.length === 0
          ? 'no instance of the group has an IP: nothing to reconcile'
          : `etcd unreachable at ${obs.probeEndpoints.join(', ')}: nothing reconciled`;
      if (obs.probeEndpoints.length === 0) log.warn('decision', { decision: 'no-endpoints', reason });
      else log.error('decision', { decision: 'etcd-unreachable', reason });
      return result(obs.probeEndpoints.length === 0, reason);
    }
    const ages = await unstartedAges(ctx, log, obs);
    const plan = (o: Observation): ReconcileStep[] =>
      planReconcile({
        members: o.members ?? [],
        health: o.health,
        instances: o.group.instances,
        strategy: config.strategy,
        peerPort: config.peerPort,
        scheme: config.scheme,
        unstartedAgeSeconds: ages(),
        unstartedGraceSeconds: config.unstartedGraceSeconds,
      });
    const steps = plan(obs);
    const next = steps.find((s): s is Extract<ReconcileStep, { kind: 'remove' }> => s.kind === 'remove');
    if (!next) {
      // The membership matches the group: now the retained terminations (FAILURE-SCENARIOS 15).
      const retained = await finishRetained(ctx, log, obs, { removed, terminated, backoff, round });
      if (retained === 'acted') {
        lastError = '';
        continue;
      }
      if (!Array.isArray(retained)) {
        lastError = `finishing a retained termination failed: ${retained.failed}`;
        continue;
      }
      report(ctx, log, obs.members, steps);
      return result(true, [...steps.map((s) => s.reason), ...retained].join('; '));
    }
    log.info('decision', { decision: 'remove', round, memberId: next.memberId, reason: next.reason });
    await snapshotBeforeRemoval(ctx, log, obs, next.memberId);
    const memberId = next.memberId;
    const endpoints = actionEndpoints(obs, memberId);
    const confirm = (fresh: Observation) =>
      plan(fresh).some((s) => s.kind === 'remove' && s.memberId === memberId);
    const outcome = await removeOrBackOff(ctx, log, { memberId, endpoints, confirm, backoff, round });
    if (typeof outcome === 'object') {
      lastError = `removal of member ${next.memberId} failed: ${outcome.failed}`;
      continue;
    }
    if (outcome === 'changed') continue;
    lastError = '';
    if (outcome === 'removed') {
      removed.push(next.memberId);
      log.info('member removed', { memberId: next.memberId, reason: next.reason });
      log.metric(MetricName.RECONCILE_REMOVALS, 1, config.groupName, { memberId: next.memberId });
    }
    try {
      await ctx.unstarted.forget(actionEndpoints(obs, next.memberId), next.memberId);
    } catch (err) {
      log.warn('could not delete the unstarted record of a removed member', {
        memberId: next.memberId,
        error: errorMessage(err),
      });
    }
  }
  const reason =
    `stopped after ${ctx.maxRounds} rounds (${removed.length} removals` +
    `${lastError ? `; last error: ${lastError}` : ''}): the next run goes on`;
  log.warn('decision', { decision: 'rounds-exhausted', reason });
  return result(lastError === '', reason);
}

/**
 * Finishes retained terminations (planRetainedTerminations, lambda/core/termination.ts): a retained instance
 * without a member is terminated; one whose member can be removed safely now has it removed under the join
 * lock (re-planned there) and is then terminated. One membership change per call. Each finished one is a
 * log line and a RetainedTerminationsFinished metric. Returns 'acted' when it changed something (the caller
 * observes again), `{ failed }` when an action failed (a transient refusal such as etcd's "unhealthy cluster"
 * right after a membership change: waited out with the round's back-off, the caller observes again), else
 * the reasons of the instances kept.
 */
async function finishRetained(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
  state: {
    readonly removed: string[];
    /** Retained instances terminated by this invocation (the group may list them a while longer). */
    readonly terminated: Set<string>;
    readonly backoff: Backoff;
    readonly round: number;
  },
): Promise<'acted' | { readonly failed: string } | string[]> {
  const { config } = ctx;
  const { removed, terminated } = state;
  const input = (o: Observation) =>
    o.members
      ? {
          members: o.members,
          health: o.health,
          instances: o.group.instances,
          peerPort: config.peerPort,
          scheme: config.scheme,
          desiredCapacity: o.group.desiredCapacity,
        }
      : null;
  const steps = planRetainedTerminations(input(obs), obs.group.instances).filter(
    (s) => !terminated.has(s.instanceId),
  );
  if (steps.length === 0) return [];
  const finished = (s: RetainedStep, memberId?: string) => {
    log.warn('retained termination finished', {
      instanceId: s.instanceId,
      ...(memberId ? { memberId } : {}),
      reason: s.reason,
    });
    log.metric(MetricName.RETAINED_TERMINATIONS_FINISHED, 1, config.groupName, {
      instanceId: s.instanceId,
    });
  };
  try {
    const bare = steps.filter((s) => s.kind === 'terminate');
    if (bare.length > 0) {
      for (const s of bare)
        log.info('decision', { decision: 'terminate-retained', instanceId: s.instanceId, reason: s.reason });
      await ctx.fleet.terminateInstances(bare.map((s) => s.instanceId));
      for (const s of bare) {
        terminated.add(s.instanceId);
        finished(s);
      }
      return 'acted';
    }
    const next = steps.find(
      (s): s is Extract<RetainedStep, { kind: 'remove-and-terminate' }> => s.kind === 'remove-and-terminate',
    );
    if (!next) {
      for (const s of steps)
        log.warn('decision', { decision: 'keep-retained', instanceId: s.instanceId, reason: s.reason });
      return steps.map((s) => s.reason);
    }
    log.info('decision', {
      decision: 'remove-retained',
      instanceId: next.instanceId,
      memberId: next.memberId,
      reason: next.reason,
    });
    await snapshotBeforeRemoval(ctx, log, obs, next.memberId);
    const outcome = await removeUnderLock(
      ctx,
      log,
      actionEndpoints(obs, next.memberId),
      next.memberId,
      (fresh) =>
        planRetainedTerminations(input(fresh), fresh.group.instances).some(
          (s) => s.kind === 'remove-and-terminate' && s.memberId === next.memberId,
        ),
    );
    if (outcome === 'changed') return 'acted';
    if (outcome === 'removed') removed.push(next.memberId);
    await ctx.fleet.terminateInstances([next.instanceId]);
    terminated.add(next.instanceId);
    finished(next, next.memberId);
    return 'acted';
  } catch (err) {
    const delayMs = state.backoff.next();
    log.warn('finishing a retained termination failed: observing again after a back-off', {
      error: errorMessage(err),
      round: state.round,
      delayMs,
    });
    await ctx.sleep(delayMs);
    return { failed: errorMessage(err) };
  }
}

function report(
  ctx: LifecycleContext,
  log: Logger,
  members: readonly Member[],
  steps: readonly ReconcileStep[],
): void {
  let stuck = 0;
  for (const s of steps) {
    if (s.kind === 'noop') {
      log.info('decision', { decision: 'noop', reason: s.reason });
      continue;
    }
    if (s.kind !== 'report') continue;
    const m = members.find((x) => x.id === s.memberId);
    const stuckLearner = m !== undefined && m.isLearner && isStarted(m);
    if (stuckLearner) stuck++;
    log.warn('decision', { decision: 'report', memberId: s.memberId, stuckLearner, reason: s.reason });
  }
  if (stuck > 0) log.metric(MetricName.STUCK_LEARNERS, stuck, ctx.config.groupName);
}

/**
 * Ages (seconds) of the unstarted members, from first-seen times kept in etcd: new unstarted members are
 * recorded now, records of members that started or are gone are deleted. If the store cannot be read or
 * written (no quorum, ...), every unstarted member counts as just seen: nothing is removed for its age.
 * Returns a function so the re-plan under the lock uses the clock at that time.
 */
async function unstartedAges(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
): Promise<() => Record<string, number>> {
  const members = obs.members ?? [];
  const unstartedIds = members.filter((m) => !isStarted(m)).map((m) => m.id);
  const endpoints = actionEndpoints(obs);
  const firstSeen: Record<string, number> = {};
  try {
    const stored = await ctx.unstarted.load(endpoints);
    const now = ctx.now();
    for (const id of unstartedIds) {
      if (Object.prototype.hasOwnProperty.call(stored, id)) {
        firstSeen[id] = stored[id];
      } else {
        await ctx.unstarted.markFirstSeen(endpoints, id, now);
        firstSeen[id] = now;
        log.info('unstarted member first seen', { memberId: id, firstSeen: now });
      }
    }
    for (const id of Object.keys(stored)) {
      if (!unstartedIds.includes(id)) await ctx.unstarted.forget(endpoints, id);
    }
  } catch (err) {
    log.warn('could not read or record the first-seen times of unstarted members: they count as just seen', {
      error: errorMessage(err),
    });
    const now = ctx.now();
    for (const id of unstartedIds) firstSeen[id] = now;
  }
  return () => {
    const now = ctx.now();
    return Object.fromEntries(
      Object.entries(firstSeen).map(([id, t]) => [id, Math.max(0, Math.floor((now - t) / 1000))]),
    );
  };
}

/**
 * Backups configured: a reconcile that finds no quorum asks the restore trigger (automatic policy: restores
 * once the loss held for RESTORE_AFTER_SECONDS; manual: logs what to do). With a quorum it clears the
 * quorum-lost record. Errors are logged: the reconcile goes on.
 */
async function restoreCheck(ctx: LifecycleContext, log: Logger, obs: Observation): Promise<void> {
  try {
    const r = await onRestore(ctx, false, undefined, obs);
    if (r.outcome === 'restore-started') log.warn('reconcile started a restore', { reason: r.reason });
  } catch (err) {
    log.error('restore check failed', { error: errorMessage(err) });
  }
}
