/*
 * Leadership handoff before a planned removal (issue 15): when the member about to be removed leads, move
 * leadership to the most caught-up healthy voter (planHandoff, lambda/core/leader.ts), wait until the
 * members report the new leader, then the caller removes. Removing the leader as it is makes the others wait
 * an election timeout before anyone takes writes again; a handoff costs one leader transfer instead.
 * Never blocks a removal: anything that goes wrong is logged and the removal goes ahead as before.
 */
import { planHandoff } from '../core/leader';
import type { Member } from '../core/types';
import type { LifecycleContext } from './context';
import { errorMessage, Logger, MetricName } from './log';
import type { Observation } from './observe';

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

/**
 * Hands leadership away from `memberId` if it leads (ctx.leaderHandoff on). One 'leader handoff' line per
 * decision, with its reason; a LeaderMoves metric per move etcd accepted. Never throws.
 */
export async function handOffBeforeRemoval(
  ctx: LifecycleContext,
  log: Logger,
  obs: Observation,
  memberId: string,
): Promise<HandoffOutcome> {
  const members = obs.members ?? [];
  if (ctx.leaderHandoff === false) {
    log.info('leader handoff', {
      decision: 'off',
      memberId,
      reason: 'leader handoff is switched off (leaderHandoff: false): removing without a check',
    });
    return 'off';
  }
  // Only healthy members are asked: a dead one's status call would only wait out its timeout.
  const asked = members.filter((m) => obs.health[m.id] === true);
  let plan;
  try {
    plan = planHandoff(members, memberId, obs.health, await ctx.maintenance.statusOf(asked));
  } catch (err) {
    plan = { kind: 'no-leader-known' as const, reason: `status unavailable: ${errorMessage(err)}` };
  }
  if (plan.kind !== 'move') {
    log.info('leader handoff', { decision: plan.kind, memberId, reason: plan.reason });
    return plan.kind;
  }
  const { from, to } = plan;
  const leader = members.find((m) => m.id === from)!;
  log.info('leader handoff', { decision: 'move', memberId, from, to, reason: plan.reason });
  const started = ctx.now();
  try {
    await ctx.maintenance.moveLeader(leader, to);
  } catch (err) {
    log.warn('leader handoff', {
      decision: 'move-failed',
      memberId,
      from,
      to,
      reason: `MoveLeader failed (${errorMessage(err)}): removing the leader as it is`,
    });
    return 'move-failed';
  }
  log.metric(MetricName.LEADER_MOVES, 1, ctx.config.groupName, { from, to, memberId });
  const confirmed = await awaitLeader(ctx, asked, to);
  const ms = ctx.now() - started;
  if (confirmed) {
    log.info('leadership moved', { memberId, from, to, ms });
    return 'moved';
  }
  log.warn('leader handoff', {
    decision: 'unconfirmed',
    memberId,
    from,
    to,
    ms,
    reason: `the members did not all report ${to} as leader within ${HANDOFF_CONFIRM_MS} ms: removing anyway`,
  });
  return 'unconfirmed';
}

/**
 * Polls the members' status until the new leader and every other member that answers report `leaderId`,
 * bounded by HANDOFF_CONFIRM_MS (wall clock: ctx.now may be a test's fixed clock).
 */
async function awaitLeader(
  ctx: LifecycleContext,
  members: readonly Member[],
  leaderId: string,
): Promise<boolean> {
  const deadline = Date.now() + HANDOFF_CONFIRM_MS;
  for (;;) {
    const status = await ctx.maintenance.statusOf(members).catch(() => ({}) as Record<string, undefined>);
    const answers = Object.values(status).filter((s) => s !== undefined);
    if (status[leaderId]?.leader === leaderId && answers.every((s) => s.leader === leaderId)) return true;
    if (Date.now() >= deadline) return false;
    await ctx.sleep(HANDOFF_POLL_MS);
  }
}
