/*
 * planTermination: the lifecycle handler's decision when an instance terminates. Pure.
 * The terminating member is found by its exact peer URL (10.0.2.15 never matches 10.0.2.150).
 */
import {
  canRemove,
  healthyStartedVoterCount,
  isDead,
  isStarted,
  hasRunningInstance,
  memberByPeerURL,
  quorum,
  withoutMember,
} from './quorum';
import { Member, TerminationInput, TerminationStep } from './types';

export function planTermination(input: TerminationInput): TerminationStep {
  const { members, health, peerURL, instances, peerPort, scheme } = input;
  const target = memberByPeerURL(members, peerURL);
  if (!target) return { kind: 'absent', reason: `no member has peer URL ${peerURL}` };

  if (target.isLearner || !isStarted(target)) {
    return {
      kind: 'remove',
      memberId: target.id,
      reason: `${!isStarted(target) ? 'unstarted member' : 'learner'} ${target.id}: removing it never affects the quorum`,
    };
  }
  // The floor: healthy started voters left after the termination (see TerminationInput.desiredCapacity).
  const floor = input.desiredCapacity === undefined ? 1 : Math.max(1, quorum(input.desiredCapacity));
  const keepsFloor = (after: readonly Member[]) => healthyStartedVoterCount(after, health) >= floor;
  if (canRemove(members, health, target.id) && keepsFloor(withoutMember(members, target.id))) {
    return {
      kind: 'remove',
      memberId: target.id,
      reason: `voter ${target.id}: the quorum holds after its removal`,
    };
  }

  // Another dead member may be what makes the removal unsafe: remove it first if that is safe and it makes
  // the terminating member's removal safe. Dead members whose instance is gone are preferred.
  const candidates: { m: Member; gone: boolean }[] = members
    .filter((m) => m.id !== target.id && isDead(m, health))
    .map((m) => ({ m, gone: !hasRunningInstance(m, instances, peerPort, scheme) }))
    .sort((a, b) => Number(b.gone) - Number(a.gone) || (a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0));
  for (const { m, gone } of candidates) {
    if (!canRemove(members, health, m.id)) continue;
    if (!canRemove(withoutMember(members, m.id), health, target.id)) continue;
    if (!keepsFloor(withoutMember(withoutMember(members, m.id), target.id))) continue;
    return {
      kind: 'remove-dead-first',
      memberId: m.id,
      reason:
        `removing voter ${target.id} would lose the quorum while dead member ${m.id}` +
        `${gone ? ' (instance gone)' : ''} is registered: remove it first`,
    };
  }
  return {
    kind: 'unsafe',
    reason:
      `removing voter ${target.id} would leave the cluster without a working quorum` +
      (floor > 1
        ? ` or below ${floor} healthy voters (quorum of desired capacity ${input.desiredCapacity})`
        : '') +
      ': keep the instance',
  };
}
