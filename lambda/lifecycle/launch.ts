/*
 * EC2 Instance-launch Lifecycle Action: recorded only. The join agent on the instance completes the action
 * with CONTINUE once its member is a started, healthy voter. If the agent never does (the instance never
 * booted, etcd never started, the join was refused), the hook times out with its default result ABANDON and
 * the group terminates and replaces the instance. ABANDON is the right default: an instance that never
 * became a healthy voter must not count as InService capacity (the group would believe it has N members
 * while etcd has fewer), and its replacement gets a fresh try; whatever it left in the member list (an
 * unstarted entry or learner) is removed by its terminate action or by the scheduled reconcile.
 *
 * Warm pools: Origin WarmPool → Destination AutoScalingGroup is an instance entering service from the warm
 * pool, i.e. a launch (its agent joins and completes the action). Destination WarmPool is an instance being
 * prepared for the warm pool: it will be stopped, so it must not become a member; that is the agent's and
 * the construct's business, the handler only records it.
 */
import type { LifecycleContext } from './context';
import type { LifecycleAction } from './events';
import type { HandlerResult } from './result';

export async function onLaunch(ctx: LifecycleContext, action: LifecycleAction): Promise<HandlerResult> {
  const reason =
    action.destination === 'WarmPool'
      ? 'instance launches into the warm pool: recorded only, no member expected'
      : action.origin === 'WarmPool'
        ? 'instance enters service from the warm pool: a launch; its agent joins and completes the action'
        : 'launch: the instance agent joins and completes the action (timeout → ABANDON → replaced)';
  ctx.log.info('decision', {
    event: 'launch',
    decision: 'record-only',
    instanceId: action.instanceId,
    hookName: action.hookName,
    ...(action.eventId ? { eventId: action.eventId } : {}),
    ...(action.origin ? { origin: action.origin } : {}),
    ...(action.destination ? { destination: action.destination } : {}),
    reason,
  });
  return { ok: true, kind: 'launch', outcome: 'logged', reason, removed: [] };
}
