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
  peerURLFor,
  quorum,
  withoutMember,
} from './quorum';
import { GroupInstance, GroupObservation, Member, TerminationInput, TerminationStep } from './types';

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

/** Observations for finishing retained terminations (the scheduled reconcile). */
export interface RetainedInput extends GroupObservation {
  /** The group's instances; the retained ones are in state `Terminating:Retained`. */
  readonly instances: readonly GroupInstance[];
  readonly desiredCapacity: number;
}

export type RetainedStep =
  /** The retained instance's member can go now: remove it (under the lock), then terminate the instance. */
  | {
      readonly kind: 'remove-and-terminate';
      readonly instanceId: string;
      readonly memberId: string;
      readonly reason: string;
    }
  /** The retained instance has no member (removed already, or never joined): terminate it. */
  | { readonly kind: 'terminate'; readonly instanceId: string; readonly reason: string }
  /** Removing its member is still unsafe: keep the instance, look again at the next reconcile. */
  | { readonly kind: 'keep'; readonly instanceId: string; readonly reason: string };

/**
 * FAILURE-SCENARIOS 15: a termination that was unsafe was answered with ABANDON, and the group retained the
 * instance (`Terminating:Retained`): it runs outside the group's capacity, its member still votes, and
 * nothing else would ever free its slot or terminate it. The reconcile finishes it with exactly the rule of
 * the terminate hook (planTermination, with the group's desired capacity as the floor): as soon as the
 * removal is safe, remove the member and terminate the instance. A retained instance without a member is
 * terminated at once (e.g. after a restore replaced the cluster it belonged to). Without a member list
 * (no quorum, etcd unreachable) nothing can be proven safe: every retained instance is kept.
 */
export function planRetainedTerminations(
  input: RetainedInput | null,
  instances: readonly GroupInstance[],
): RetainedStep[] {
  const retained = instances.filter((i) => i.lifecycleState === 'Terminating:Retained');
  if (input === null) {
    return retained.map((i) => ({
      kind: 'keep',
      instanceId: i.instanceId,
      reason: 'no member list: the removal of its member cannot be proven safe',
    }));
  }
  return retained.map((i): RetainedStep => {
    if (!i.privateIp) {
      return {
        kind: 'keep',
        instanceId: i.instanceId,
        reason: 'no private IP known for the retained instance',
      };
    }
    const step = planTermination({
      members: input.members,
      health: input.health,
      peerURL: peerURLFor(i.privateIp, input.peerPort, input.scheme),
      instances: input.instances,
      peerPort: input.peerPort,
      scheme: input.scheme,
      desiredCapacity: input.desiredCapacity,
    });
    switch (step.kind) {
      case 'absent':
        return {
          kind: 'terminate',
          instanceId: i.instanceId,
          reason: `retained instance ${i.instanceId} has no member (${step.reason}): terminate it`,
        };
      case 'remove':
        return {
          kind: 'remove-and-terminate',
          instanceId: i.instanceId,
          memberId: step.memberId,
          reason: `retained instance ${i.instanceId}: its removal is safe now (${step.reason}): remove the member, terminate the instance`,
        };
      default:
        return {
          kind: 'keep',
          instanceId: i.instanceId,
          reason: `retained instance ${i.instanceId} kept: ${step.reason}`,
        };
    }
  });
}
