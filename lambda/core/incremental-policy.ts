/*
 * What the incremental backup log changes in the Lambda's backups (issue 16), the pure part: whether the
 * pre-removal snapshot can be skipped, and which chunks retention deletes. No I/O, no SDK imports.
 */
import { ChunkInfo, logLagSeconds, planReplay } from './incremental';
import { restoreCandidates, SnapshotInfo } from './restore';

/**
 * How much later than its bound the log may be and still count as current: the shipper's upload and a
 * listing's view of it.
 */
export const LOG_CURRENT_SLACK_SECONDS = 5;

export interface PreRemovalInput {
  /** The configured chunk age bound (INCREMENTAL_BACKUP_SECONDS); undefined: no incremental log. */
  readonly incrementalBackupSeconds?: number;
  /** The cluster's id (hex) and current revision, as a member reported them; undefined when none answered. */
  readonly clusterId?: string;
  readonly clusterRevision?: number;
  readonly snapshots: readonly SnapshotInfo[];
  readonly chunks: readonly ChunkInfo[];
  readonly now: number;
}

export type PreRemovalDecision =
  | { readonly kind: 'skip'; readonly lagSeconds: number; readonly reason: string }
  | { readonly kind: 'take'; readonly lagSeconds?: number; readonly reason: string };

/**
 * Whether the pre-removal snapshot is needed. Skipped only when the state just before the removal is
 * restorable without it: the newest complete snapshot of this cluster and its log without a hole reach the
 * cluster's revision, or the newest revision they hold was received at most the bound + slack ago.
 */
export function planPreRemovalSnapshot(input: PreRemovalInput): PreRemovalDecision {
  const bound = input.incrementalBackupSeconds;
  if (bound === undefined) return { kind: 'take', reason: 'no incremental log configured' };
  const { clusterId, clusterRevision } = input;
  if (clusterId === undefined || clusterRevision === undefined) {
    return { kind: 'take', reason: "the cluster's id or revision is unknown (no member answered)" };
  }
  const snap = restoreCandidates(input.snapshots).find((s) => s.clusterId === clusterId);
  if (!snap)
    return { kind: 'take', reason: `no complete snapshot of cluster ${clusterId} for the log to extend` };
  const plan = planReplay({ snapshotRevision: snap.revision, clusterId, chunks: input.chunks });
  if (plan.gap) {
    return {
      kind: 'take',
      reason: `the log does not extend the newest snapshot (revision ${snap.revision}) without a hole: ${plan.reason}`,
    };
  }
  if (plan.targetRevision >= clusterRevision) {
    return {
      kind: 'skip',
      lagSeconds: 0,
      reason: `the newest snapshot (revision ${snap.revision}) and its log hold the cluster's revision ${clusterRevision}`,
    };
  }
  const own = input.chunks.filter((c) => c.clusterId === clusterId && c.last <= plan.targetRevision);
  const lag = plan.chunks.length > 0 ? logLagSeconds(own, clusterId, clusterRevision, input.now) : undefined;
  if (lag === undefined) {
    return {
      kind: 'take',
      reason: `no chunk extends the newest snapshot (revision ${snap.revision}) and the cluster is at revision ${clusterRevision}`,
    };
  }
  const limit = bound + LOG_CURRENT_SLACK_SECONDS;
  return lag <= limit
    ? {
        kind: 'skip',
        lagSeconds: lag,
        reason: `the incremental log is current: ${lag} s behind (at most ${bound} s + ${LOG_CURRENT_SLACK_SECONDS} s), continuous from the newest snapshot (revision ${snap.revision}) to revision ${plan.targetRevision}`,
      }
    : {
        kind: 'take',
        lagSeconds: lag,
        reason: `the incremental log is ${lag} s behind (more than ${bound} s + ${LOG_CURRENT_SLACK_SECONDS} s)`,
      };
}

/**
 * Retention of the log (run after each stored snapshot): a chunk is deleted when no retained snapshot can use
 * it, i.e. its cluster has no complete snapshot left (they expired), or every revision it holds is at or
 * below the oldest complete snapshot of its cluster (a restore from any retained snapshot skips it).
 */
export function planChunkRetention(
  chunks: readonly ChunkInfo[],
  snapshots: readonly SnapshotInfo[],
): { readonly delete: ChunkInfo[]; readonly reasons: Readonly<Record<string, string>> } {
  const oldest = new Map<string, SnapshotInfo>();
  for (const s of restoreCandidates(snapshots)) {
    const o = oldest.get(s.clusterId);
    if (!o || s.revision < o.revision) oldest.set(s.clusterId, s);
  }
  const out: ChunkInfo[] = [];
  const reasons: Record<string, string> = {};
  for (const c of chunks) {
    const o = oldest.get(c.clusterId);
    if (!o) {
      out.push(c);
      reasons[c.clusterId] = `no complete snapshot of cluster ${c.clusterId} is retained`;
    } else if (c.last <= o.revision) {
      out.push(c);
      reasons[c.clusterId] =
        `chunks at or below the oldest retained snapshot of cluster ${c.clusterId} (revision ${o.revision})`;
    }
  }
  return { delete: out, reasons };
}
