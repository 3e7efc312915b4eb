/*
 * Backups and disaster recovery, the pure part: snapshot naming, which snapshot to restore, whether a
 * restore is due, the restore record (the fence) and what each instance's agent does with it, and the
 * data-loss bound. No I/O, no SDK imports.
 *
 * The flow (README "Backups and disaster recovery"):
 *  1. Backups: the lifecycle Lambda streams `maintenance.snapshot()` of a healthy voter to S3 under
 *     snapshotKey(); revision, cluster id, time and sha256 go into the key and the object metadata.
 *  2. Restore trigger (the Lambda: a manual `{"kind":"restore"}` invocation, or the scheduled reconcile under
 *     the `automatic` policy when planRestoreTrigger says so) writes the restore record of generation N+1
 *     with a conditional write (S3 If-None-Match: *) to restoreRecordKey(N+1). The record names its source
 *     (chooseRestoreSource: a survivor's own data or the newest snapshot, whichever has the higher revision),
 *     the seed and the candidate snapshots. Two triggers racing compute the same N+1: S3 accepts exactly one write, the
 *     other gets 412 and does nothing. So there is never more than one record per generation, hence never
 *     more than one seed per generation, hence two restores can never run at once.
 *  3. The trigger reboots the group's instances. At boot every agent reads the newest record and
 *     planRestoreRole() decides: a survivor seed starts once with force-new-cluster on its own data; a
 *     snapshot seed restores the newest verified snapshot into a fresh data dir and starts a one-member
 *     cluster; every other instance whose data dir is older than the record's generation
 *     wipes it and joins the restored cluster as a learner, as any new instance does.
 */
import { hasQuorum, isHealthy, quorum, voters } from './quorum';
import type { GroupInstance, GroupObservation, Member } from './types';

import { RestorePolicy } from '../../lib/contract';

export { RestorePolicy };

export * from './snapshots';
import { restoreCandidates, SnapshotInfo } from './snapshots';

// ---- Restore trigger -------------------------------------------------------------------------------------

export interface QuorumLossInput extends Omit<GroupObservation, 'members'> {
  /** The member list from any endpoint, or null when no endpoint answered. */
  readonly members: readonly Member[] | null;
  readonly desiredCapacity: number;
}

export type QuorumVerdict =
  | { readonly kind: 'quorum'; readonly reason: string }
  /** No quorum now, but enough voters may come back with their data (a reboot, a frozen process): wait. */
  | { readonly kind: 'degraded'; readonly reason: string }
  /** No quorum, and the voters that could still come back cannot make one: only a restore helps. */
  | { readonly kind: 'lost'; readonly reason: string };

export const LIVE_STATES = /^(Pending|Pending:Wait|Pending:Proceed|InService|Standby|Warmed:.*)$/;

function ipOf(peerURL: string): string | undefined {
  const m = /^https?:\/\/([^:/]+):\d+$/.exec(peerURL);
  return m ? m[1] : undefined;
}

/**
 * Whether a voter may still come back with its data (FAILURE-SCENARIOS 8, 14). Precisely: it is healthy, or
 * the very instance that ran it is still a live instance of the group (a reboot or a frozen process keeps the
 * instance and its volume). The agent names every member it starts after its instance (member name =
 * instance id), so the match is by identity, not by address: an instance that merely got the lost member's
 * address is a new instance with a new, empty volume. Never coming back as that member: an instance that left
 * the group (terminated: its volume went with it), a retained one (`Terminating:Retained`: its termination
 * was decided and only waits; the reconcile finishes it once its member is gone) or any other `Terminating`
 * state, and a member whose instance is unknown to the group. A voter without a name (added, never started)
 * has no data to come back with unless its address is held by a live instance that may still start it.
 */
export function mayComeBack(
  m: Member,
  health: Readonly<Record<string, boolean>>,
  instances: readonly GroupInstance[],
): boolean {
  if (isHealthy(m, health)) return true;
  const live = instances.filter((i) => LIVE_STATES.test(i.lifecycleState));
  if (m.name !== '') return live.some((i) => i.instanceId === m.name);
  return live.some((i) => i.privateIp !== undefined && m.peerURLs.some((u) => ipOf(u) === i.privateIp));
}

/**
 * Whether the cluster lost its quorum for good. Lost: healthy voters < quorum AND voters that may come back
 * (mayComeBack) < quorum. When no endpoint answers at all and the group wants instances, nothing of the
 * cluster is reachable: lost too (a full-cluster loss).
 */
