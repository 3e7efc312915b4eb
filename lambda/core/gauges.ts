/*
 * gaugesOf: the values every reconcile publishes (issue 14, "See it"), from one observation. Pure.
 *
 * - HealthyVoters: started voters whose client endpoint answered healthy (0 when etcd is unreachable);
 * - DesiredCapacity: the group's;
 * - Learners, UnstartedMembers: from the member list;
 * - DbSizeBytes, DbSizeInUseBytes: the largest of any member that answered its status;
 * - QuotaUsedPercent: the largest dbSize against the backend quota;
 * - LeaderChanges: 1 when the leader differs from the one the previous reconcile recorded, else 0 (no
 *   record yet, or no leader now: 0);
 * - ActiveAlarms, CorruptAlarms: etcd's alarm list (NOSPACE and CORRUPT, per member and kind).
 * Size gauges are left out when no member reported a status: a missing point, not a false zero.
 */
import type { ActiveAlarm, MemberStatus } from './maintenance';
import { isStarted } from './quorum';
import type { Member } from './types';

export interface GaugeInput {
  /** null when etcd was unreachable. */
  readonly members: readonly Member[] | null;
  readonly health: Readonly<Record<string, boolean>>;
  readonly status: Readonly<Record<string, MemberStatus | undefined>>;
  /** undefined when the alarm list could not be read. */
  readonly alarms: readonly ActiveAlarm[] | undefined;
  readonly desiredCapacity: number;
  readonly quotaBackendBytes: number;
  /** The leader the previous reconcile recorded; undefined: none recorded. */
  readonly previousLeader: string | undefined;
}

export interface Gauges {
  readonly healthyVoters: number;
  readonly desiredCapacity: number;
  readonly learners: number;
  readonly unstartedMembers: number;
  readonly dbSizeBytes?: number;
  readonly dbSizeInUseBytes?: number;
  readonly quotaUsedPercent?: number;
  readonly leaderChanges: number;
  /** The leader all answering members agree on, or undefined. */
  readonly leader?: string;
  readonly activeAlarms?: number;
  readonly corruptAlarms?: number;
}

export function gaugesOf(input: GaugeInput): Gauges {
  const members = input.members ?? [];
  const voters = members.filter((m) => !m.isLearner && isStarted(m));
  const statuses = members.map((m) => input.status[m.id]).filter((s): s is MemberStatus => s !== undefined);
  const leaders = new Set(statuses.map((s) => s.leader).filter((l) => l !== '' && l !== '0'));
  const leader = leaders.size === 1 ? [...leaders][0] : undefined;
  const dbSize = statuses.length > 0 ? Math.max(...statuses.map((s) => s.dbSize)) : undefined;
  const dbSizeInUse = statuses.length > 0 ? Math.max(...statuses.map((s) => s.dbSizeInUse)) : undefined;
  return {
    healthyVoters: voters.filter((m) => input.health[m.id] === true).length,
    desiredCapacity: input.desiredCapacity,
    learners: members.filter((m) => m.isLearner).length,
    unstartedMembers: members.filter((m) => !isStarted(m)).length,
    ...(dbSize !== undefined && {
      dbSizeBytes: dbSize,
      dbSizeInUseBytes: dbSizeInUse,
      quotaUsedPercent: Math.round((dbSize / input.quotaBackendBytes) * 1000) / 10,
    }),
    leaderChanges:
      leader !== undefined && input.previousLeader !== undefined && leader !== input.previousLeader ? 1 : 0,
    ...(leader !== undefined && { leader }),
    ...(input.alarms && {
      activeAlarms: input.alarms.length,
      corruptAlarms: input.alarms.filter((a) => a.alarm === 'CORRUPT').length,
    }),
  };
}
