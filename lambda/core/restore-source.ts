/*
 * Disaster recovery, the pure part that picks what seeds the restored cluster (FAILURE-SCENARIOS 14): a
 * survivor's own data or the newest complete snapshot, whichever holds the higher revision. No I/O, no SDK
 * imports. The rest of the restore flow (snapshots, the verdict, the record and each agent's role) is in
 * ./restore.ts.
 */
import { chooseSeed, LIVE_STATES, RestoreSource, restoreCandidates, SnapshotInfo } from './restore';
import type { GroupInstance, Member } from './types';

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
}

/** One candidate as the decision line lists it. */
export interface SourceCandidate {
  /** `member <id> on <instance id>` or the snapshot key. */
  readonly source: string;
  readonly revision?: number;
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
 */
export function chooseRestoreSource(input: RestoreSourceInput): RestoreSourceChoice {
  const live = input.instances.filter((i) => i.privateIp && LIVE_STATES.test(i.lifecycleState));
  const candidates: SourceCandidate[] = [];
  const survivors: { member: Member; instance: GroupInstance; revision: number }[] = [];
  for (const m of input.members ?? []) {
    const revision = input.revisions[m.id];
    if (revision === undefined) continue;
    const source = `member ${m.id} on ${m.name || '(unstarted)'}`;
    const instance = live.find((i) => m.name !== '' && i.instanceId === m.name);
    const excluded =
      m.name === ''
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
  const snap = restoreCandidates(input.snapshots)[0];
  if (snap) candidates.push({ source: snap.key, revision: snap.revision });
  const best = survivors[0];
  if (best && (!snap || best.revision >= snap.revision)) {
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
        ? best.revision === snap.revision
          ? `the survivor ${best.instance.instanceId} is at revision ${best.revision}, the same as the newest snapshot: the survivor (no download)`
          : `the survivor ${best.instance.instanceId} is at revision ${best.revision}, newer than the newest snapshot (revision ${snap.revision})`
        : `the survivor ${best.instance.instanceId} is at revision ${best.revision}; no complete snapshot`,
      candidates,
    };
  }
  if (!snap) {
    return {
      kind: 'none',
      reason: 'no member that can seed answered and no complete snapshot: nothing to restore from',
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
    source: { kind: 'snapshot', key: snap.key, revision: snap.revision },
    seed,
    reason: best
      ? `the newest snapshot (revision ${snap.revision}) is newer than the best survivor ${best.instance.instanceId} (revision ${best.revision})`
      : `no member that can seed answered: the newest snapshot (revision ${snap.revision})`,
    candidates,
  };
}
