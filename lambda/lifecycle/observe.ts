/* One observation of the group and the cluster: instances, member list and member health. */
import type { GroupView } from '../adapters/aws';
import { isHealthyStartedVoter, peerURLFor } from '../core';
import type { Member } from '../core/types';
import type { LifecycleContext } from './context';

export interface Observation {
  readonly group: GroupView;
  /** null when no endpoint answered a member list request (etcd unreachable). */
  readonly members: Member[] | null;
  readonly health: Record<string, boolean>;
  /** The client URLs the member list was requested from. */
  readonly probeEndpoints: string[];
  /** The endpoint that answered the member list. */
  readonly answeredBy?: string;
  /** The cluster id (hex) in that answer's header. */
  readonly clusterId?: string;
}

/** `scheme://ip:clientPort` of every group instance that has an IP and is not terminated yet. */
export function clientEndpoints(
  ctx: LifecycleContext,
  group: GroupView,
  extraIps: readonly string[] = [],
): string[] {
  const { scheme, clientPort } = ctx.config;
  const ips = group.instances
    .filter((i) => i.privateIp !== undefined && i.lifecycleState !== 'Terminated')
    .map((i) => i.privateIp!);
  return [...new Set([...ips, ...extraIps])].map((ip) => peerURLFor(ip, clientPort, scheme));
}

export async function observe(ctx: LifecycleContext, extraIps: readonly string[] = []): Promise<Observation> {
  const group = await ctx.fleet.describeGroup(ctx.config.groupName);
  const probeEndpoints = clientEndpoints(ctx, group, extraIps);
  const list = probeEndpoints.length > 0 ? await ctx.etcd.memberList(probeEndpoints) : null;
  if (!list) return { group, members: null, health: {}, probeEndpoints };
  const health = await ctx.etcd.healthOf(list.members);
  return {
    group,
    members: list.members,
    health,
    probeEndpoints,
    answeredBy: list.endpoint,
    clusterId: list.clusterId,
  };
}

/**
 * Where membership changes, the join lock and the unstarted-age records go: the client URLs of the healthy
 * started voters (a learner's endpoint rejects most RPCs; a dead one would only fail), without the member
 * being removed when another is available.
 */
export function actionEndpoints(obs: Observation, excludeMemberId?: string): string[] {
  const healthy = (obs.members ?? []).filter(
    (m) => isHealthyStartedVoter(m, obs.health) && m.clientURLs.length > 0,
  );
  const others = healthy.filter((m) => m.id !== excludeMemberId);
  const chosen = others.length > 0 ? others : healthy;
  const urls = chosen.map((m) => m.clientURLs[0]);
  return urls.length > 0 ? urls : obs.answeredBy ? [obs.answeredBy] : [];
}
