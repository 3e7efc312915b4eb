/*
 * The incremental backup log's shipper, the pure part (issue 16): where an elected shipper starts (the log's
 * end, the newest snapshot, or a new snapshot when the log has a hole or no base), how watched events become
 * the log's revisions (consecutive, or a jump that is a gap), and when the buffer is flushed as a chunk. No
 * I/O, no SDK imports; lambda/agent/ship.ts runs it against etcd and the bucket.
 */
import { ChunkInfo, ChunkOp, ChunkRevision, planReplay } from './incremental';

/**
 * The members' shippers campaign in an etcd election (one writer at a time): etcd3's Election `shipper` in the
 * namespace `cdk-elastic-etcd/backup/`, so the campaign keys (one per candidate, on its lease; the lowest
 * create revision leads) are `SHIPPER_ELECTION_KEY<lease id>`. Like the join lock, they are the project's own
 * coordination keys under `cdk-elastic-etcd/`, lease-bound.
 */
export const SHIPPER_NAMESPACE = 'cdk-elastic-etcd/backup/';
export const SHIPPER_ELECTION = 'shipper';
export const SHIPPER_ELECTION_KEY = `${SHIPPER_NAMESPACE}election/${SHIPPER_ELECTION}/`;
/** TTL of the campaign's lease: a shipper that dies (or loses its member) is replaced after this. */
export const SHIPPER_LEASE_TTL_SECONDS = 5;
/** A chunk is flushed before it holds more than this many bytes of keys and values... */
export const CHUNK_MAX_BYTES = 4 * 1024 * 1024;
/** ... or this many revisions. */
export const CHUNK_MAX_REVISIONS = 10_000;

/** A complete snapshot in the bucket, as its key says. */
export interface BaseSnapshot {
  readonly key: string;
  readonly revision: number;
  readonly clusterId: string;
}

export type ShipStart =
  | {
      /** Watch from `revision + 1`: the log (or the snapshot) holds everything up to `revision`. */
      readonly kind: 'resume';
      readonly revision: number;
      /** The snapshot the chain extends. */
      readonly base: string;
      /** Chunks of the chain after it. */
      readonly chunks: number;
      readonly reason: string;
    }
  | {
      /** Take a full snapshot and start the chain from its revision. */
      readonly kind: 'snapshot';
      readonly reason: string;
      /** The hole in the log that the snapshot closes. */
      readonly gap?: { readonly from: number; readonly to: number };
    };

/**
 * Where a newly elected shipper starts. The chain must extend the newest complete snapshot of this cluster
 * without a hole (planReplay: the restore's own plan): then it resumes at the chain's end. No snapshot of this
 * cluster (a new or restored cluster, or retention removed it): a snapshot first. A hole in the chain after
 * the newest snapshot (a chunk lost, a shipper that skipped revisions): a snapshot, naming the hole.
 */
export function planShipStart(input: {
  readonly clusterId: string;
  readonly chunks: readonly ChunkInfo[];
  readonly snapshots: readonly BaseSnapshot[];
}): ShipStart {
  const own = input.snapshots.filter((s) => s.clusterId === input.clusterId);
  if (own.length === 0) {
    return {
      kind: 'snapshot',
      reason: `no complete snapshot of cluster ${input.clusterId} in the bucket: the log needs a base`,
    };
  }
  const base = own.reduce((a, b) => (b.revision > a.revision ? b : a));
  const plan = planReplay({
    snapshotRevision: base.revision,
    clusterId: input.clusterId,
    chunks: input.chunks,
  });
  if (plan.gap) {
    return {
      kind: 'snapshot',
      reason: `the log after snapshot ${base.key} has a hole: ${plan.reason}`,
      gap: plan.gap,
    };
  }
  return {
    kind: 'resume',
    revision: plan.targetRevision,
    base: base.key,
    chunks: plan.chunks.length,
    reason:
      plan.chunks.length === 0
        ? `no chunk extends snapshot ${base.key} (revision ${base.revision}): the log starts after it`
        : `${plan.chunks.length} chunk(s) extend snapshot ${base.key} up to revision ${plan.targetRevision}`,
  };
}

/** One watched event (etcd's mvccpb.Event, reduced). */
export interface WatchedEvent {
  readonly revision: number;
  readonly kind: 'put' | 'delete';
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  /** Put with a lease (etcd's kv.lease is not 0). */
  readonly leased?: boolean;
}

/**
 * The events of one watch response as the log's revisions: grouped by revision (one transaction each), in
 * order, each stamped with the receipt time. They must continue the log at `next`; a revision that skips
 * ahead (or goes back) is a jump: the revisions before it are returned, the jump is named, and the shipper
 * treats it as a gap.
 */
