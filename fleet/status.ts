/*
 * The fleet's status: each instance with its member (the core's classification: lambda/core/quorum.ts),
 * and whether the fleet has converged: one cluster, every member a healthy started voter, as many as the
 * desired capacity, each alive instance InService with its own member.
 */
import type { EtcdAdapter } from '../lambda/adapters/etcd';
import { SHIPPER_ELECTION_KEY } from '../lambda/core/ship';
import { memberIdHex } from '../lambda/adapters/etcd';
import type { EtcdMaintenance } from '../lambda/adapters/etcd-maintenance';
import { isHealthy, isStarted, memberOfInstance, pendingMembers, voters } from '../lambda/core/quorum';
import type { GroupInstance, Member } from '../lambda/core/types';
import type { FleetTlsFiles } from './tls';
import { CLIENT_PORT, FleetStatus, Instance, InstanceStatus, PEER_PORT } from './types';

/** What the status reads of the fleet. */
export interface StatusSource {
  readonly etcd: EtcdAdapter;
  readonly scheme: 'http' | 'https';
  desiredCapacity(): number;
  /** Every instance that is not gone (terminating and retained ones included). */
  live(): Instance[];
  /** Instances that are not gone, terminating or retained. */
  alive(): Instance[];
  /** The stand-in's lifecycle state of the instance; undefined once it left the group. */
  lifecycleState(id: string): string | undefined;
  readonly tls?: FleetTlsFiles;
  /** With it, each member's dbSize, dbSizeInUse and active alarms (`etcd-fleet status`). */
  readonly maintenance?: EtcdMaintenance;
}

function asGroupInstance(i: Instance, lifecycleState: string): GroupInstance {
  return { instanceId: i.id, privateIp: i.ip, lifecycleState };
}

function roleOf(m: Member | undefined): InstanceStatus['role'] {
  if (!m) return 'none';
  if (!isStarted(m)) return 'unstarted';
  return m.isLearner ? 'learner' : 'voter';
}

export async function fleetStatus(src: StatusSource): Promise<FleetStatus> {
  const { scheme } = src;
  const desired = src.desiredCapacity();
  const live = src.live();
  const endpoints = live
    .filter((i) => i.phase !== 'terminating')
    .map((i) => `${scheme}://${i.ip}:${CLIENT_PORT}`);
  const perEndpoint = await Promise.all(endpoints.map((e) => src.etcd.memberList([e], { withLeader: true })));
  const clusterIds = new Set(perEndpoint.filter((r) => r).map((r) => r!.clusterId));
  const list = perEndpoint.find((r) => r && r.leaderId) ?? perEndpoint.find((r) => r) ?? null;
  const members: Member[] = list?.members ?? [];
  const [health, storage, shipper] = await Promise.all([
    src.etcd.healthOf(members),
    src.maintenance && storageOf(src.maintenance, members, endpoints),
    src.maintenance && electedShipper(src.etcd, endpoints),
  ]);
  const lifecycleState = (i: Instance) =>
    src.lifecycleState(i.id) ?? (i.phase === 'retained' ? 'Terminating:Retained' : 'Terminated');
  const memberOf = (i: Instance) =>
    memberOfInstance(asGroupInstance(i, lifecycleState(i)), members, PEER_PORT, scheme);
  const instances: InstanceStatus[] = live.map((i) => {
    const m = memberOf(i);
    return {
      id: i.id,
      ip: i.ip,
      lifecycleState: lifecycleState(i),
      memberId: m ? memberIdHex(m.id) : '',
      role: roleOf(m),
      healthy: m ? isHealthy(m, health) : false,
      leader: Boolean(m && list && list.leaderId === m.id),
      ...(i.etcd?.pid !== undefined && i.etcd.exitCode === null && { etcdPid: i.etcd.pid }),
      launchTemplate: i.template.version,
      ...(storage && {
        dbSize: (m && storage.status[m.id]?.dbSize) ?? null,
        dbSizeInUse: (m && storage.status[m.id]?.dbSizeInUse) ?? null,
        alarms:
          storage.alarms && (m ? storage.alarms.filter((a) => a.memberId === m.id).map((a) => a.alarm) : []),
      }),
    };
  });
  const alive = src.alive();
  const startedVoters = voters(members).filter(isStarted);
  let reason = '';
  if (!list) reason = 'no member list from any endpoint';
  else if (clusterIds.size !== 1) reason = `endpoints report ${clusterIds.size} cluster ids`;
  else if (pendingMembers(members).length > 0) reason = 'a learner or unstarted member is left';
  else if (startedVoters.length !== desired) reason = `voters ${startedVoters.length} != desired ${desired}`;
  else if (members.some((m) => !isHealthy(m, health))) reason = 'a member is unhealthy';
  else if (alive.length !== desired) reason = `instances ${alive.length} != desired ${desired}`;
  else if (alive.some((i) => src.lifecycleState(i.id) !== 'InService'))
    reason = 'an instance is not InService';
  else if (alive.some((i) => !memberOf(i))) reason = 'an instance has no member';
  return {
    clusterId: clusterIds.size === 1 ? [...clusterIds][0] : [...clusterIds].join(','),
    desired,
    converged: reason === '',
    reason,
    endpoints: alive.map((i) => `${scheme}://${i.ip}:${CLIENT_PORT}`),
    instances,
    ...(shipper && { shipper }),
    ...(src.tls && { tls: src.tls }),
  };
}

/**
 * The instance whose shipper leads the incremental backup log's election (the campaign key with the lowest
 * create revision holds its instance id), or undefined: no shipper campaigns, or no endpoint answered.
 */
async function electedShipper(etcd: EtcdAdapter, endpoints: string[]): Promise<string | undefined> {
  if (endpoints.length === 0) return undefined;
  const c = etcd.client(endpoints);
  try {
    const r = await c.getAll().prefix(SHIPPER_ELECTION_KEY).sort('Create', 'Ascend').limit(1).exec();
    return r.kvs[0]?.value.toString();
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

/**
 * Maintenance.Status of every member and the cluster's alarm list, asked of every endpoint at once, the first
 * answer taken (a member that does not answer holds nothing up); null when no endpoint answered it.
 */
async function storageOf(maintenance: EtcdMaintenance, members: Member[], endpoints: string[]) {
  const [status, alarms] = await Promise.all([
    maintenance.statusOf(members),
    Promise.any(endpoints.map((e) => maintenance.alarms([e]))).catch(() => null),
  ]);
  return { status, alarms };
}

/** Polls the status until two consecutive observations are converged; throws after the timeout. */
export async function waitConverged(
  status: () => Promise<FleetStatus>,
  timeoutSeconds: number,
): Promise<FleetStatus> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last: FleetStatus | undefined;
  let streak = 0;
  while (Date.now() < deadline) {
    last = await status();
    // Two consecutive converged observations: a momentary snapshot between two changes does not count.
    streak = last.converged ? streak + 1 : 0;
    if (streak >= 2) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`not converged within ${timeoutSeconds} s: ${last?.reason ?? 'no status'}`);
}
