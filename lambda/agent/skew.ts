/*
 * The version-skew gate of the join (issue 15): before this instance adds itself, the running members'
 * etcd versions (Maintenance.Status of each reachable started member) and its own (cfg.etcdVersion) must
 * make a safe step (checkJoinSkew, lambda/core/versions.ts). An unsafe one abandons the launch: the group
 * terminates the instance, which stops a rollout instead of letting it mix versions etcd cannot run together.
 */
import { isStarted } from '../core';
import type { Member } from '../core/types';
import { checkJoinSkew } from '../core/versions';
import { AgentConfig } from './config';
import { AgentDeps, retrying } from './deps';

export type SkewGate =
  /** Go ahead: the step is safe, or (no etcdVersion) no check is possible. */
  | { readonly kind: 'ok'; readonly reason: string }
  /** No running member reported its version: observe again. */
  | { readonly kind: 'wait'; readonly reason: string }
  /** Unsafe: never add this member. */
  | { readonly kind: 'refuse'; readonly reason: string };

/** Per join run: the "no check possible" line is said once. */
export interface SkewState {
  uncheckedLogged: boolean;
}

/** The gate before an add: one 'version skew check' line per decision, with its reason. */
export async function skewGate(
  cfg: AgentConfig,
  deps: AgentDeps,
  members: readonly Member[],
  state: SkewState,
): Promise<SkewGate> {
  if (!cfg.etcdVersion) {
    const reason =
      "this member's etcd version is unknown (no etcdVersion in the agent config): no version-skew check is possible, joining unchecked";
    if (!state.uncheckedLogged) deps.log('version skew check', { decision: 'unchecked', reason });
    state.uncheckedLogged = true;
    return { kind: 'ok', reason };
  }
  const running = members.filter((m) => isStarted(m));
  const versions = await deps.versionsOf(running);
  const read = running.map((m) => versions[m.id]).filter((v): v is string => v !== undefined);
  const fields = { own: cfg.etcdVersion, running: versions };
  if (read.length === 0) {
    const reason = `none of the ${running.length} running members reported its etcd version: observing again`;
    deps.log('version skew check', { decision: 'wait', ...fields, reason });
    return { kind: 'wait', reason };
  }
  const verdict = checkJoinSkew(cfg.etcdVersion, read);
  const unread = running.length - read.length;
  const reason =
    verdict.reason + (unread > 0 ? ` (${unread} running member(s) did not answer: not counted)` : '');
  deps.log('version skew check', { decision: verdict.kind, ...fields, reason });
  return { kind: verdict.kind, reason };
}

/**
 * Completes the launch lifecycle action with ABANDON (the group terminates the instance; a rollout stops).
 * Retried; a failure (no pending action, no hook) is logged: the agent exits non-zero either way.
 * True when this call completed the launch (then the caller signals the rollout FAILURE).
 */
export async function abandonLaunch(
  cfg: AgentConfig,
  deps: AgentDeps,
  groupName: string,
  instanceId: string,
  reason: string,
): Promise<boolean> {
  if (!cfg.launchHookName) {
    deps.log('no launch hook configured: nothing to abandon', { reason });
    return false;
  }
  try {
    await retrying(
      'CompleteLifecycleAction',
      deps,
      () => deps.completeLifecycleAction(groupName, cfg.launchHookName, instanceId, 'ABANDON'),
      3,
    );
    deps.log('launch lifecycle action completed', { result: 'ABANDON', reason });
    return true;
  } catch (err) {
    deps.log('launch lifecycle action not completed', {
      result: 'ABANDON',
      error: (err as Error).message,
      reason,
    });
    return false;
  }
}
