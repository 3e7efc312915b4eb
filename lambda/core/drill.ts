/*
 * Restore drills (issue 16, "Backups proven restorable"), the pure part: which drill a run makes (planDrill),
 * whether a drill proved its backup (judgeDrill), where its result is kept (drillResultKey, a listing is
 * enough to read them back), the age of the newest proof (the metric LastVerifiedRestoreAgeSeconds), and
 * that a snapshot which failed its drill is never chosen. No I/O, no SDK imports. The drills themselves
 * (restore into a scratch etcd off the serving path, with the configured image's etcd) are
 * lambda/agent/drill.ts and lambda/agent/drill-run.ts.
 *
 * Two kinds:
 *  - snapshot: one full snapshot restored, its revision and keyspace digest compared with those the backup
 *    recorded (SnapshotInfo.contentSha256; without one, the live cluster's digest at that revision);
 *  - chain: the newest snapshot restored and its incremental log replayed to the log's end, the revision
 *    reached compared with the log's last revision and the keyspace digest with the live cluster's at it.
 */
import { ChunkInfo } from './incremental';
import { compactTime, restoreCandidates, SnapshotInfo } from './snapshots';

export type DrillKind = 'snapshot' | 'chain';

/** What a drill read from the scratch etcd on the restored backup. */
export interface DrillObservation {
  /** The store's revision after the restore (and, for a chain, the replay). */
  readonly restoredRevision: number;
  /** sha256 of the restored keyspace at the compared revision (keyspaceSha256). */
  readonly contentSha256: string;
}

/** The outcome of one drill, as kept in the bucket (drillResultKey). */
export interface DrillResult {
  /** The snapshot drilled (for a chain: the snapshot the log extends). */
  readonly key: string;
  /** @default 'snapshot' */
  readonly kind?: DrillKind;
  /** Epoch ms when the drill finished. */
  readonly at: number;
  readonly ok: boolean;
  readonly restoredRevision?: number;
  readonly contentSha256?: string;
  readonly reason: string;
}

/** The revision and digest a drill compares with, and where they came from (for its line). */
export interface DrillExpectation {
  /** The revision the restore must reach at least (snapshot: read just before it; chain: the log's end). */
  readonly revision: number;
  /** sha256 of the keyspace at `revision`, when known. */
  readonly contentSha256?: string;
  /** 'recorded by the backup', 'the live cluster', ... */
  readonly source?: string;
}

/**
 * Whether the restored backup is what was recorded: its revision at least the expected one, and, when a
 * digest at that revision is known, the same digest (the drill computes the restored one at that revision).
 */
export function judgeDrill(
  expected: DrillExpectation,
  observed: DrillObservation,
): { readonly ok: boolean; readonly reason: string } {
  if (observed.restoredRevision < expected.revision) {
    return {
      ok: false,
      reason: `the restore holds revision ${observed.restoredRevision}, below the expected revision ${expected.revision}`,
    };
  }
  if (expected.contentSha256 !== undefined && expected.contentSha256 !== observed.contentSha256) {
    return {
      ok: false,
      reason: `the restored keyspace's sha256 at revision ${expected.revision} is ${observed.contentSha256}, not ${expected.contentSha256} (${expected.source ?? 'recorded'})`,
    };
  }
  return {
    ok: true,
    reason:
      `restored to revision ${observed.restoredRevision} (expected at least ${expected.revision}); keyspace sha256 at ${expected.revision} ${observed.contentSha256}` +
      (expected.contentSha256 !== undefined
        ? `, the same as ${expected.source ?? 'recorded'}`
        : ', no digest to compare with (revision checked only)'),
  };
}

/** `<prefix>drills/<kind>/<snapshot file name without .db>/<time>-ok|failed.json`: a listing holds every result. */
export function drillResultKey(prefix: string, r: Pick<DrillResult, 'key' | 'kind' | 'at' | 'ok'>): string {
  const base = /snapshots\/([^/]+)\.db$/.exec(r.key)?.[1];
  if (!base) throw new Error(`not a snapshot key: ${r.key}`);
  return `${prefix}drills/${r.kind ?? 'snapshot'}/${base}/${compactTime(r.at)}-${r.ok ? 'ok' : 'failed'}.json`;
}

const DRILL_RE = /drills\/(snapshot|chain)\/([^/]+)\/(\d{8})T(\d{6})(\d{3})Z-(ok|failed)\.json$/;

