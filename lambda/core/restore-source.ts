/*
 * Disaster recovery, the pure part that picks what seeds the restored cluster (FAILURE-SCENARIOS 14): a
 * survivor's own data or the newest complete snapshot, whichever holds the higher revision. No I/O, no SDK
 * imports. The rest of the restore flow (snapshots, the verdict, the record and each agent's role) is in
 * ./restore.ts.
 */
import { ChunkInfo, planReplay } from './incremental';
import {
  chooseSeed,
  LIVE_STATES,
  RestoreLog,
  RestoreSource,
  restoreCandidates,
  SnapshotInfo,
} from './restore';
import type { GroupInstance, Member } from './types';

/** A point-in-time restore (issue 16): the state at a revision, or as of a time (epoch ms). */
export interface PointInTime {
  readonly untilRevision?: number;
  readonly untilTime?: number;
}

/**
 * The snapshots a point-in-time restore may start from: those taken at or before the point (revision read
 * before it at or below untilRevision; started at or before untilTime). Without a point: all of them.
 */
export function pointInTimeSnapshots(
  snapshots: readonly SnapshotInfo[],
  pit: PointInTime | undefined,
): SnapshotInfo[] {
  return snapshots.filter(
    (s) =>
      (pit?.untilRevision === undefined || s.revision <= pit.untilRevision) &&
      (pit?.untilTime === undefined || s.time <= pit.untilTime),
  );
}

function describePoint(pit: PointInTime): string {
  return [
    pit.untilRevision !== undefined ? `revision ${pit.untilRevision}` : '',
    pit.untilTime !== undefined ? `time ${new Date(pit.untilTime).toISOString()}` : '',
  ]
    .filter((x) => x)
    .join(' and ');
}

export interface RestoreSourceInput {
  /** The member list (from any endpoint), or null when none answered. */
  readonly members: readonly Member[] | null;
  /**
   * The revision each member reported through Maintenance.Status (it answers without a quorum), by member
   * id; a member that did not answer is absent or undefined.
   */
  readonly revisions: Readonly<Record<string, number | undefined>>;
  readonly instances: readonly GroupInstance[];
  /** The bucket's snapshots; the newest complete one (restoreCandidates) is the snapshot candidate. */
  readonly snapshots: readonly SnapshotInfo[];
  /**
   * The incremental log's chunks (issue 16; any cluster): the snapshot candidate counts with the revision
   * its continuous log reaches (planReplay). Absent: the snapshot's own revision, and no `log` in the choice.
   */
  readonly chunks?: readonly ChunkInfo[];
  /**
   * A point-in-time restore: no survivor is eligible (its data is the newest, not the requested point); the
   * newest snapshot at or before the point and its log up to it.
   */
  readonly pointInTime?: PointInTime;
}

/** One candidate as the decision line lists it. */
export interface SourceCandidate {
  /** `member <id> on <instance id>` or the snapshot key. */
  readonly source: string;
  /** A snapshot's: the revision its continuous log reaches (with chunks). */
  readonly revision?: number;
  /** A snapshot with a log: its own revision, and the chunks that extend it. */
  readonly snapshotRevision?: number;
  readonly logChunks?: number;
  /** Why it cannot seed (absent: it can). */
  readonly excluded?: string;
}

export type RestoreSourceChoice =
  | {
      readonly kind: 'chosen';
      readonly source: RestoreSource;
      /** The instance that seeds: the survivor itself, or for a snapshot chooseSeed's instance. */
      readonly seed: GroupInstance;
      readonly reason: string;
      readonly candidates: readonly SourceCandidate[];
      /**
       * What a snapshot seed replays from the log (the record's `log`); also with a survivor source (its seed
       * falls back to the snapshot when its data dir turns out empty). Absent without `chunks`.
       */
      readonly log?: RestoreLog;
    }
  | { readonly kind: 'none'; readonly reason: string; readonly candidates: readonly SourceCandidate[] };

/**
 * What seeds the restored cluster (FAILURE-SCENARIOS 14). Candidates: the local data of every member that
 * answered Maintenance.Status (its revision), and the newest complete snapshot (its revision from its
 * key / metadata). A member can seed only when it is a started voter (force-new-cluster on a learner would
 * leave a cluster without a voter) whose own instance is a live instance of the group with an address (the
 * trigger reboots it and its agent acts on the record). The highest revision wins; a tie prefers the
 * survivor (nothing to download, and its data is at least the snapshot's); among survivors with the same
 * revision the lowest instance id (deterministic).
 *
 * With the incremental log (issue 16, `chunks`) the snapshot candidate is the snapshot and its continuous log:
 * its revision is the one planReplay reaches, so a survivor seeds only when it holds at least that. A
 * point-in-time restore (`pointInTime`) never takes a survivor: the newest snapshot at or before the point,
 * and its log up to it.
 */
