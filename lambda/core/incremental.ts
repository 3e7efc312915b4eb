/*
 * The incremental backup log, the pure part (issue 16): every revision after a full snapshot, shipped to the
 * bucket in chunks, and the plan that replays them on a restore. No I/O, no SDK imports.
 *
 * A chunk holds consecutive revisions first..last of one cluster (by cluster id: a restored cluster has a new
 * one, hence a new log). Its key says everything the planning needs, so a listing is enough (no HEAD per
 * object):
 *   <prefix>incremental/<clusterId>/r<first, 20 digits>-r<last, 20 digits>-<time of its newest revision>-<sha256>.jsonl
 * The body is JSON lines: a header line, then one line per revision, in revision order:
 *   {"v":1,"clusterId":"…","first":101,"last":140}
 *   {"r":101,"t":1764547200123,"ops":[{"p":["<key base64>","<value base64>"],"l":1},{"d":"<key base64>"}]}
 * `t` is when the shipper received the revision (epoch ms); `ops` are the revision's events (a put of a key
 * to a value; a delete of a key), replayed as one transaction, so a replayed revision is atomic as the
 * original was. `"l":1` marks a put with a lease: lease ids are not kept (they mean nothing after a restore),
 * a replayed leased key gets a short replay lease instead, so it goes as the original would have (an
 * election campaign, a lock held at the loss) rather than staying forever.
 *
 * Continuity: the log extends a snapshot of revision R when its chunks cover R+1, R+2, … without a hole.
 * Two chunks may overlap (a second writer for a moment, a retried upload): revisions are one history per
 * cluster id, so overlapping chunks carry the same revisions and the plan takes whichever reaches further.
 */
import { compactTime } from './snapshots';

export const CHUNK_FORMAT_VERSION = 1;

/** One chunk as its key describes it. */
export interface ChunkInfo {
  readonly key: string;
  readonly clusterId: string;
  readonly first: number;
  readonly last: number;
  /** Epoch ms when the shipper received the chunk's newest revision. */
  readonly time: number;
  /** Hex sha256 of the body. */
  readonly sha256: string;
}

export interface ChunkHeader {
  readonly v: number;
  readonly clusterId: string;
  readonly first: number;
  readonly last: number;
}

/** One operation of a revision: a put (key, value) or a delete (key); keys and values are bytes. */
export type ChunkOp =
  | {
      readonly kind: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /**
       * The key was put with a lease. The lease itself is not kept (its id means nothing after a restore): a
       * replayed leased key gets a short replay lease, so it goes as a lease-bound key would (an election
       * campaign, a lock held at the loss) instead of staying forever.
       */
      readonly leased?: boolean;
    }
  | { readonly kind: 'delete'; readonly key: Uint8Array };

export interface ChunkRevision {
  readonly revision: number;
  /** Epoch ms when the shipper received it. */
  readonly time: number;
  readonly ops: readonly ChunkOp[];
}

export class ChunkFormatError extends Error {}

const pad = (n: number) => String(n).padStart(20, '0');

/** The key prefix of one cluster's log: `<prefix>incremental/<clusterId>/`. */
export function chunkPrefix(prefix: string, clusterId: string): string {
  if (!/^[0-9a-f]+$/.test(clusterId)) throw new Error(`bad cluster id ${clusterId}`);
  return `${prefix}incremental/${clusterId}/`;
}

export function chunkKey(
  prefix: string,
  c: { clusterId: string; first: number; last: number; time: number; sha256: string },
): string {
  for (const [name, v] of [
    ['first', c.first],
    ['last', c.last],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`bad ${name} revision ${v}`);
  }
  if (c.last < c.first) throw new Error(`bad chunk: last revision ${c.last} < first ${c.first}`);
  if (!/^[0-9a-f]{64}$/.test(c.sha256)) throw new Error(`bad sha256 ${c.sha256}`);
  return `${chunkPrefix(prefix, c.clusterId)}r${pad(c.first)}-r${pad(c.last)}-${compactTime(c.time)}-${c.sha256}.jsonl`;
}

const CHUNK_RE =
  /incremental\/([0-9a-f]+)\/r(\d{20})-r(\d{20})-(\d{8})T(\d{6})(\d{3})Z-([0-9a-f]{64})\.jsonl$/;

