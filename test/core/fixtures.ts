/* Builders for the core tests: compact member, instance and input constructors. */
import {
  DataDirState,
  GroupInstance,
  JoinInput,
  JoinStrategy,
  Member,
  PromoteInput,
  ReconcileInput,
  Self,
  SnapshotInfo,
  snapshotKey,
  TerminationInput,
} from '../../lambda/core';

export const PEER_PORT = 2380;
export const CLIENT_PORT = 2379;
export const peer = (ip: string): string => `http://${ip}:${PEER_PORT}`;
export const client = (ip: string): string => `http://${ip}:${CLIENT_PORT}`;

/** A member spec: kind v = voter, l = learner, u = unstarted voter, ul = unstarted learner; healthy defaults to started. */
export interface Spec {
  readonly id: string;
  readonly ip: string;
  readonly kind?: 'v' | 'l' | 'u' | 'ul';
  readonly healthy?: boolean;
  readonly name?: string;
}

export interface Cluster {
  readonly members: Member[];
  readonly health: Record<string, boolean>;
}

export function cluster(...specs: Spec[]): Cluster {
  const members: Member[] = [];
  const health: Record<string, boolean> = {};
  for (const s of specs) {
    const kind = s.kind ?? 'v';
    const started = kind === 'v' || kind === 'l';
    members.push({
      id: s.id,
      name: started ? (s.name ?? `i-${s.ip}`) : '',
      peerURLs: [peer(s.ip)],
      clientURLs: started ? [client(s.ip)] : [],
      isLearner: kind === 'l' || kind === 'ul',
    });
    health[s.id] = s.healthy ?? started;
  }
  return { members, health };
}

/** Healthy voter, dead voter, healthy learner, unstarted voter, unstarted learner. */
export const V = (id: string, ip: string): Spec => ({ id, ip, kind: 'v', healthy: true });
export const D = (id: string, ip: string): Spec => ({ id, ip, kind: 'v', healthy: false });
export const L = (id: string, ip: string): Spec => ({ id, ip, kind: 'l', healthy: true });
export const LD = (id: string, ip: string): Spec => ({ id, ip, kind: 'l', healthy: false });
export const U = (id: string, ip: string): Spec => ({ id, ip, kind: 'u' });
export const UL = (id: string, ip: string): Spec => ({ id, ip, kind: 'ul' });

export const inst = (
  ip: string | undefined,
  lifecycleState = 'InService',
  instanceId?: string,
): GroupInstance => ({
  instanceId: instanceId ?? `i-${ip ?? 'noip'}`,
  privateIp: ip,
  lifecycleState,
});

export const SELF_IP = '10.0.2.15';
export const self = (ip = SELF_IP, instanceId = `i-${ip}`): Self => ({
  instanceId,
  privateIp: ip,
  name: instanceId,
  peerURL: peer(ip),
  clientURL: client(ip),
});

export function joinInput(over: Partial<JoinInput> & { c?: Cluster | null } = {}): JoinInput {
  const { c, ...rest } = over;
  const s = rest.self ?? self();
  const members = c === undefined ? [] : c === null ? null : c.members;
  return {
    members,
    health: c ? c.health : {},
    instances: [inst(s.privateIp, 'Pending:Wait', s.instanceId)],
    desiredCapacity: 3,
    self: s,
    strategy: JoinStrategy.REPLACE,
    sizeCap: 3,
    dataDir: DataDirState.EMPTY,
    peerPort: PEER_PORT,
    clientPort: CLIENT_PORT,
    scheme: 'http',
    groupName: 'etcd-asg',
    ...rest,
  };
}

export function promoteInput(c: Cluster, s: Self = self()): PromoteInput {
  return { members: c.members, health: c.health, self: s };
}

export function terminationInput(
  c: Cluster,
  ip: string,
  instances: GroupInstance[] = [],
  desiredCapacity?: number,
): TerminationInput {
  return {
    members: c.members,
    health: c.health,
    peerURL: peer(ip),
    instances,
    peerPort: PEER_PORT,
    scheme: 'http',
    desiredCapacity,
  };
}

export function reconcileInput(
  c: Cluster,
  instances: GroupInstance[],
  over: Partial<ReconcileInput> = {},
): ReconcileInput {
  return {
    members: c.members,
    health: c.health,
    instances,
    strategy: JoinStrategy.REPLACE,
    peerPort: PEER_PORT,
    scheme: 'http',
    unstartedAgeSeconds: {},
    unstartedGraceSeconds: 600,
    ...over,
  };
}

/** A 64-character hex digest made of one repeated character. */
export const SHA = (c: string): string => c.repeat(64);

/** A snapshot of cluster 'abc' under prefix 'p/' (no sha256: not a restore candidate). */
export const snap = (time: number, revision: number, sha256?: string): SnapshotInfo => ({
  key: snapshotKey('p/', time, revision, 'abc'),
  time,
  revision,
  clusterId: 'abc',
  sha256,
});
