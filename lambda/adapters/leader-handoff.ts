/*
 * Leadership handoff, the sequence (issue 15): when `memberId` leads, move leadership to the most caught-up
 * healthy voter (the pure planHandoff, lambda/core/leader.ts), then wait until the members report the new
 * leader. Shared by the lifecycle Lambda (before a planned removal, lambda/lifecycle/handoff.ts) and the
 * join agent (before its instance stops etcd, lambda/agent/handoff.ts). Stopping or removing the leader as
 * it is makes the others wait an election timeout before anyone takes writes again; a handoff costs one
 * leader transfer instead. Never throws: what goes wrong is logged and the caller goes ahead as before.
 */
import type { MemberStatus } from '../core/maintenance';
import { planHandoff } from '../core/leader';
import type { Member } from '../core/types';

/** How long to wait, after MoveLeader answered, for the members to report the new leader. */
export const HANDOFF_CONFIRM_MS = 3000;
const HANDOFF_POLL_MS = 50;

export type HandoffOutcome =
  | 'off'
  | 'not-leader'
  | 'no-leader-known'
  | 'leader-unreachable'
  | 'no-target'
  | 'move-failed'
  | 'moved'
  | 'unconfirmed';

/** What the sequence needs: etcd's status and MoveLeader, a sleep, and the caller's log. */
export interface HandoffPort {
  readonly statusOf: (members: readonly Member[]) => Promise<Record<string, MemberStatus | undefined>>;
  readonly moveLeader: (leader: Member, targetId: string) => Promise<void>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

export interface HandoffResult {
  readonly outcome: HandoffOutcome;
  readonly from?: string;
  readonly to?: string;
  /** From MoveLeader sent to the new leader confirmed (or the confirmation given up). */
  readonly ms?: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Hands leadership away from `memberId` if it leads: one 'leader handoff' line per decision with its reason
 * (`fields` added to each, e.g. what the handoff is for), and 'leadership moved' once confirmed.
 */
export async function handOffLeadership(
  port: HandoffPort,
  members: readonly Member[],
  health: Readonly<Record<string, boolean>>,
  memberId: string,
  fields: Record<string, unknown> = {},
): Promise<HandoffResult> {
  // Only healthy members are asked: a dead one's status call would only wait out its timeout.
  const asked = members.filter((m) => health[m.id] === true);
  let plan;
  try {
    plan = planHandoff(members, memberId, health, await port.statusOf(asked));
  } catch (err) {
    plan = { kind: 'no-leader-known' as const, reason: `status unavailable: ${message(err)}` };
  }
  if (plan.kind !== 'move') {
    port.log('info', 'leader handoff', { ...fields, decision: plan.kind, memberId, reason: plan.reason });
    return { outcome: plan.kind };
  }
  const { from, to } = plan;
  const leader = members.find((m) => m.id === from)!;
  port.log('info', 'leader handoff', {
    ...fields,
    decision: 'move',
    memberId,
    from,
    to,
    reason: plan.reason,
  });
  const started = Date.now();
  try {
    await port.moveLeader(leader, to);
  } catch (err) {
    port.log('warn', 'leader handoff', {
      ...fields,
      decision: 'move-failed',
      memberId,
      from,
      to,
      reason: `MoveLeader failed (${message(err)}): going ahead with the leader as it is`,
    });
    return { outcome: 'move-failed', from, to };
  }
  const confirmed = await awaitLeader(port, asked, to);
  const ms = Date.now() - started;
  if (confirmed) {
    port.log('info', 'leadership moved', { ...fields, memberId, from, to, ms });
    return { outcome: 'moved', from, to, ms };
  }
  port.log('warn', 'leader handoff', {
    ...fields,
    decision: 'unconfirmed',
    memberId,
    from,
    to,
    ms,
    reason: `the members did not all report ${to} as leader within ${HANDOFF_CONFIRM_MS} ms: going ahead anyway`,
  });
  return { outcome: 'unconfirmed', from, to, ms };
}

/**
 * Polls the members' status until the new leader and every other member that answers report `leaderId`,
 * bounded by HANDOFF_CONFIRM_MS (wall clock: a test's clock may be fixed).
 */
async function awaitLeader(
  port: HandoffPort,
  members: readonly Member[],
  leaderId: string,
): Promise<boolean> {
  const deadline = Date.now() + HANDOFF_CONFIRM_MS;
  for (;;) {
    const status = await port.statusOf(members).catch(() => ({}) as Record<string, undefined>);
    const answers = Object.values(status).filter((s) => s !== undefined);
    if (status[leaderId]?.leader === leaderId && answers.every((s) => s.leader === leaderId)) return true;
    if (Date.now() >= deadline) return false;
    await port.sleep(HANDOFF_POLL_MS);
  }
}
