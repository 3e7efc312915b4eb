/*
 * planReconcile: the scheduled clean-up. Lifecycle events are best-effort, so a member whose instance vanished
 * without a terminate hook (or whose hook failed) is removed here. Pure.
 *
 * Decisions (elastic-etcd's strategies are join-time rules; reconcile applies the part that is safe for all):
 * - A member is ORPHANED when no group instance that is still alive owns it: its exact peer URL and, for a
 *   started member named after an instance id, that id (a new instance that got a dead member's address
 *   does not adopt the dead member; FAILURE-SCENARIOS 10). An instance in
 *   state Terminated is gone; an instance in a Terminating* state counts as gone only if its member is
 *   unhealthy (a healthy terminating member is the terminate hook's business).
 * - An orphaned member that is dead (unstarted or unhealthy) is removed, in every strategy, prepare included:
 *   it is exactly what the terminate hook would have removed, and its instance will never come back.
 * - An unstarted member past the grace period is removed (its joiner died or gave up) in add, replace and
 *   prune. In prepare an unstarted entry with a live instance may be an operator's entry waiting for its
 *   instance: it is reported, not removed.
 * - A dead voter whose instance is alive (e.g. unresponsive, rebooting) is never removed by reconcile in any
 *   strategy: only reported. Its replacement is decided by the join strategy (replace/prune) or an operator.
 * - A healthy member is never removed. A started, healthy learner is reported (it may be stuck unpromoted).
 * - Removals are simulated in order on the evolving membership: each one must keep a working quorum
 *   (healthy started voters >= quorum(voters)) after it; without a working quorum nothing is removed.
 *   Learners and unstarted members are removed before voters (they never lower the margin).
 */
import { canRemove, hasQuorum, isDead, isHealthy, isStarted, memberBelongsTo, withoutMember } from './quorum';
import { JoinStrategy, Member, ReconcileInput, ReconcileStep } from './types';

/** Whether the member belongs to an instance of the group that is still alive (see the rules above). */
export function hasLiveInstance(
  member: Member,
  input: Pick<ReconcileInput, 'instances' | 'health' | 'peerPort' | 'scheme'>,
): boolean {
  const { instances, health, peerPort, scheme } = input;
  return instances.some((i) => {
    if (!memberBelongsTo(member, i, peerPort, scheme)) return false;
    if (i.lifecycleState === 'Terminated') return false;
    if (i.lifecycleState.startsWith('Terminating')) return isHealthy(member, health);
    return true;
  });
}

export function planReconcile(input: ReconcileInput): ReconcileStep[] {
  const { members, health, strategy, unstartedAgeSeconds, unstartedGraceSeconds } = input;
  const steps: ReconcileStep[] = [];
  const candidates: { m: Member; why: string }[] = [];

  for (const m of members) {
    const live = hasLiveInstance(m, input);
    const dead = isDead(m, health);
    const age = Object.prototype.hasOwnProperty.call(unstartedAgeSeconds, m.id)
      ? unstartedAgeSeconds[m.id]
      : 0;
    if (!live && dead) {
      candidates.push({
        m,
        why: `${!isStarted(m) ? 'unstarted' : 'unhealthy'} member ${m.id} matches no live instance of the group`,
      });
    } else if (!isStarted(m) && age > unstartedGraceSeconds) {
      if (strategy === JoinStrategy.PREPARE) {
        steps.push({
          kind: 'report',
          memberId: m.id,
          reason: `member ${m.id} unstarted for ${age} s (strategy prepare: an operator's entry is left alone)`,
        });
      } else {
        candidates.push({
          m,
          why: `member ${m.id} unstarted for ${age} s, longer than ${unstartedGraceSeconds} s`,
        });
      }
    } else if (!live && !dead) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `healthy member ${m.id} matches no live instance of the group: left alone`,
      });
    } else if (live && dead && isStarted(m) && !m.isLearner) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `voter ${m.id} of a live instance is unhealthy: left to the join strategy or an operator`,
      });
    } else if (live && dead && isStarted(m) && m.isLearner) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `learner ${m.id} of a live instance is unhealthy: it holds the single learner slot`,
      });
    } else if (m.isLearner && isStarted(m) && !dead) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `learner ${m.id} is started and healthy but not promoted`,
      });
    }
  }

  // Learners and unstarted members first, then voters; by id for determinism.
  candidates.sort(
    (a, b) =>
      Number(!(a.m.isLearner || !isStarted(a.m))) - Number(!(b.m.isLearner || !isStarted(b.m))) ||
      (a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0),
  );
  let current: Member[] = [...members];
  for (const { m, why } of candidates) {
    if (!hasQuorum(current, health)) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `${why}; not removed: the cluster has no working quorum`,
      });
      continue;
    }
    if (!canRemove(current, health, m.id)) {
      steps.push({
        kind: 'report',
        memberId: m.id,
        reason: `${why}; not removed: the quorum would not hold`,
      });
      continue;
    }
    steps.push({ kind: 'remove', memberId: m.id, reason: why });
    current = withoutMember(current, m.id);
  }

  // Removals first (in simulated order), then reports.
  const ordered = [...steps.filter((s) => s.kind === 'remove'), ...steps.filter((s) => s.kind !== 'remove')];
  return ordered.length > 0 ? ordered : [{ kind: 'noop', reason: 'membership matches the group' }];
}
