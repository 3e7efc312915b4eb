/*
 * Leadership handoff: which member takes over before a planned stop of the leader (defragmentation,
 * removal, reboot, replacement). Pure.
 */
import type { Member } from './types';

export type HandoffTarget =
  | { readonly kind: 'to'; readonly memberId: string; readonly reason: string }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * The healthy started voter other than the leader whose raft index is highest (the most caught-up; ties
 * go to the lowest id, so the choice is stable). `raftIndex` holds what each member's status reported;
 * a member without one is not a candidate.
 */
export function handoffTarget(
  members: readonly Member[],
  leaderId: string,
  health: Readonly<Record<string, boolean>>,
  raftIndex: Readonly<Record<string, number | undefined>>,
): HandoffTarget {
  const candidates = members.filter(
    (m) =>
      m.id !== leaderId &&
      !m.isLearner &&
      m.name !== '' &&
      m.clientURLs.length > 0 &&
      health[m.id] === true &&
      raftIndex[m.id] !== undefined,
  );
  if (candidates.length === 0) {
    return {
      kind: 'none',
      reason: `no healthy started voter besides the leader ${leaderId} reported its raft index`,
    };
  }
  const best = [...candidates].sort(
    (a, b) => raftIndex[b.id]! - raftIndex[a.id]! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )[0];
  return {
    kind: 'to',
    memberId: best.id,
    reason: `${best.id} is the most caught-up healthy voter (raft index ${raftIndex[best.id]})`,
  };
}