/** A drill result as its key says (the reason is in the body), or undefined when the key is not one. */
export function parseDrillKey(prefix: string, key: string): DrillResult | undefined {
  if (!key.startsWith(`${prefix}drills/`)) return undefined;
  const m = DRILL_RE.exec(key.slice(prefix.length));
  if (!m) return undefined;
  const [, kind, base, d, t, ms, outcome] = m;
  const at = Date.parse(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}.${ms}Z`,
  );
  if (!Number.isFinite(at)) return undefined;
  return {
    key: `${prefix}snapshots/${base}.db`,
    kind: kind as DrillKind,
    at,
    ok: outcome === 'ok',
    reason: '(in the object)',
  };
}

/** The newest result per snapshot key, of one kind. */
function newestByKey(drills: readonly DrillResult[], kind: DrillKind): Map<string, DrillResult> {
  const newest = new Map<string, DrillResult>();
  for (const d of drills) {
    if ((d.kind ?? 'snapshot') !== kind) continue;
    const n = newest.get(d.key);
    if (!n || d.at > n.at) newest.set(d.key, d);
  }
  return newest;
}

/**
 * Seconds since the newest drill that passed (LastVerifiedRestoreAgeSeconds). Without one: seconds since the
 * oldest complete snapshot (backups that exist but were never proven; the alarm fires as they age), and
 * undefined when there is no snapshot either (the snapshot age alarm covers that).
 */
export function lastVerifiedRestoreAgeSeconds(
  drills: readonly DrillResult[],
  now: number,
  snapshots: readonly SnapshotInfo[] = [],
): number | undefined {
  const ok = drills.filter((d) => d.ok);
  const age = (t: number) => Math.max(0, Math.round((now - t) / 1000));
  if (ok.length > 0) return age(Math.max(...ok.map((d) => d.at)));
  const candidates = restoreCandidates(snapshots);
  if (candidates.length === 0) return undefined;
  return age(Math.min(...candidates.map((s) => s.time)));
}

/**
 * The snapshots a restore may choose: those whose newest snapshot drill did not fail (a snapshot never drilled
 * stays a candidate: the seed verifies its sha256 anyway). A failed chain drill does not exclude its snapshot.
 */
export function withoutFailedDrills(
  snapshots: readonly SnapshotInfo[],
  drills: readonly DrillResult[],
): SnapshotInfo[] {
  const newest = newestByKey(drills, 'snapshot');
  return snapshots.filter((s) => newest.get(s.key)?.ok !== false);
}

/** The default: a chain drill at most once an hour. */
export const DEFAULT_CHAIN_DRILL_SECONDS = 3600;

export type DrillPlan =
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotInfo; readonly reason: string }
  | {
      readonly kind: 'chain';
      readonly snapshot: SnapshotInfo;
      /** The log's last revision that continues the snapshot, as the listing says. */
      readonly targetRevision: number;
      readonly reason: string;
    }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * What one drill run does, newest first:
 *  1. the newest complete snapshot never drilled, unless a newer one already passed (older backups are no
 *     longer what a restore chooses); a snapshot whose drill failed is not drilled again;
 *  2. else, when the newest snapshot passed and its cluster's log goes past it, the chain, unless a chain
 *     drill of that snapshot ran less than `chainEverySeconds` ago;
 *  3. else nothing, saying why.
 */
export function planDrill(input: {
  readonly snapshots: readonly SnapshotInfo[];
  readonly drills: readonly DrillResult[];
  /** The chunks of the newest snapshot's cluster (a listing). */
  readonly chunks: readonly ChunkInfo[];
  readonly now: number;
  readonly chainEverySeconds?: number;
}): DrillPlan {
  const candidates = restoreCandidates(input.snapshots);
  if (candidates.length === 0) return { kind: 'none', reason: 'no complete snapshot in the bucket' };
  const snapshotDrills = newestByKey(input.drills, 'snapshot');
  for (const s of candidates) {
    const d = snapshotDrills.get(s.key);
    if (d?.ok) break;
    if (!d) {
      return {
        kind: 'snapshot',
        snapshot: s,
        reason:
          s === candidates[0]
            ? `the newest snapshot ${s.key} (revision ${s.revision}) was never drilled`
            : `snapshot ${s.key} (revision ${s.revision}) was never drilled, and no newer one passed`,
      };
    }
  }
  const newest = candidates[0];
  const newestDrill = snapshotDrills.get(newest.key);
  if (!newestDrill?.ok) {
    return {
      kind: 'none',
      reason: `every snapshot newer than the last one that passed was drilled; the newest, ${newest.key}, failed: ${newestDrill?.reason ?? 'no result'}`,
    };
  }
  const ahead = input.chunks.filter((c) => c.clusterId === newest.clusterId && c.last > newest.revision);
  if (ahead.length === 0) {
    return {
      kind: 'none',
      reason: `the newest snapshot ${newest.key} passed its drill and no incremental log goes past it`,
    };
  }
  const every = (input.chainEverySeconds ?? DEFAULT_CHAIN_DRILL_SECONDS) * 1000;
  const chain = newestByKey(input.drills, 'chain').get(newest.key);
  if (chain && input.now - chain.at < every) {
    return {
      kind: 'none',
      reason: `the chain of ${newest.key} was drilled ${Math.round((input.now - chain.at) / 1000)} s ago (${chain.ok ? 'passed' : 'failed'}); next after ${every / 1000} s`,
    };
  }
  const targetRevision = Math.max(...ahead.map((c) => c.last));
  return {
    kind: 'chain',
    snapshot: newest,
    targetRevision,
    reason: `the newest snapshot ${newest.key} passed; its incremental log reaches revision ${targetRevision} and ${chain ? `its chain was last drilled ${Math.round((input.now - chain.at) / 1000)} s ago` : 'its chain was never drilled'}`,
  };
}
