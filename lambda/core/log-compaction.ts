/*
 * Compaction while the incremental backup log is on (issue 16), the pure part: how far the Lambda may
 * compact so that compaction never discards a revision the log has not shipped. No I/O. The log itself:
 * ./incremental.ts.
 */
import type { ChunkInfo } from './incremental';

/** What the cluster keeps, in etcd's auto-compaction terms (the construct's `maintenance.compaction`). */
export type LogRetention =
  | { readonly kind: 'periodic'; readonly seconds: number }
  | { readonly kind: 'revisions'; readonly count: number };

export interface LogCompactionInput {
  readonly retention: LogRetention;
  /** The chunks of the serving cluster's log (other clusters' chunks are ignored). */
  readonly chunks: readonly ChunkInfo[];
  readonly clusterId: string;
  /** The cluster's current revision. */
  readonly currentRevision: number;
  readonly now: number;
  /**
   * How far behind the log may fall before compaction stops waiting for it (seconds): past it the shipper is
   * taken as broken, and the cluster's space wins over the log's continuity (the shipper closes the gap
   * with a full snapshot when it comes back).
   */
  readonly maxLagSeconds: number;
}

export type LogCompaction =
  | {
      readonly kind: 'compact';
      readonly revision: number;
      readonly reason: string;
      readonly pastLog: boolean;
    }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Compaction while the incremental log is on (etcd's own auto-compaction is off then): the revision to
 * compact to, never above the newest revision the log has shipped, so compaction never discards a revision
 * the log still needs. Periodic retention: the last revision of the newest chunk received `seconds` ago or
 * earlier (the chunks' times are the clock etcd's periodic compactor would sample). Revision retention: the
 * current revision minus `count`, capped at the newest shipped; a log behind by more than `maxLagSeconds`
 * (or none at all) no longer holds it back: the target is then what the retention alone gives (`pastLog`),
 * and the reason says the log will have a gap. Periodic retention with a broken log stays at the log's end
 * (no revision time is known past it) and says so.
 */
export function planLogCompaction(input: LogCompactionInput): LogCompaction {
  const own = input.chunks.filter((c) => c.clusterId === input.clusterId);
  const shipped = own.reduce((m, c) => Math.max(m, c.last), 0);
  const newestTime = own.reduce((m, c) => Math.max(m, c.time), 0);
  const lagging = shipped < input.currentRevision;
  const lagSeconds = lagging && newestTime > 0 ? (input.now - newestTime) / 1000 : 0;
  const broken = lagging && (own.length === 0 || lagSeconds > input.maxLagSeconds);
  const r = input.retention;
  if (r.kind === 'revisions') {
    const byRetention = input.currentRevision - r.count;
    if (byRetention < 1)
      return { kind: 'none', reason: `fewer than ${r.count} revisions: nothing to compact` };
    if (broken) {
      return {
        kind: 'compact',
        revision: byRetention,
        pastLog: byRetention > shipped,
        reason: brokenReason(own.length, lagSeconds, input.maxLagSeconds, shipped),
      };
    }
    const revision = Math.min(byRetention, shipped);
    if (revision < 1) return { kind: 'none', reason: 'the log has shipped nothing yet: nothing compacted' };
    return {
      kind: 'compact',
      revision,
      pastLog: false,
      reason:
        revision < byRetention
          ? `keep the last ${r.count} revisions, but not past the log's newest shipped revision ${shipped}`
          : `keep the last ${r.count} revisions (the log has shipped up to ${shipped})`,
    };
  }
  const cutoff = input.now - r.seconds * 1000;
  const byLog = own.filter((c) => c.time <= cutoff).reduce((m, c) => Math.max(m, c.last), 0);
  // Periodic: the chunks are the only clock of revisions; past the log's end none is known, so a broken
  // log holds compaction at its end (the NOSPACE recovery remains the way out, see runMaintenance).
  const behind = broken ? `; ${brokenReason(own.length, lagSeconds, input.maxLagSeconds, shipped)}` : '';
  if (byLog < 1) {
    return {
      kind: 'none',
      reason: `no shipped revision is older than the retention (${r.seconds} s) yet${behind}`,
    };
  }
  return {
    kind: 'compact',
    revision: byLog,
    pastLog: false,
    reason: `keep ${r.seconds} s of revisions: compact to ${byLog}, the newest revision shipped at least that long ago${behind}`,
  };
}

function brokenReason(chunks: number, lagSeconds: number, max: number, shipped: number): string {
  return chunks === 0
    ? `the incremental log has shipped nothing for this cluster: compaction does not wait for it`
    : `the incremental log is ${Math.round(lagSeconds)} s behind (more than ${max} s, at revision ${shipped}): compaction no longer waits for it; its shipper closes the gap with a full snapshot`;
}
