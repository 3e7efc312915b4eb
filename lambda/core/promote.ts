/* planPromote: after etcd started, promote this learner once it runs, then report done. Pure. */
import { healthyStartedVoterCount, isHealthy, isStarted, memberByPeerURL, quorum, voters } from './quorum';
import { PromoteInput, PromoteStep } from './types';

export function planPromote(input: PromoteInput): PromoteStep {
  const { members, health, self } = input;
  const own = memberByPeerURL(members, self.peerURL);
  if (!own) {
    return { kind: 'refuse', reason: `no member has peer URL ${self.peerURL}: this member was removed` };
  }
  if (!isStarted(own)) {
    return { kind: 'wait', reason: `own entry ${own.id} has not started yet` };
  }
  if (!isHealthy(own, health)) {
    return { kind: 'wait', reason: `own entry ${own.id} is not healthy yet` };
  }
  if (own.isLearner) {
    // etcd's own check on promote: the started voters after the promotion must reach the new quorum.
    const v = voters(members).length;
    const h = healthyStartedVoterCount(members, health);
    if (h + 1 < quorum(v + 1)) {
      return {
        kind: 'wait',
        reason: `promoting would leave ${h + 1} healthy started voters of ${v + 1}, below quorum ${quorum(v + 1)}`,
      };
    }
    return {
      kind: 'promote',
      memberId: own.id,
      reason: `learner ${own.id} is started and healthy: promote (retry while etcd says it is not in sync)`,
    };
  }
  return { kind: 'done', memberId: own.id, reason: `member ${own.id} is a started, healthy voter` };
}