export function classifyQuorum(input: QuorumLossInput): QuorumVerdict {
  if (input.members === null) {
    if (input.desiredCapacity === 0) return { kind: 'degraded', reason: 'the group is scaled to 0' };
    const live = input.instances.filter((i) => LIVE_STATES.test(i.lifecycleState)).length;
    return live === 0
      ? { kind: 'degraded', reason: 'no live instance in the group yet' }
      : { kind: 'lost', reason: `no etcd endpoint of ${live} live instance(s) answers` };
  }
  if (hasQuorum(input.members, input.health)) return { kind: 'quorum', reason: 'the cluster has a quorum' };
  const vs = voters(input.members);
  const q = quorum(vs.length);
  const healthy = vs.filter((m) => isHealthy(m, input.health));
  const recoverable = vs.filter((m) => mayComeBack(m, input.health, input.instances));
  const facts = `${healthy.length} healthy and ${recoverable.length} recoverable of ${vs.length} voters, quorum ${q}`;
  return recoverable.length >= q
    ? { kind: 'degraded', reason: `no quorum, but voters may come back with their data: ${facts}` }
    : { kind: 'lost', reason: `quorum lost for good: ${facts}` };
}

export interface RestoreTriggerInput {
  readonly policy: RestorePolicy;
  /** A manual trigger (`{"kind":"restore"}`): acts under either policy. */
  readonly manual: boolean;
  readonly verdict: QuorumVerdict;
  /** Epoch ms since when the verdict has been `lost` without a break (undefined: not recorded yet). */
  readonly lostSince?: number;
  readonly now: number;
  /** How long `lost` must hold before the automatic policy restores. */
  readonly boundSeconds: number;
  /** createdAt of the newest restore record: a restore still coming up looks like a lost quorum. */
  readonly lastRestoreAt?: number;
}

export type RestoreTrigger =
  { readonly kind: 'restore'; readonly reason: string } | { readonly kind: 'none'; readonly reason: string };

/**
 * A restore coming up (instances rebooting, the seed restoring) looks like a lost quorum for a moment: no new
 * restore within this many seconds (or the bound, if longer) of the last one.
 */
export const RESTORE_SETTLE_SECONDS = 60;

/** Whether this invocation should write a restore record. */
export function planRestoreTrigger(input: RestoreTriggerInput): RestoreTrigger {
  const { verdict } = input;
  if (verdict.kind !== 'lost') {
    return {
      kind: 'none',
      reason: `${input.manual ? 'manual restore refused' : 'no restore'}: ${verdict.reason}`,
    };
  }
  const settle = Math.max(input.boundSeconds, RESTORE_SETTLE_SECONDS);
  if (input.lastRestoreAt !== undefined && input.now - input.lastRestoreAt < settle * 1000) {
    return {
      kind: 'none',
      reason: `a restore started ${Math.round((input.now - input.lastRestoreAt) / 1000)} s ago (less than ${settle} s): waiting for it to come up`,
    };
  }
  if (input.manual) return { kind: 'restore', reason: `manual restore: ${verdict.reason}` };
  if (input.policy === RestorePolicy.MANUAL) {
    return {
      kind: 'none',
      reason: `${verdict.reason}; restore policy is manual: invoke the restore trigger to recover`,
    };
  }
  const since = input.lostSince ?? input.now;
  const heldMs = input.now - since;
  if (heldMs < input.boundSeconds * 1000) {
    return {
      kind: 'none',
      reason: `${verdict.reason}; held ${Math.round(heldMs / 1000)} s of ${input.boundSeconds} s before an automatic restore`,
    };
  }
  return {
    kind: 'restore',
    reason: `automatic restore: ${verdict.reason} for ${Math.round(heldMs / 1000)} s`,
  };
}

// ---- The restore record (the fence) ----------------------------------------------------------------------

/**
 * What seeds the cluster of a restore generation: a survivor's own data (its agent starts etcd with
 * force-new-cluster on it) or a snapshot. The revision is the one the choice compared.
 */
export type RestoreSource =
  | {
      readonly kind: 'survivor';
      readonly instanceId: string;
      readonly memberId: string;
      readonly revision: number;
    }
  | {
      readonly kind: 'snapshot';
      readonly key: string;
      /** The revision the snapshot and its continuous log reach (the snapshot's own without a log). */
      readonly revision: number;
      /** With a log: the snapshot's own revision. */
      readonly snapshotRevision?: number;
    };

/**
 * The incremental log's part of a restore record (issue 16): what the snapshot seed replays after the
 * snapshot. Absent in records written before the log: the snapshot only.
 */
export interface RestoreLog {
  /** The cluster id whose log extends the snapshot candidate. */
  readonly clusterId: string;
  /** The revision the snapshot and its continuous log reached when the record was written (planReplay). */
  readonly targetRevision: number;
  /** The chunks the plan named then. */
  readonly chunks: number;
  /** Why the plan ended there (the log's end, a hole, the requested point). */
  readonly reason: string;
  /** Point-in-time restore: replay no revision above this one. */
  readonly untilRevision?: number;
  /** Point-in-time restore: replay no revision received after this time (epoch ms). */
  readonly untilTime?: number;
}

export interface RestoreRecord {
  readonly generation: number;
  /** The instance that restores; every other instance wipes and joins. */
  readonly seedInstanceId: string;
  /**
   * What seeds the cluster. Absent in records written before survivors could seed: the snapshot path (the
   * first candidate that verifies).
   */
  readonly source?: RestoreSource;
  /** Candidates newest first; the seed uses the first whose sha256 verifies. */
  readonly snapshots: readonly SnapshotInfo[];
  /** What the snapshot seed replays from the incremental log (absent: the snapshot only, as before it). */
  readonly log?: RestoreLog;
  /** --initial-cluster-token of the restored cluster (distinct per generation). */
  readonly clusterToken: string;
  readonly createdAt: number;
  readonly reason: string;
}

