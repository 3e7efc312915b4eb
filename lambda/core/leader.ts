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

/** What each member's Maintenance.Status said (only what the handoff plan reads). */
export interface LeaderView {
  readonly raftIndex: number;
  /** The leader's member id as this member sees it ('0' or '' when it knows none). */
  readonly leader: string;
}

/**
 * How far (raft entries) the chosen follower may be behind the leader's raft index and still count as
 * caught up: MoveLeader to a follower further behind would wait for it to catch up first (etcd aborts the
 * transfer after an election timeout), so the removal goes ahead without a handoff instead.
 */
export const MAX_HANDOFF_LAG = 1000;

export type HandoffPlan =
  /** `removing` leads: move leadership `from` it `to` the chosen follower, then remove. */
  | { readonly kind: 'move'; readonly from: string; readonly to: string; readonly reason: string }
  /** No handoff: the member is not the leader, or a handoff is impossible; the removal goes ahead as is. */
  | {
      readonly kind: 'not-leader' | 'no-leader-known' | 'leader-unreachable' | 'no-target';
      readonly reason: string;
    };

/**
 * Before the planned removal of `removing`: hand leadership over first? The leader is the one most members
 * report (ties: the lowest id); only when it is `removing`, answers (its own status, healthy) and another
 * healthy started voter is caught up (handoffTarget, within MAX_HANDOFF_LAG of the leader) is it a move.
 */
export function planHandoff(
  members: readonly Member[],
  removing: string,
  health: Readonly<Record<string, boolean>>,
  status: Readonly<Record<string, LeaderView | undefined>>,
): HandoffPlan {
  const votes = new Map<string, number>();
  for (const m of members) {
    const lead = status[m.id]?.leader;
    if (lead && lead !== '0') votes.set(lead, (votes.get(lead) ?? 0) + 1);
  }
  if (votes.size === 0) {
    return {
      kind: 'no-leader-known',
      reason: 'no member reported a leader: no handoff, the removal goes ahead',
    };
  }
  const [leader] = [...votes.entries()].sort(
    (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  )[0];
  if (leader !== removing) {
    return { kind: 'not-leader', reason: `${removing} is not the leader (${leader} is): no handoff needed` };
  }
  const own = status[removing];
  if (!own || health[removing] !== true) {
    return {
      kind: 'leader-unreachable',
      reason: `the leader ${removing} does not answer: it cannot hand over, the others elect a new leader after an election timeout`,
    };
  }
  const raftIndex = Object.fromEntries(members.map((m) => [m.id, status[m.id]?.raftIndex]));
  const target = handoffTarget(members, removing, health, raftIndex);
  if (target.kind === 'none') return { kind: 'no-target', reason: `${target.reason}: no handoff` };
  const lag = own.raftIndex - raftIndex[target.memberId]!;
  if (lag > MAX_HANDOFF_LAG) {
    return {
      kind: 'no-target',
      reason: `the most caught-up voter ${target.memberId} is ${lag} raft entries behind the leader (more than ${MAX_HANDOFF_LAG}): no handoff`,
    };
  }
  return {
    kind: 'move',
    from: removing,
    to: target.memberId,
    reason: `the leader ${removing} is to be removed: ${target.reason}, ${Math.max(0, lag)} entries behind`,
  };
}
