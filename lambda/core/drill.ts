/*
 * Restore drills (issue 16, "Backups proven restorable"), the pure part: what a drill of one snapshot proved,
 * the age of the newest proof (the metric LastVerifiedRestoreAgeSeconds), and that a snapshot which failed
 * its drill is never chosen. No I/O, no SDK imports. The drill itself (restore into a scratch etcd off the
 * serving path, with the configured image's etcd) is lambda/agent/drill.ts.
 */
import type { SnapshotInfo } from './restore';

/** What a drill read from the scratch etcd on the restored snapshot. */
export interface DrillObservation {
  /** The store's revision after the restore. */
  readonly restoredRevision: number;
  /** sha256 of the restored keyspace at restoredRevision (ScratchEtcd.contentSha256). */
  readonly contentSha256: string;
}

/** The outcome of one drill, as kept beside the snapshot. */
export interface DrillResult {
  readonly key: string;
  /** Epoch ms when the drill finished. */
  readonly at: number;
  readonly ok: boolean;
  readonly restoredRevision?: number;
  readonly contentSha256?: string;
  readonly reason: string;
}

/**
 * Whether the restored snapshot is what was recorded: its revision at least the recorded one (which was read
 * just before the snapshot was taken), and, when a content digest was recorded at that revision, the same one.
 */
export function judgeDrill(
  snapshot: Pick<SnapshotInfo, 'key' | 'revision'>,
  observed: DrillObservation,
  recordedSha256?: string,
): { readonly ok: boolean; readonly reason: string } {
  if (observed.restoredRevision < snapshot.revision) {
    return {
      ok: false,
      reason: `the restored snapshot holds revision ${observed.restoredRevision}, below the recorded revision ${snapshot.revision}`,
    };
  }
  if (recordedSha256 !== undefined && recordedSha256 !== observed.contentSha256) {
    return {
      ok: false,
      reason: `the restored keyspace's sha256 ${observed.contentSha256} differs from the recorded ${recordedSha256}`,
    };
  }
  return {
    ok: true,
    reason: `restored to revision ${observed.restoredRevision} (recorded ${snapshot.revision}), keyspace sha256 ${observed.contentSha256}${recordedSha256 !== undefined ? ' as recorded' : ''}`,
  };
}

/** Seconds since the newest successful drill (LastVerifiedRestoreAgeSeconds); undefined without one. */
export function lastVerifiedRestoreAgeSeconds(
  drills: readonly DrillResult[],
  now: number,
): number | undefined {
  const ok = drills.filter((d) => d.ok);
  if (ok.length === 0) return undefined;
  const newest = Math.max(...ok.map((d) => d.at));
  return Math.max(0, Math.round((now - newest) / 1000));
}

/**
 * The snapshots a restore may choose: those whose newest drill did not fail (a snapshot never drilled
 * stays a candidate: the seed verifies its sha256 anyway).
 */
export function withoutFailedDrills(
  snapshots: readonly SnapshotInfo[],
  drills: readonly DrillResult[],
): SnapshotInfo[] {
  const newest = new Map<string, DrillResult>();
  for (const d of drills) {
    const n = newest.get(d.key);
    if (!n || d.at > n.at) newest.set(d.key, d);
  }
  return snapshots.filter((s) => newest.get(s.key)?.ok !== false);
}