/** The chunk a key names, or undefined when it is not a chunk key. */
export function parseChunkKey(key: string): ChunkInfo | undefined {
  const m = CHUNK_RE.exec(key);
  if (!m) return undefined;
  const [, clusterId, first, last, d, t, ms, sha256] = m;
  const time = Date.parse(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}.${ms}Z`,
  );
  if (!Number.isFinite(time) || Number(last) < Number(first) || Number(first) < 1) return undefined;
  return { key, clusterId, first: Number(first), last: Number(last), time, sha256 };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new ChunkFormatError(`bad ${what}`);
  return new Uint8Array(Buffer.from(s, 'base64'));
};

/**
 * The body of a chunk: the header line, then one line per revision. The revisions must be consecutive and
 * non-empty (etcd gives every revision at least one event).
 */
export function encodeChunk(clusterId: string, revisions: readonly ChunkRevision[]): string {
  if (revisions.length === 0) throw new Error('a chunk holds at least one revision');
  revisions.forEach((r, i) => {
    if (i > 0 && r.revision !== revisions[i - 1].revision + 1) {
      throw new Error(`revisions not consecutive: ${revisions[i - 1].revision} then ${r.revision}`);
    }
    if (r.ops.length === 0) throw new Error(`revision ${r.revision} has no operation`);
  });
  const header: ChunkHeader = {
    v: CHUNK_FORMAT_VERSION,
    clusterId,
    first: revisions[0].revision,
    last: revisions[revisions.length - 1].revision,
  };
  const lines = [JSON.stringify(header)];
  for (const r of revisions) {
    lines.push(
      JSON.stringify({
        r: r.revision,
        t: r.time,
        ops: r.ops.map((o) =>
          o.kind === 'put' ? { p: [b64(o.key), b64(o.value)], ...(o.leased && { l: 1 }) } : { d: b64(o.key) },
        ),
      }),
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * Parses a chunk body and checks it against its key: the header's cluster id and revisions, consecutive
 * revisions from first to last. Throws ChunkFormatError naming what is wrong. (The sha256 is the adapter's
 * check, over the bytes as downloaded.)
 */
export function decodeChunk(
  body: string,
  expected?: ChunkInfo,
): { header: ChunkHeader; revisions: ChunkRevision[] } {
  const lines = body.split('\n').filter((l) => l.length > 0);
  const parse = (l: string, n: number): Record<string, unknown> => {
    try {
      const v = JSON.parse(l) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch (err) {
      throw new ChunkFormatError(`line ${n + 1}: ${(err as Error).message}`);
    }
  };
  if (lines.length < 2) throw new ChunkFormatError('a chunk needs a header and at least one revision');
  const h = parse(lines[0], 0);
  if (h.v !== CHUNK_FORMAT_VERSION) throw new ChunkFormatError(`unknown chunk format ${String(h.v)}`);
  const header: ChunkHeader = {
    v: h.v,
    clusterId: String(h.clusterId),
    first: Number(h.first),
    last: Number(h.last),
  };
  if (expected) {
    for (const f of ['clusterId', 'first', 'last'] as const) {
      if (header[f] !== expected[f]) {
        throw new ChunkFormatError(`header ${f} ${header[f]} does not match the key's ${expected[f]}`);
      }
    }
  }
  const revisions: ChunkRevision[] = lines.slice(1).map((l, i) => {
    const o = parse(l, i + 1);
    const revision = Number(o.r);
    const want = header.first + i;
    if (revision !== want) throw new ChunkFormatError(`line ${i + 2}: revision ${o.r}, expected ${want}`);
    if (!Array.isArray(o.ops) || o.ops.length === 0)
      throw new ChunkFormatError(`revision ${revision}: no ops`);
    const ops = (o.ops as unknown[]).map((op): ChunkOp => {
      const x = op as { p?: unknown; d?: unknown; l?: unknown };
      if (Array.isArray(x.p) && x.p.length === 2) {
        return {
          kind: 'put',
          key: unb64(x.p[0], `key at ${revision}`),
          value: unb64(x.p[1], `value at ${revision}`),
          ...(x.l === 1 && { leased: true }),
        };
      }
      if (x.d !== undefined) return { kind: 'delete', key: unb64(x.d, `key at ${revision}`) };
      throw new ChunkFormatError(`revision ${revision}: unknown op ${JSON.stringify(op)}`);
    });
    return { revision, time: Number(o.t), ops };
  });
  const end = revisions[revisions.length - 1].revision;
  if (end !== header.last)
    throw new ChunkFormatError(`the revisions end at ${end}, the header says ${header.last}`);
  return { header, revisions };
}