export function chooseRestoreSource(input: RestoreSourceInput): RestoreSourceChoice {
  const pit = input.pointInTime;
  const live = input.instances.filter((i) => i.privateIp && LIVE_STATES.test(i.lifecycleState));
  const candidates: SourceCandidate[] = [];
  const survivors: { member: Member; instance: GroupInstance; revision: number }[] = [];
  for (const m of input.members ?? []) {
    const revision = input.revisions[m.id];
    if (revision === undefined) continue;
    const source = `member ${m.id} on ${m.name || '(unstarted)'}`;
    const instance = live.find((i) => m.name !== '' && i.instanceId === m.name);
    const excluded = pit
      ? `a point-in-time restore (to ${describePoint(pit)}) starts from a snapshot and its log`
      : m.name === ''
        ? 'never started'
        : m.isLearner
          ? 'a learner (force-new-cluster needs a voter)'
          : !instance
            ? 'its instance is not a live instance of the group'
            : undefined;
    candidates.push({ source, revision, ...(excluded && { excluded }) });
    if (!excluded) survivors.push({ member: m, instance: instance!, revision });
  }
  survivors.sort(
    (a, b) =>
      b.revision - a.revision ||
      (a.instance.instanceId < b.instance.instanceId
        ? -1
        : a.instance.instanceId > b.instance.instanceId
          ? 1
          : 0),
  );
  const snap = restoreCandidates(pointInTimeSnapshots(input.snapshots, pit))[0];
  // The snapshot candidate's revision: the snapshot and its continuous log (the seed replays it).
  const plan =
    snap && input.chunks
      ? planReplay({
          snapshotRevision: snap.revision,
          clusterId: snap.clusterId,
          chunks: input.chunks,
          ...(pit?.untilRevision !== undefined && { untilRevision: pit.untilRevision }),
          ...(pit?.untilTime !== undefined && { untilTime: pit.untilTime }),
        })
      : undefined;
  const log: RestoreLog | undefined =
    snap && plan
      ? {
          clusterId: snap.clusterId,
          targetRevision: plan.targetRevision,
          chunks: plan.chunks.length,
          reason: plan.reason,
          ...(pit?.untilRevision !== undefined && { untilRevision: pit.untilRevision }),
          ...(pit?.untilTime !== undefined && { untilTime: pit.untilTime }),
        }
      : undefined;
  const snapRevision = plan ? plan.targetRevision : snap?.revision;
  const withLog = plan && plan.chunks.length > 0;
  const snapName = snap
    ? withLog
      ? `the newest snapshot (revision ${snap.revision}) and its log (${plan.chunks.length} chunk(s), to revision ${plan.targetRevision}: ${plan.reason})`
      : `the newest snapshot (revision ${snap.revision})`
    : '';
  if (snap) {
    candidates.push({
      source: snap.key,
      revision: snapRevision,
      ...(withLog && { snapshotRevision: snap.revision, logChunks: plan.chunks.length }),
    });
  }
  const best = survivors[0];
  if (best && (!snap || best.revision >= snapRevision!)) {
    return {
      kind: 'chosen',
      source: {
        kind: 'survivor',
        instanceId: best.instance.instanceId,
        memberId: best.member.id,
        revision: best.revision,
      },
      seed: best.instance,
      reason: snap
        ? best.revision === snapRevision
          ? `the survivor ${best.instance.instanceId} is at revision ${best.revision}, the same as ${snapName}: the survivor (no download)`
          : `the survivor ${best.instance.instanceId} is at revision ${best.revision}, newer than ${snapName}`
        : `the survivor ${best.instance.instanceId} is at revision ${best.revision}; no complete snapshot`,
      candidates,
      ...(log && { log }),
    };
  }
  if (!snap) {
    return {
      kind: 'none',
      reason: pit
        ? `a point-in-time restore (to ${describePoint(pit)}) needs a complete snapshot taken at or before it: there is none`
        : 'no member that can seed answered and no complete snapshot: nothing to restore from',
      candidates,
    };
  }
  const seed = chooseSeed(input.instances);
  if (!seed) {
    return {
      kind: 'none',
      reason: 'no live instance with an address in the group to be the seed: try again when one runs',
      candidates,
    };
  }
  return {
    kind: 'chosen',
    source: {
      kind: 'snapshot',
      key: snap.key,
      revision: snapRevision!,
      ...(withLog && { snapshotRevision: snap.revision }),
    },
    seed,
    reason: pit
      ? `point-in-time restore to ${describePoint(pit)}: ${snapName}`
      : best
        ? `${snapName} is newer than the best survivor ${best.instance.instanceId} (revision ${best.revision})`
        : `no member that can seed answered: ${snapName}`,
    candidates,
    ...(log && { log }),
  };
}
