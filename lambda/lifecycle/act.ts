/* Actions shared by the terminate and reconcile functions: removal under the join lock, lifecycle completion, heartbeats. */
import { isNoActiveLifecycleAction } from '../adapters/aws';
import { Backoff } from '../adapters/backoff';
import { isMemberNotFound, JOIN_LOCK_KEY } from '../adapters/etcd';
import type { LifecycleContext } from './context';
import type { LifecycleAction } from './events';
import { handOffBeforeRemoval } from './handoff';
import { errorMessage, Logger } from './log';
import { actionEndpoints, observe, Observation } from './observe';

export { JOIN_LOCK_KEY };

export type RemovalOutcome =
  /** The member was removed by this call. */
  | 'removed'
  /** The member was gone already when the removal was sent ("member not found"). */
  | 'gone'
  /** The fresh plan under the lock no longer asks for this removal (the cluster changed): nothing removed. */
  | 'changed';

/**
 * Takes the join lock, observes again, and removes `memberId` only if `confirm` says the fresh observation
 * still calls for exactly this removal. At most one membership change per call. When the member leads,
 * leadership is handed to the most caught-up healthy voter first (lifecycle/handoff.ts; never blocks).
 */
export async function removeUnderLock(
  ctx: LifecycleContext,
  log: Logger,
  lockEndpoints: readonly string[],
  memberId: string,
  confirm: (obs: Observation) => boolean,
  extraIps: readonly string[] = [],
): Promise<RemovalOutcome> {
  return ctx.etcd.withLock(
    lockEndpoints,
    JOIN_LOCK_KEY,
    ctx.lockTimeoutMs,
    async () => {
      const fresh = await observe(ctx, extraIps);
      if (!fresh.members || !confirm(fresh)) return 'changed';
      await handOffBeforeRemoval(ctx, log, fresh, memberId);
      try {
        await ctx.etcd.remove(actionEndpoints(fresh, memberId), memberId);
      } catch (err) {
        if (isMemberNotFound(err)) {
          log.info('member already removed', { memberId });
          return 'gone';
        }
        throw err;
      }
      return 'removed';
    },
    ctx.sleep,
  );
}

/** What one removal attempt needs (removeOrBackOff). */
export interface RemovalAttempt {
  readonly memberId: string;
  /** Where the join lock is taken. */
  readonly endpoints: readonly string[];
  /** Whether the fresh observation under the lock still calls for this removal. */
  readonly confirm: (obs: Observation) => boolean;
  readonly backoff: Backoff;
  readonly round: number;
  /** Private IPs of instances the group no longer lists that the fresh observation must include. */
  readonly extraIps?: readonly string[];
}

/**
 * One removal attempt of the terminate and reconcile loops: removeUnderLock; a failure is logged and waited
 * out with the back-off (`{ failed }`: the caller observes again), a changed cluster is logged (plan again).
 */
export async function removeOrBackOff(
  ctx: LifecycleContext,
  log: Logger,
  attempt: RemovalAttempt,
): Promise<RemovalOutcome | { readonly failed: string }> {
  const { memberId, endpoints, confirm, backoff, round, extraIps = [] } = attempt;
  let outcome: RemovalOutcome;
  try {
    outcome = await removeUnderLock(ctx, log, endpoints, memberId, confirm, extraIps);
  } catch (err) {
    const delayMs = backoff.next();
    log.warn('removal failed: observing again after a back-off', {
      memberId,
      error: errorMessage(err),
      round,
      delayMs,
    });
    await ctx.sleep(delayMs);
    return { failed: errorMessage(err) };
  }
  if (outcome === 'changed') {
    log.info('the cluster changed before the removal: planning again', { memberId, round });
  }
  return outcome;
}

/**
 * CompleteLifecycleAction. "No active Lifecycle Action found" (a duplicate or late event, an action that
 * timed out, or one completed already) is logged and swallowed: the outcome the caller wanted is moot.
 */
export async function completeAction(
  ctx: LifecycleContext,
  log: Logger,
  action: LifecycleAction,
  result: 'CONTINUE' | 'ABANDON',
): Promise<'completed' | 'no-active-action'> {
  try {
    await ctx.fleet.completeLifecycleAction(
      action.groupName,
      action.hookName,
      action.instanceId,
      result,
      action.token,
    );
  } catch (err) {
    if (isNoActiveLifecycleAction(err)) {
      log.info(
        'no active lifecycle action (completed already, timed out, or a duplicate event): nothing to complete',
        {
          result,
          error: errorMessage(err),
        },
      );
      return 'no-active-action';
    }
    throw err;
  }
  log.info('lifecycle action completed', { result });
  return 'completed';
}

/** Records a lifecycle heartbeat every `ctx.heartbeatIntervalMs` until stopped. Errors are logged, never thrown. */
export function startHeartbeats(
  ctx: LifecycleContext,
  log: Logger,
  action: LifecycleAction,
): { stop(): void } {
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    ctx.fleet.heartbeat(action.groupName, action.hookName, action.instanceId, action.token).then(
      () => log.info('lifecycle heartbeat recorded'),
      (err: unknown) =>
        isNoActiveLifecycleAction(err)
          ? log.info('lifecycle heartbeat: no active lifecycle action', { error: errorMessage(err) })
          : log.warn('lifecycle heartbeat failed', { error: errorMessage(err) }),
    );
  }, ctx.heartbeatIntervalMs);
  timer.unref?.();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * The back-off between removal attempts of one invocation: retryDelayMs doubling per failure, capped at 16x
 * (the project's one back-off, lambda/adapters/backoff.ts); bounded by the invocation's maxRounds.
 */
export function removalBackoff(ctx: LifecycleContext): Backoff {
  return new Backoff({ firstMs: ctx.retryDelayMs, capMs: ctx.retryDelayMs * 16 });
}
