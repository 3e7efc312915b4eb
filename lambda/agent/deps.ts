/*
 * What the agent's two phases (join.ts before etcd starts, promote.ts after) share: their dependencies, with
 * every effect behind them, the retried AWS calls, this instance's identity and the launch-hook heartbeat.
 */
import type { GroupView } from '../adapters/aws';
import { isNoActiveLifecycleAction } from '../adapters/aws';
import { BackoffTiming, retryWithBackoff } from '../adapters/backoff';
import type { MemberListResult } from '../adapters/etcd';
import type { Member, Self } from '../core/types';
import { AgentConfig } from './config';
import type { RestoreDeps } from './restore';

export interface AgentDeps {
  readonly identity: () => Promise<{ instanceId: string; privateIp: string }>;
  readonly groupOf: (instanceId: string) => Promise<string | undefined>;
  readonly describeGroup: (groupName: string) => Promise<GroupView>;
  readonly memberList: (endpoints: readonly string[]) => Promise<MemberListResult | null>;
  readonly healthOf: (members: readonly Member[]) => Promise<Record<string, boolean>>;
  /** The etcd version each member reports (Maintenance.Status); a member that does not answer is missing. */
  readonly versionsOf: (members: readonly Member[]) => Promise<Record<string, string | undefined>>;
  readonly addLearner: (endpoints: readonly string[], peerURL: string) => Promise<Member>;
  readonly remove: (endpoints: readonly string[], memberId: string) => Promise<void>;
  readonly promote: (endpoints: readonly string[], memberId: string) => Promise<void>;
  readonly withLock: <T>(endpoints: readonly string[], fn: () => Promise<T>) => Promise<T>;
  readonly completeLifecycleAction: (
    groupName: string,
    hook: string,
    instanceId: string,
    result: 'CONTINUE' | 'ABANDON',
  ) => Promise<void>;
  readonly heartbeat: (groupName: string, hook: string, instanceId: string) => Promise<void>;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** CloudFormation SignalResource for this instance (./signal.ts); undefined when no rollout signal is configured. */
  readonly signalRollout?: (instanceId: string, status: 'SUCCESS' | 'FAILURE') => Promise<void>;
  /** The restore gate's S3 and restore-command access; undefined when backups are not configured. */
  readonly restore?: RestoreDeps;
}

export class AgentError extends Error {}

/** AWS and metadata calls: 250 ms doubling to 4 s (the project's back-off, lambda/adapters/backoff.ts). */
const AWS_BACKOFF: BackoffTiming = { firstMs: 250, capMs: 4000 };

/** Retries fn (an AWS or metadata call) with back-off until it succeeds or `attempts` run out. */
export function retrying<T>(what: string, deps: AgentDeps, fn: () => Promise<T>, attempts = 5): Promise<T> {
  return retryWithBackoff(fn, {
    what,
    timing: AWS_BACKOFF,
    attempts,
    sleep: deps.sleep,
    now: deps.now,
    log: deps.log,
    giveUp: (err, n) => new AgentError(`${what} failed after ${n} attempts: ${err.message}`),
  });
}

export function url(scheme: string, ip: string, port: number): string {
  return `${scheme}://${ip}:${port}`;
}

export async function resolveSelf(
  cfg: AgentConfig,
  deps: AgentDeps,
): Promise<{ self: Self; groupName: string }> {
  const id = await retrying('instance metadata', deps, () => deps.identity());
  const groupName = await retrying('DescribeAutoScalingInstances', deps, async () => {
    const g = await deps.groupOf(id.instanceId);
    if (!g) throw new Error(`instance ${id.instanceId} is not in an Auto Scaling group`);
    return g;
  });
  const self: Self = {
    instanceId: id.instanceId,
    privateIp: id.privateIp,
    name: id.instanceId,
    peerURL: url(cfg.scheme, id.privateIp, cfg.peerPort),
    clientURL: url(cfg.scheme, id.privateIp, cfg.clientPort),
  };
  return { self, groupName };
}

/** Client URLs of the group's instances with a private IP (but `except`'s). */
export function groupEndpoints(cfg: AgentConfig, group: GroupView, except?: string): string[] {
  return group.instances
    .filter((i) => i.privateIp && i.instanceId !== except)
    .map((i) => url(cfg.scheme, i.privateIp!, cfg.clientPort));
}

/** Client URLs of started, healthy voters: where membership changes and promotions are sent. */
export function healthyVoterEndpoints(members: readonly Member[], health: Record<string, boolean>): string[] {
  return members
    .filter((m) => !m.isLearner && m.clientURLs.length > 0 && health[m.id])
    .map((m) => m.clientURLs[0]);
}

/**
 * Records a launch-hook heartbeat when one is due, so a long wait does not hit the hook's timeout. An
 * instance that is InService already (etcd restarted, e.g. after its member was removed) has no launch action
 * pending: "No active Lifecycle Action found" stops the heartbeats of this run (one log line, not an error
 * every few seconds that reads like the reason of a later failure). Returns Infinity once stopped.
 */
export async function beat(
  cfg: AgentConfig,
  deps: AgentDeps,
  groupName: string,
  instanceId: string,
  last: number,
): Promise<number> {
  if (!cfg.launchHookName || deps.now() - last < cfg.heartbeatSeconds * 1000) return last;
  try {
    await deps.heartbeat(groupName, cfg.launchHookName, instanceId);
  } catch (err) {
    const message = (err as Error).message;
    if (isNoActiveLifecycleAction(err)) {
      deps.log('no launch lifecycle action pending (the instance is in service): heartbeats stopped', {
        error: message,
      });
      return Infinity;
    }
    deps.log('heartbeat failed', { error: message });
  }
  return deps.now();
}