export function groupRevisions(
  next: number,
  events: readonly WatchedEvent[],
  time: number,
): { revisions: ChunkRevision[]; next: number; jump?: { expected: number; got: number } } {
  const revisions: ChunkRevision[] = [];
  let ops: ChunkOp[] = [];
  let current = 0;
  const close = () => {
    if (current !== 0) revisions.push({ revision: current, time, ops });
  };
  for (const e of events) {
    if (e.revision !== current) {
      const want = current === 0 ? next : current + 1;
      if (e.revision !== want) {
        close();
        return { revisions, next: want, jump: { expected: want, got: e.revision } };
      }
      close();
      current = e.revision;
      ops = [];
    }
    ops.push(
      e.kind === 'put'
        ? { kind: 'put', key: e.key, value: e.value ?? new Uint8Array(), ...(e.leased && { leased: true }) }
        : { kind: 'delete', key: e.key },
    );
  }
  close();
  return { revisions, next: current === 0 ? next : current + 1 };
}

/** Bytes of keys and values of a revision (the size bound's measure). */
export function revisionBytes(r: ChunkRevision): number {
  return r.ops.reduce((n, o) => n + o.key.length + (o.kind === 'put' ? o.value.length : 0), 0);
}

/**
 * Time left for the upload: a chunk is flushed this long before its oldest revision is N seconds old, so it
 * is in the bucket by then (a quarter of N, at most 1 s).
 */
export function flushAllowanceMs(intervalSeconds: number): number {
  return Math.min(1000, (intervalSeconds * 1000) / 4);
}

/** When the buffer whose oldest revision was received at `oldestTime` must be flushed (epoch ms). */
export function flushDeadline(oldestTime: number, intervalSeconds: number): number {
  return oldestTime + intervalSeconds * 1000 - flushAllowanceMs(intervalSeconds);
}

/**
 * How long the writes may pause before the buffer is flushed early (a quarter of N, at most 1 s): after a
 * burst the log holds the cluster's revision within about a second, instead of only when the oldest revision
 * is N s old. The Lambda's pre-removal decision (planPreRemovalSnapshot) can then see the log is complete on
 * a quiet cluster; otherwise a removal in the N s after any write (a membership change's own lock, say) would
 * find unshipped revisions behind a chunk that may be hours old, and take a full snapshot it does not need.
 * The cost: one chunk per burst of a workload that pauses longer than this between writes.
 */
export function quietFlushMs(intervalSeconds: number): number {
  return flushAllowanceMs(intervalSeconds);
}

export interface ShipBuffer {
  /** Receipt time of the oldest buffered revision (epoch ms). */
  readonly oldestTime?: number;
  /** Receipt time of the newest buffered revision (epoch ms). */
  readonly newestTime?: number;
  readonly revisions: number;
  readonly bytes: number;
}

/** The flush rules' view of the shipper's buffer (receipt-ordered revisions, their bytes). */
export function shipBufferOf(revisions: readonly ChunkRevision[], bytes: number): ShipBuffer {
  const [first, last] = [revisions[0], revisions.at(-1)];
  return { oldestTime: first?.time, newestTime: last?.time, revisions: revisions.length, bytes };
}

/** When the buffer is due (epoch ms): its oldest revision's deadline, or sooner once the writes paused. */
export function flushDue(buffer: ShipBuffer, intervalSeconds: number): number | undefined {
  if (buffer.revisions === 0 || buffer.oldestTime === undefined) return undefined;
  const deadline = flushDeadline(buffer.oldestTime, intervalSeconds);
  const quiet = (buffer.newestTime ?? buffer.oldestTime) + quietFlushMs(intervalSeconds);
  return Math.min(deadline, quiet);
}

/**
 * Whether the buffer is flushed now, and why: its oldest revision is about to be N seconds old, no revision
 * came for quietFlushMs, or it reached a size bound. Undefined: keep buffering.
 */
export function flushReason(buffer: ShipBuffer, now: number, intervalSeconds: number): string | undefined {
  if (buffer.revisions === 0 || buffer.oldestTime === undefined) return undefined;
  if (buffer.revisions >= CHUNK_MAX_REVISIONS) return `${buffer.revisions} revisions buffered (the bound)`;
  if (buffer.bytes >= CHUNK_MAX_BYTES) return `${buffer.bytes} bytes buffered (the bound)`;
  if (now >= flushDeadline(buffer.oldestTime, intervalSeconds)) {
    return `the oldest revision is ${now - buffer.oldestTime} ms old (bound ${intervalSeconds} s)`;
  }
  const newest = buffer.newestTime ?? buffer.oldestTime;
  if (now - newest >= quietFlushMs(intervalSeconds)) {
    return `no revision for ${now - newest} ms (the writes paused): flushing the ${buffer.revisions} buffered so the log holds the cluster's revision`;
  }
  return undefined;
}