/** `<prefix>restores/g0000000042.json`: lexical order = generation order. */
export function restoreRecordKey(prefix: string, generation: number): string {
  return `${prefix}restores/g${String(generation).padStart(10, '0')}.json`;
}

export function parseRestoreRecordKey(key: string): number | undefined {
  const m = /restores\/g(\d{10})\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/**
 * The seed: a live instance of the group with an address, lowest instance id first (deterministic, so two
 * triggers that race usually even agree; the fence makes it irrelevant whether they do).
 */
export function chooseSeed(instances: readonly GroupInstance[]): GroupInstance | undefined {
  return [...instances]
    .filter((i) => i.privateIp && LIVE_STATES.test(i.lifecycleState))
    .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0))[0];
}

export function buildRestoreRecord(
  latestGeneration: number,
  seed: GroupInstance,
  snapshots: readonly SnapshotInfo[],
  now: number,
  reason: string,
  source?: RestoreSource,
  log?: RestoreLog,
): RestoreRecord {
  const generation = latestGeneration + 1;
  return {
    generation,
    seedInstanceId: seed.instanceId,
    ...(source && { source }),
    snapshots: restoreCandidates(snapshots),
    ...(log && { log }),
    clusterToken: `cdk-elastic-etcd-restore-${generation}-${now.toString(36)}`,
    createdAt: now,
    reason,
  };
}

// ---- What an agent does with the newest record at boot ---------------------------------------------------

export interface RestoreRoleInput {
  /** The newest restore record, or undefined when there has never been a restore. */
  readonly record?: RestoreRecord;
  readonly instanceId: string;
  /** The restore generation the local data dir belongs to (0: made before any restore, or empty). */
  readonly localGeneration: number;
  readonly hasData: boolean;
}

export type RestoreRole =
  /** No restore newer than the local data: the normal join path. */
  | { readonly kind: 'none'; readonly reason: string }
  /** Restore the record's snapshot into a fresh data dir and start a one-member cluster. */
  | { readonly kind: 'seed'; readonly reason: string }
  /**
   * The record's source is this instance's own data: keep it and start etcd once with force-new-cluster (a
   * one-member cluster of this member, every other member removed, the data and the cluster id kept).
   */
  | { readonly kind: 'seed-survivor'; readonly reason: string }
  /** The local data dir belongs to an older cluster: wipe it, then the normal join path (as a learner). */
  | { readonly kind: 'wipe-and-join'; readonly reason: string }
  /** Empty data dir: mark it as of the record's generation, then the normal join path. */
  | { readonly kind: 'join'; readonly reason: string };

export function planRestoreRole(input: RestoreRoleInput): RestoreRole {
  const { record } = input;
  if (!record || input.localGeneration >= record.generation) {
    return {
      kind: 'none',
      reason: record
        ? `data dir is of restore generation ${input.localGeneration}, the newest is ${record.generation}`
        : 'no restore record',
    };
  }
  if (record.seedInstanceId === input.instanceId) {
    if (record.source?.kind === 'survivor') {
      return input.hasData
        ? {
            kind: 'seed-survivor',
            reason: `this instance is the seed of restore generation ${record.generation} from its own data (revision ${record.source.revision}): force-new-cluster, once`,
          }
        : {
            kind: 'seed',
            reason: `this instance is the seed of restore generation ${record.generation} from its own data, but its data dir is empty: the newest verified snapshot instead`,
          };
    }
    return { kind: 'seed', reason: `this instance is the seed of restore generation ${record.generation}` };
  }
  return input.hasData
    ? {
        kind: 'wipe-and-join',
        reason: `data dir is of generation ${input.localGeneration}, older than restore generation ${record.generation}: it must never rejoin the old cluster`,
      }
    : {
        kind: 'join',
        reason: `empty data dir: joins the cluster of restore generation ${record.generation}`,
      };
}

/**
 * The data-loss bound of a restore from `snapshot`: every write acknowledged at a revision <= the snapshot's
 * revision is restored; writes after it (at most `lastRevision - snapshot.revision` revisions, and at most the
 * time between the snapshot and the quorum loss) may be lost.
 */
export function dataLossBound(
  snapshot: SnapshotInfo,
  lastRevision?: number,
  lostAt?: number,
): { restoredUpToRevision: number; maxLostRevisions?: number; maxLostSeconds?: number } {
  return {
    restoredUpToRevision: snapshot.revision,
    ...(lastRevision !== undefined
      ? { maxLostRevisions: Math.max(0, lastRevision - snapshot.revision) }
      : {}),
    ...(lostAt !== undefined
      ? { maxLostSeconds: Math.max(0, Math.round((lostAt - snapshot.time) / 1000)) }
      : {}),
  };
}
