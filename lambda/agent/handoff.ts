/*
 * The agent's handoff command (`agent.js handoff --config FILE`), run by etcd-handoff.service's ExecStop on an
 * instance before etcd stops (shutdown, reboot, `systemctl stop etcd-member`): if this instance's member
 * leads, leadership moves to the most caught-up healthy voter first (the Lambda's sequence,
 * lambda/adapters/leader-handoff.ts), so the stop costs one leader transfer instead of an election timeout.
 * Never blocks the stop: whatever goes wrong is logged and the command ends.
 */
import type { MemberStatus } from '../core/maintenance';
import type { Member } from '../core/types';
import { handOffLeadership, HandoffResult } from '../adapters/leader-handoff';
import { hasPeerURL } from '../core/quorum';
import type { AgentConfig } from './config';
import { url } from './deps';
import type { AgentDeps } from './deps';

export interface HandoffDeps extends Pick<
  AgentDeps,
  'identity' | 'memberList' | 'healthOf' | 'log' | 'sleep'
> {
  readonly statusOf: (members: readonly Member[]) => Promise<Record<string, MemberStatus | undefined>>;
  readonly moveLeader: (leader: Member, targetId: string) => Promise<void>;
}

/** What the handoff did (the outcome of the shared sequence, or why it never started). */
export type AgentHandoffResult = HandoffResult | { readonly outcome: 'no-member'; readonly reason: string };

export async function runHandoff(cfg: AgentConfig, deps: HandoffDeps): Promise<AgentHandoffResult> {
  const id = await deps.identity();
  const own = url(cfg.scheme, id.privateIp, cfg.clientPort);
  const peer = url(cfg.scheme, id.privateIp, cfg.peerPort);
  // The member list from this member itself first (it answers while it is a member), then nobody else's:
  // a stop never waits on other instances' answers it does not need.
  const list = await deps.memberList([own]);
  const self = list?.members.find((m) => hasPeerURL(m, peer));
  if (!list || !self) {
    const reason = list
      ? `no member with peer URL ${peer} in the member list: nothing to hand over`
      : `the local member (${own}) does not answer: nothing to hand over`;
    deps.log('leader handoff', { for: 'stop', decision: 'no-member', reason });
    return { outcome: 'no-member', reason };
  }
  const health = await deps.healthOf(list.members);
  return handOffLeadership(
    {
      statusOf: deps.statusOf,
      moveLeader: deps.moveLeader,
      sleep: deps.sleep,
      log: (level, message, fields) => deps.log(message, { level, ...fields }),
    },
    list.members,
    health,
    self.id,
    { for: 'stop', instanceId: id.instanceId },
  );
}
