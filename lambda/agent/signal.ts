/*
 * The rollout gate (issue 15): CloudFormation waits, during the stack's creation and every rolling update of
 * the group (WaitOnResourceSignals), for one signal per new instance before it replaces the next one. The
 * agent sends it exactly when this instance's launch ends: SUCCESS once its first promotion made it a healthy
 * voter and the launch lifecycle action completed CONTINUE; FAILURE when it refused to join and completed
 * the launch with ABANDON. A restart of an instance that launched long ago completes no launch action and so
 * sends nothing (its signal would count for a replacement that never became a voter).
 */
import type { AgentConfig } from './config';
import type { AgentDeps } from './deps';

export type RolloutStatus = 'SUCCESS' | 'FAILURE';

/**
 * Sends the rollout signal when the config names a target; one 'rollout signal' line with the outcome and
 * its reason. Never throws: outside a creation or rolling update CloudFormation refuses every signal (a
 * replacement after a failure, a scale-out), and that refusal changes nothing for the instance.
 */
export async function signalRollout(
  cfg: AgentConfig,
  deps: AgentDeps,
  instanceId: string,
  status: RolloutStatus,
  reason: string,
): Promise<boolean> {
  const target = cfg.rolloutSignal;
  if (!target || !deps.signalRollout) return false;
  const fields = { status, stack: target.stackName, resource: target.logicalResourceId, instanceId, reason };
  try {
    await deps.signalRollout(instanceId, status);
    deps.log('rollout signal', { ...fields, sent: true });
    return true;
  } catch (err) {
    deps.log('rollout signal', {
      ...fields,
      sent: false,
      error: (err as Error).message,
      note: 'refused outside a creation or rolling update (no rollout waits for this instance); nothing else changes',
    });
    return false;
  }
}
