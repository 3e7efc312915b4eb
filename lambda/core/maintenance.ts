/*
 * planMaintenance: the next step of the backend maintenance (defragmentation, NOSPACE recovery). Pure.
 *
 * The caller (the lifecycle Lambda's maintenance run) observes, asks for one step, executes it, waits until
 * the member is healthy and caught up again, observes anew and asks again, until the step is `idle`,
 * `wait` or `corrupt`. `progress` carries what this run already did, so a run defragments each member at
 * most once and compacts at most once.
 *
 * Rules (issue 14):
 * - a CORRUPT alarm stops everything and is never disarmed here;
 * - nothing runs while a membership change or restore is in progress, while any member is a learner or
 *   unstarted, unhealthy, without a status, or behind the leader, or while the voters are fewer than the
 *   desired capacity;
 * - routine defragmentation only of members whose reclaimable space (dbSize - dbSizeInUse) exceeds both
 *   the ratio and the absolute threshold; one member at a time, followers first (most reclaimable first),
 *   the leader last and only after leadership moved to the most caught-up healthy follower;
 * - NOSPACE: compact once, then defragment every member in the same order, then disarm.
 */
import { handoffTarget } from './leader';
import { Member } from './types';

/** What one member's Maintenance.Status reported. Sizes in bytes. */
export interface MemberStatus {
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  /** The member's raft index. */
  readonly raftIndex: number;
  /** The leader's member id as this member sees it ('0' or '' when it knows none). */
  readonly leader: string;
  /** The etcd server version the member runs (`3.4.23`), when it reported one. */
  readonly version?: string;
  /** The revision of the member's own keyspace (the response header), when it reported one. */
  readonly revision?: number;
}

/** An active etcd alarm (AlarmType names as etcd reports them). */
export interface ActiveAlarm {
  readonly memberId: string;
  readonly alarm: 'NOSPACE' | 'CORRUPT';
}

export interface MaintenanceThresholds {
  /** Defragment only when (dbSize - dbSizeInUse) / dbSize is at least this (0..1). */
  readonly reclaimRatio: number;
  /** ...and dbSize - dbSizeInUse is at least this many bytes. */
  readonly reclaimMinBytes: number;
  /** A member is caught up when its raft index is at most this many entries behind the leader's. */
  readonly maxLagEntries: number;
}

export interface MaintenanceInput {
  readonly members: readonly Member[];
  /** Health of each member's client endpoint, by member id; missing counts as unhealthy. */
  readonly health: Readonly<Record<string, boolean>>;
  /** Maintenance.Status of each member, by member id; missing = no answer. */
  readonly status: Readonly<Record<string, MemberStatus | undefined>>;
  readonly alarms: readonly ActiveAlarm[];
  readonly desiredCapacity: number;
  /** A join, removal or restore holds the membership lock or is under way. */
  readonly changeInProgress: boolean;
  readonly thresholds: MaintenanceThresholds;
  /** What this run did already. */
  readonly progress: MaintenanceProgress;
}

export interface MaintenanceProgress {
  readonly compacted: boolean;
  /** Member ids defragmented in this run. */
  readonly defragmented: readonly string[];
}

