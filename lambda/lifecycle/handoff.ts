/*
 * Leadership handoff before a planned removal (issue 15): the shared sequence (lambda/adapters/leader-handoff.ts)
 * with the Lambda's switch, log and LeaderMoves metric. Never blocks a removal.
 */
import { handOffLeadership, HandoffOutcome } from '../adapters/leader-handoff';
import type { LifecycleContext } from './context';
import { Logger, MetricName } from './log';
import type { Observation } from './observe';

export { HANDOFF_CONFIRM_MS } from '../adapters/leader-handoff';
export type { HandoffOutcome } from '../adapters/leader-handoff';

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
  if (ctx.leaderHandoff === false) {
    log.info('leader handoff', {
      decision: 'off',
      memberId,
      reason: 'leader handoff is switched off (leaderHandoff: false): removing without a check',
    });
    return 'off';
  }
  const result = await handOffLeadership(
    {
      statusOf: (members) => ctx.maintenance.statusOf(members),
      moveLeader: (leader, to) => ctx.maintenance.moveLeader(leader, to),
      sleep: (ms) => ctx.sleep(ms),
      log: (level, message, fields) => log[level](message, fields),
    },
    obs.members ?? [],
    obs.health,
    memberId,
  );
  if (result.outcome === 'moved' || result.outcome === 'unconfirmed')
    log.metric(MetricName.LEADER_MOVES, 1, ctx.config.groupName, {
      from: result.from,
      to: result.to,
      memberId,
    });
  return result.outcome;
}
