/*
 * Full snapshots in the bucket, the pure part: their keys (time, revision, cluster id) and which ones are
 * restore candidates. No I/O. The restore flow that uses them: ./restore.ts.
 */

export interface SnapshotInfo {
  readonly key: string;
  /** Epoch ms when the snapshot was started. */
  readonly time: number;
  /** The etcd revision read just before the snapshot: every write acknowledged at or below it is included. */
  readonly revision: number;
  /** Hex cluster id of the cluster the snapshot was taken from. */
  readonly clusterId: string;
  /** Hex sha256 of the snapshot bytes, from the object metadata (undefined when missing). */
  readonly sha256?: string;
  readonly size?: number;
  /**
   * Hex sha256 of the keyspace at `revision` (keyspaceSha256: every key, value, create and mod revision and
   * version), recorded by the backup from the member it snapshotted (sidecar); what a restore drill compares
   * (./drill.ts). Undefined for snapshots taken without it (the shipper's, older ones).
   */
  readonly contentSha256?: string;
}

/** Fixed-width, UTC, no separators that need escaping: lexical order = time order. */
export function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** `<prefix>snapshots/20261121T201500123Z-r00000000000000001234-<clusterId>.db` (sortable by time). */
export function snapshotKey(prefix: string, time: number, revision: number, clusterId: string): string {
  if (!Number.isSafeInteger(revision) || revision < 0) throw new Error(`bad revision ${revision}`);
  if (!/^[0-9a-f]+$/.test(clusterId)) throw new Error(`bad cluster id ${clusterId}`);
  return `${prefix}snapshots/${compactTime(time)}-r${String(revision).padStart(20, '0')}-${clusterId}.db`;
}

const KEY_RE = /snapshots\/(\d{8})T(\d{6})(\d{3})Z-r(\d{20})-([0-9a-f]+)\.db$/;

/** The time, revision and cluster id encoded in a snapshot key, or undefined when it is not one. */
export function parseSnapshotKey(
  key: string,
): Pick<SnapshotInfo, 'key' | 'time' | 'revision' | 'clusterId'> | undefined {
  const m = KEY_RE.exec(key);
  if (!m) return undefined;
  const [, d, t, ms, rev, clusterId] = m;
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}.${ms}Z`;
  const time = Date.parse(iso);
  if (!Number.isFinite(time)) return undefined;
  return { key, time, revision: Number(rev), clusterId };
}

/** Restore candidates, newest first (time, then revision); objects without a sha256 are never candidates. */
export function restoreCandidates(snapshots: readonly SnapshotInfo[]): SnapshotInfo[] {
  return snapshots
    .filter((s) => typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256))
    .sort((a, b) => b.time - a.time || b.revision - a.revision || (a.key < b.key ? 1 : -1));
}

/**
 * The snapshot to restore: the first candidate (newest first) that was not found corrupt. `refused` maps keys
 * to the reason they were refused (sha256 mismatch, unreadable).
 */
export function chooseSnapshot(
  candidates: readonly SnapshotInfo[],
  refused: Readonly<Record<string, string>>,
): SnapshotInfo | undefined {
  return restoreCandidates(candidates).find((s) => refused[s.key] === undefined);
}

/** Age in seconds of the newest snapshot that carries a sha256 (the metric NewestSnapshotAgeSeconds). */
export function newestSnapshotAgeSeconds(
  snapshots: readonly SnapshotInfo[],
  now: number,
): number | undefined {
  const newest = restoreCandidates(snapshots)[0];
  return newest ? Math.max(0, Math.round((now - newest.time) / 1000)) : undefined;
}
