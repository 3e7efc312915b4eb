/*
 * Quorum math and member classification. Pure functions of their input: no I/O, no clock, no randomness.
 *
 * Vocabulary (as etcd uses it):
 * - voter: a member that is not a learner. An added-but-never-started voter still counts in the quorum
 *   denominator (etcd's strict reconfig check treats it as "not started").
 * - started: the member published its name and client URLs (etcd's member list shows them).
 * - healthy: the caller's health probe of the member's client endpoint succeeded; a member missing from the
 *   health map counts as unhealthy.
 * - dead: unstarted or unhealthy.
 */
import { GroupInstance, Member } from './types';

/** Majority of n voters: floor(n/2)+1. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Started = the member published its name and at least one client URL. */
export function isStarted(member: Member): boolean {
  return member.name !== '' && member.clientURLs.length > 0;
}

/** Health as the caller observed it; a member missing from the map counts as unhealthy. */
export function isHealthy(member: Member, health: Readonly<Record<string, boolean>>): boolean {
  return Object.prototype.hasOwnProperty.call(health, member.id) && health[member.id] === true;
}

/** Unstarted or unhealthy. */
export function isDead(member: Member, health: Readonly<Record<string, boolean>>): boolean {
  return !isStarted(member) || !isHealthy(member, health);
}

/** Voters (not learners), started or not. */
export function voters(members: readonly Member[]): Member[] {
  return members.filter((m) => !m.isLearner);
}

/** Learners, started or not. */
export function learners(members: readonly Member[]): Member[] {
  return members.filter((m) => m.isLearner);
}

/** Members that were added but never started (voters or learners). */
export function unstarted(members: readonly Member[]): Member[] {
  return members.filter((m) => !isStarted(m));
}

/** Learners and unstarted members: the members that occupy etcd's single "joining" slot. */
export function pendingMembers(members: readonly Member[]): Member[] {
  return members.filter((m) => m.isLearner || !isStarted(m));
}

/** A started, healthy voter: the only kind of member that counts towards a working quorum. */
export function isHealthyStartedVoter(member: Member, health: Readonly<Record<string, boolean>>): boolean {
  return !member.isLearner && isStarted(member) && isHealthy(member, health);
}

export function healthyStartedVoterCount(
  members: readonly Member[],
  health: Readonly<Record<string, boolean>>,
): number {
  return members.filter((m) => isHealthyStartedVoter(m, health)).length;
}

/** The membership has a working quorum: healthy started voters >= quorum(voters). */
export function hasQuorum(members: readonly Member[], health: Readonly<Record<string, boolean>>): boolean {
  return healthyStartedVoterCount(members, health) >= quorum(voters(members).length);
}

/** The membership without the member with this id. */
export function withoutMember(members: readonly Member[], memberId: string): Member[] {
  return members.filter((m) => m.id !== memberId);
}

/**
 * Whether removing this member keeps a working quorum: after the removal, the healthy started voters of the
 * resulting membership must be >= quorum(resulting voter count).
 *
 * Removing a learner or an unstarted member is always safe for quorum: it never lowers the number of healthy
 * started voters, and never raises the quorum (a learner is not counted; an unstarted voter only lowers the
 * denominator). Callers that must not change a membership without a working quorum check `hasQuorum` too
 * (without a quorum no removal can commit anyway).
 *
 * A member id that is not in the list is not removable (false).
 */
export function canRemove(
  members: readonly Member[],
  health: Readonly<Record<string, boolean>>,
  memberId: string,
): boolean {
  const target = members.find((m) => m.id === memberId);
  if (!target) return false;
  if (target.isLearner || !isStarted(target)) return true;
  const after = withoutMember(members, memberId);
  return healthyStartedVoterCount(after, health) >= quorum(voters(after).length);
}

/**
 * elastic-etcd's quorum check before an add: even if the new member never starts, the cluster keeps its
 * quorum: healthy started voters >= quorum(voters + 1). (A learner is added, but it becomes a voter once
 * promoted: the check is made for the voter it will become.)
 */
export function canAddVoterSafely(
  members: readonly Member[],
  health: Readonly<Record<string, boolean>>,
): boolean {
  return healthyStartedVoterCount(members, health) >= quorum(voters(members).length + 1);
}

/** `scheme://ip:port`, the exact peer (or client) URL of an instance. */
export function peerURLFor(ip: string, port: number, scheme: 'http' | 'https'): string {
  return `${scheme}://${ip}:${port}`;
}

/** Normalises a URL for comparison: only trailing slashes are dropped (no case folding, no parsing). */
export function normalizeURL(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Exact URL equality after normalising a trailing slash: 10.0.2.15 never matches 10.0.2.150. */
export function sameURL(a: string, b: string): boolean {
  return normalizeURL(a) === normalizeURL(b);
}

/** Whether the member advertises exactly this peer URL. */
export function hasPeerURL(member: Member, peerURL: string): boolean {
  return member.peerURLs.some((u) => sameURL(u, peerURL));
}

/** The member that advertises exactly this peer URL (the first one, in member-list order). */
export function memberByPeerURL(members: readonly Member[], peerURL: string): Member | undefined {
  return members.find((m) => hasPeerURL(m, peerURL));
}

/** EC2 instance ids; the agent names each member after the instance that started it. */
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * Whether the member is (or is to be) this instance's etcd: the exact peer URL, and, for a started member
 * named after an instance id, that id. A started member named after another instance belongs to that one,
 * even when a new instance got its old address (FAILURE-SCENARIOS 10): it is a dead predecessor, not the
 * new instance's member.
 */
export function memberBelongsTo(
  member: Member,
  instance: GroupInstance,
  peerPort: number,
  scheme: 'http' | 'https',
): boolean {
  if (instance.privateIp === undefined) return false;
  if (!hasPeerURL(member, peerURLFor(instance.privateIp, peerPort, scheme))) return false;
  return !(isStarted(member) && INSTANCE_ID.test(member.name) && member.name !== instance.instanceId);
}

/** The instance a member belongs to (see memberBelongsTo). */
export function instanceOfMember(
  member: Member,
  instances: readonly GroupInstance[],
  peerPort: number,
  scheme: 'http' | 'https',
): GroupInstance | undefined {
  return instances.find((i) => memberBelongsTo(member, i, peerPort, scheme));
}

/**
 * Whether some instance of the group that is not terminating or terminated owns the member (exact peer URL,
 * and its name where the name is an instance id). Independent of the order of the listing (a listing may
 * briefly show an old and a new instance with the same IP).
 */
export function hasRunningInstance(
  member: Member,
  instances: readonly GroupInstance[],
  peerPort: number,
  scheme: 'http' | 'https',
): boolean {
  return instances.some(
    (i) => !isTerminatingState(i.lifecycleState) && memberBelongsTo(member, i, peerPort, scheme),
  );
}

/** The member that belongs to the instance (see memberBelongsTo). */
export function memberOfInstance(
  instance: GroupInstance,
  members: readonly Member[],
  peerPort: number,
  scheme: 'http' | 'https',
): Member | undefined {
  return members.find((m) => memberBelongsTo(m, instance, peerPort, scheme));
}

/** ASG lifecycle state of an instance that is on its way out (or gone). */
export function isTerminatingState(state: string): boolean {
  return state.startsWith('Terminating') || state === 'Terminated';
}

/**
 * Instances that count as members-to-be of the group: not terminating or terminated, not in standby, not
 * in a warm pool.
 */
export function isActiveInstanceState(state: string): boolean {
  return !isTerminatingState(state) && state !== 'Standby' && !state.startsWith('Warmed:');
}