export type MaintenanceStep =
  | { readonly kind: 'idle'; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'corrupt'; readonly memberIds: readonly string[]; readonly reason: string }
  | { readonly kind: 'compact'; readonly reason: string }
  | { readonly kind: 'move-leader'; readonly from: string; readonly to: string; readonly reason: string }
  | { readonly kind: 'defragment'; readonly memberId: string; readonly reason: string }
  | { readonly kind: 'disarm'; readonly alarm: 'NOSPACE'; readonly reason: string };

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const reclaimable = (s: MemberStatus) => Math.max(0, s.dbSize - s.dbSizeInUse);
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function planMaintenance(input: MaintenanceInput): MaintenanceStep {
  const { members, status, alarms, thresholds, progress } = input;
  const corrupt = alarms.filter((a) => a.alarm === 'CORRUPT').map((a) => a.memberId);
  if (corrupt.length > 0) {
    return {
      kind: 'corrupt',
      memberIds: [...new Set(corrupt)].sort(byId),
      reason: `CORRUPT alarm on ${[...new Set(corrupt)].sort(byId).join(', ')}: no maintenance, never disarmed automatically`,
    };
  }
  const ready = readiness(input);
  if (typeof ready === 'string') return { kind: 'wait', reason: ready };
  const { leader } = ready;

  const nospace = alarms.some((a) => a.alarm === 'NOSPACE');
  if (nospace && !progress.compacted) {
    return { kind: 'compact', reason: 'NOSPACE alarm active: compacting the keyspace before defragmenting' };
  }
  const left = members.filter((m) => !progress.defragmented.includes(m.id));
  const candidates = nospace
    ? left
    : left.filter((m) => {
        const s = status[m.id]!;
        const free = reclaimable(s);
        return (
          free >= thresholds.reclaimMinBytes && s.dbSize > 0 && free / s.dbSize >= thresholds.reclaimRatio
        );
      });
  if (candidates.length === 0) {
    if (nospace) {
      return {
        kind: 'disarm',
        alarm: 'NOSPACE',
        reason: 'compacted and every member defragmented: disarming NOSPACE',
      };
    }
    const most = [...members].sort((a, b) => reclaimable(status[b.id]!) - reclaimable(status[a.id]!))[0];
    const s = status[most.id]!;
    return {
      kind: 'idle',
      reason:
        `no member over the thresholds (${Math.round(thresholds.reclaimRatio * 100)} % and ` +
        `${mib(thresholds.reclaimMinBytes)}); most reclaimable: ${most.id} with ${mib(reclaimable(s))} of ${mib(s.dbSize)}`,
    };
  }
  const followers = candidates
    .filter((m) => m.id !== leader)
    .sort((a, b) => reclaimable(status[b.id]!) - reclaimable(status[a.id]!) || byId(a.id, b.id));
  const why = (m: Member) =>
    nospace
      ? 'NOSPACE recovery'
      : `${mib(reclaimable(status[m.id]!))} reclaimable of ${mib(status[m.id]!.dbSize)}`;
  if (followers.length > 0) {
    const m = followers[0];
    return { kind: 'defragment', memberId: m.id, reason: `follower ${m.id}: ${why(m)}` };
  }
  const leaderMember = members.find((m) => m.id === leader)!;
  if (members.length === 1) {
    return {
      kind: 'defragment',
      memberId: leader,
      reason: `single member ${leader}: ${why(leaderMember)}; it blocks while defragmenting`,
    };
  }
  const target = handoffTarget(
    members,
    leader,
    input.health,
    Object.fromEntries(members.map((m) => [m.id, status[m.id]!.raftIndex])),
  );
  if (target.kind === 'none') return { kind: 'wait', reason: target.reason };
  return {
    kind: 'move-leader',
    from: leader,
    to: target.memberId,
    reason: `leader ${leader} is next (${why(leaderMember)}): moving leadership first; ${target.reason}`,
  };
}

/** The leader when the cluster may be maintained now, else why not. */
function readiness(input: MaintenanceInput): { leader: string } | string {
  const { members, health, status, thresholds } = input;
  if (input.changeInProgress) return 'a membership change or restore is in progress';
  if (members.length === 0) return 'no members';
  const joining = members.filter((m) => m.isLearner || m.name === '' || m.clientURLs.length === 0);
  if (joining.length > 0) return `member ${joining[0].id} is a learner or unstarted`;
  if (members.length < input.desiredCapacity) {
    return `${members.length} voters, fewer than the desired capacity ${input.desiredCapacity}`;
  }
  const unhealthy = members.filter((m) => health[m.id] !== true);
  if (unhealthy.length > 0) return `member ${unhealthy[0].id} is not healthy`;
  const silent = members.filter((m) => status[m.id] === undefined);
  if (silent.length > 0) return `no status from member ${silent[0].id}`;
  const leaders = new Set(members.map((m) => status[m.id]!.leader));
  const leader = [...leaders][0];
  if (leaders.size !== 1 || !members.some((m) => m.id === leader)) {
    return `the members do not agree on a leader among them (${[...leaders].sort(byId).join(', ')})`;
  }
  const top = status[leader]!.raftIndex;
  const behind = members.find((m) => top - status[m.id]!.raftIndex > thresholds.maxLagEntries);
  if (behind) {
    return `member ${behind.id} is ${top - status[behind.id]!.raftIndex} entries behind the leader (more than ${thresholds.maxLagEntries})`;
  }
  return { leader };
}