export interface ReplayInput {
  /** The revision the restored snapshot holds (every revision at or below it is in it). */
  readonly snapshotRevision: number;
  /** The cluster id the snapshot was taken from: only its log extends it. */
  readonly clusterId: string;
  /** Every chunk listed (any cluster, any order). */
  readonly chunks: readonly ChunkInfo[];
  /** Point-in-time restore: replay no revision above this one. */
  readonly untilRevision?: number;
  /** Point-in-time restore: replay no revision received after this time (epoch ms). */
  readonly untilTime?: number;
}

export interface ReplayPlan {
  /** The chunks to download and replay, in order. */
  readonly chunks: readonly ChunkInfo[];
  /**
   * The newest revision the plan reaches (the snapshot's when no chunk extends it). With `untilTime` an
   * upper bound: the last chunk is cut by time on replay (replayUntil).
   */
  readonly targetRevision: number;
  /**
   * Why the plan ends where it ends: the log's end, a hole (missing revisions, named), or the requested
   * revision / time.
   */
  readonly reason: string;
  /** A hole in the log stopped the plan short of newer chunks: the revisions missing. */
  readonly gap?: { readonly from: number; readonly to: number };
}

/**
 * The chunks that extend a snapshot of `snapshotRevision`, in order, up to the newest revision reachable
 * without a hole (or the requested revision / time). A chunk whose revisions are all in the snapshot is
 * skipped; the first one that does not reach back to the next revision needed is a hole: the plan stops
 * before it and says which revisions are missing. With `untilTime` a chunk newer than it is still taken when
 * it starts at or before it (its revisions are filtered by time on replay, see replayUntil).
 */
export function planReplay(input: ReplayInput): ReplayPlan {
  const own = input.chunks
    .filter((c) => c.clusterId === input.clusterId)
    .slice()
    .sort((a, b) => a.first - b.first || b.last - a.last);
  const until = input.untilRevision ?? Number.MAX_SAFE_INTEGER;
  const picked: ChunkInfo[] = [];
  let reached = input.snapshotRevision;
  let gap: ReplayPlan['gap'];
  let reason = '';
  for (;;) {
    if (reached >= until) {
      reason = `reached the requested revision ${until}`;
      break;
    }
    // Of the chunks that start at or before the next revision needed, the one that reaches furthest.
    const next = reached + 1;
    const fits = own.filter((c) => c.first <= next && c.last >= next);
    if (fits.length === 0) {
      const later = own.find((c) => c.first > next);
      if (later) {
        gap = { from: next, to: later.first - 1 };
        reason = `revisions ${next}..${later.first - 1} are missing from the log: the restore stops at revision ${reached}`;
      } else {
        reason =
          picked.length === 0
            ? `no chunk extends the snapshot's revision ${reached}`
            : `the log ends at revision ${reached}`;
      }
      break;
    }
    const best = fits.reduce((a, b) => (b.last > a.last ? b : a));
    if (
      input.untilTime !== undefined &&
      picked.length > 0 &&
      picked[picked.length - 1].time > input.untilTime
    ) {
      reason = `reached the requested time ${new Date(input.untilTime).toISOString()}`;
      break;
    }
    picked.push(best);
    reached = Math.min(best.last, until);
  }
  return { chunks: picked, targetRevision: reached, reason, ...(gap ? { gap } : {}) };
}

/**
 * The revisions of a downloaded chunk to replay: above `after` (already in the store), at or below
 * `untilRevision`, received at or before `untilTime`. Returns them and whether a limit ended the chunk.
 */
export function replayUntil(
  revisions: readonly ChunkRevision[],
  after: number,
  limits: { untilRevision?: number; untilTime?: number },
): { revisions: ChunkRevision[]; limited: boolean } {
  const out: ChunkRevision[] = [];
  for (const r of revisions) {
    if (r.revision <= after) continue;
    if (limits.untilRevision !== undefined && r.revision > limits.untilRevision)
      return { revisions: out, limited: true };
    if (limits.untilTime !== undefined && r.time > limits.untilTime) return { revisions: out, limited: true };
    out.push(r);
  }
  return { revisions: out, limited: false };
}

/**
 * How far behind the log is (the recovery point it gives now): seconds since the newest revision it holds
 * was received, when the cluster has revisions it does not hold yet; 0 when it holds the cluster's current
 * revision. Undefined without a chunk of this cluster.
 */
export function logLagSeconds(
  chunks: readonly ChunkInfo[],
  clusterId: string,
  clusterRevision: number,
  now: number,
): number | undefined {
  const own = chunks.filter((c) => c.clusterId === clusterId);
  if (own.length === 0) return undefined;
  const newest = own.reduce((a, b) => (b.last > a.last ? b : a));
  if (newest.last >= clusterRevision) return 0;
  return Math.max(0, Math.round((now - newest.time) / 1000));
}
