/*
 * The agent's promote phase (after etcd started): observe, plan (pure core), promote this learner once it is
 * in sync, then complete the launch lifecycle action.
 */
import { isNotInSync } from '../adapters/etcd';
import { planPromote } from '../core';
import { AgentConfig } from './config';
import { AgentDeps, AgentError, beat, resolveSelf, retrying } from './deps';
import { groupEndpoints, healthyVoterEndpoints } from './deps';
import { signalRollout } from './signal';

/** Promote attempts in a row while the learner is not yet in sync, before the agent observes again. */
const PROMOTE_RETRIES = 50;

/** After etcd started: promote this learner once it is in sync, then complete the launch lifecycle action. */
export async function runPromote(cfg: AgentConfig, deps: AgentDeps): Promise<{ memberId: string }> {
  const deadline = deps.now() + cfg.deadlineSeconds * 1000;
  const { self, groupName } = await resolveSelf(cfg, deps);
  let lastBeat = deps.now();
  // A constant poll, not a back-off: the learner is expected to catch up within seconds.
  const delay = Math.min(cfg.retryDelayMs, 250);
  let lastWait = '';
  for (;;) {
    if (deps.now() > deadline)
      throw new AgentError(`deadline of ${cfg.deadlineSeconds} s passed before promotion: ${lastWait}`);
    lastBeat = await beat(cfg, deps, groupName, self.instanceId, lastBeat);
    const group = await retrying('DescribeAutoScalingGroups', deps, () => deps.describeGroup(groupName));
    const endpoints = groupEndpoints(cfg, group)
      // own endpoint last: it may be a learner, which answers few RPCs
      .sort((a, b) => Number(a === self.clientURL) - Number(b === self.clientURL));
    const list = await deps.memberList(endpoints);
    if (!list) {
      lastWait = 'no member list from any endpoint';
      await deps.sleep(delay);
      continue;
    }
    const health = await deps.healthOf(list.members);
    const step = planPromote({ members: list.members, health, self });
    if (step.kind === 'refuse') throw new AgentError(`refused: ${step.reason}`);
    if (step.kind === 'wait') {
      lastWait = step.reason;
      await deps.sleep(delay);
      continue;
    }
    if (step.kind === 'promote') {
      const voters = healthyVoterEndpoints(list.members, health);
      // While the learner catches up, etcd answers "not in sync": re-send only the promote (100 ms apart,
      // at most PROMOTE_RETRIES times) instead of observing the group, the member list and every member's
      // health again before each try, so the promote follows the learner as closely as the runbook does.
      for (let attempt = 1; ; attempt++) {
        try {
          await deps.promote(voters, step.memberId);
          deps.log('promoted to voter', { memberId: step.memberId, attempts: attempt });
          break;
        } catch (err) {
          lastWait = (err as Error).message;
          if (!isNotInSync(err)) {
            deps.log('promote failed, observing again', { error: lastWait });
            await deps.sleep(delay);
            break;
          }
          if (attempt >= PROMOTE_RETRIES || deps.now() > deadline) break;
          await deps.sleep(100);
        }
      }
      continue;
    }
    // done: a started, healthy voter
    if (cfg.launchHookName) {
      try {
        await retrying(
          'CompleteLifecycleAction',
          deps,
          () => deps.completeLifecycleAction(groupName, cfg.launchHookName, self.instanceId, 'CONTINUE'),
          3,
        );
        deps.log('launch lifecycle action completed', { result: 'CONTINUE' });
        // The end of this instance's launch: the rollout (if one waits) may replace the next member.
        await signalRollout(
          cfg,
          deps,
          self.instanceId,
          'SUCCESS',
          `member ${step.memberId} is a healthy voter`,
        );
      } catch (err) {
        // No pending action (already completed, timed out, or the group has no hook): nothing to do.
        deps.log('launch lifecycle action not completed', { error: (err as Error).message });
      }
    }
    return { memberId: step.memberId };
  }
}
