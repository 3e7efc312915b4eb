/*
 * `agent.js drill --config FILE` (issue 16, "Backups proven restorable"): one restore drill run, started by
 * etcd-backup-drill.timer on every member. Under an etcd lock (one member drills at a time; a member that
 * finds it held skips, the holder's result serves all), it lists the bucket's snapshots, drill results and the
 * newest snapshot's incremental log, plans (planDrill: the newest snapshot never drilled, else hourly the chain)
 * and drills into `<work dir>` on the data volume:
 *  - snapshot: downloaded (sha256-verified), restored with the restore tool, started in a scratch etcd (the
 *    configured image's etcd, off the serving path: 127.0.0.1, free ports), its revision and keyspace digest
 *    compared with those the backup recorded (else the live cluster's at that revision);
 *  - chain: the newest snapshot restored and its log replayed exactly as a restore does (./replay.ts), the
 *    revision reached compared with the log's last one and the digest with the live cluster's at it.
 * The result goes to `<prefix>drills/` (a failed snapshot drill makes the restore skip that snapshot), one line
 * says it; the work dir is removed whatever happens.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  ChunkInfo,
  ChunkRevision,
  DrillExpectation,
  DrillResult,
  judgeDrill,
  planDrill,
  restoreCandidates,
  RestoreRecord,
  SnapshotInfo,
} from '../core';
import { SnapshotIntegrityError } from '../adapters/s3';
import { drillSnapshot, restoreForDrill } from './drill';
import { replayLog } from './replay';
import { ScratchEtcd } from './scratch-etcd';

type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface DrillRunDeps {
  readonly store: {
    list(): Promise<SnapshotInfo[]>;
    download(snapshot: SnapshotInfo, file: string): Promise<void>;
    listDrills(): Promise<DrillResult[]>;
    putDrill(result: DrillResult): Promise<string>;
  };
  /** The incremental log (absent: no chain drills). */
  readonly chunks?: {
    list(clusterId: string): Promise<ChunkInfo[]>;
    get(chunk: ChunkInfo): Promise<ChunkRevision[]>;
  };
  readonly runRestore: (args: readonly string[]) => Promise<void>;
  readonly etcdCommand: readonly string[];
  /** Emptied before and removed after each drill. */
  readonly workDir: string;
  /**
   * The live cluster's keyspace digest at `revision`, or why it cannot be read (compacted, unreachable): the
   * comparison when the backup recorded none, and for a chain.
   */
  readonly liveDigest: (revision: number) => Promise<{ sha256?: string; why?: string }>;
  /** Runs fn under the drill lock; rejects when another member holds it. */
  readonly withLock: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly chainEverySeconds?: number;
  readonly now: () => number;
  readonly log: Log;
}

/** One drill run: the result stored, or undefined when the plan said there was nothing to drill. */
export async function runDrill(d: DrillRunDeps): Promise<DrillResult | undefined> {
  return d.withLock(async () => {
    // A run stopped half-way (SIGTERM with its member: the unit is PartOf=etcd-member.service) leaves its work
    // dir on the data volume, possibly a whole snapshot: removed by the next run, even one with nothing to drill.
    fs.rmSync(d.workDir, { recursive: true, force: true });
    const [snapshots, drills] = await Promise.all([d.store.list(), d.store.listDrills()]);
    const newest = restoreCandidates(snapshots)[0];
    const chunks = newest && d.chunks ? await d.chunks.list(newest.clusterId) : [];
    const plan = planDrill({
      snapshots,
      drills,
      chunks,
      now: d.now(),
      chainEverySeconds: d.chainEverySeconds,
    });
    d.log('restore drill', {
      decision: plan.kind === 'none' ? 'no-drill' : `drill-${plan.kind}`,
      ...(plan.kind !== 'none' && { key: plan.snapshot.key, revision: plan.snapshot.revision }),
      ...(plan.kind === 'chain' && { targetRevision: plan.targetRevision }),
      reason: plan.reason,
    });
    if (plan.kind === 'none') return undefined;
    fs.mkdirSync(d.workDir, { recursive: true });
    try {
      const file = path.join(d.workDir, 'snapshot.db');
      const fail = (reason: string): DrillResult => ({
        key: plan.snapshot.key,
        kind: plan.kind,
        at: d.now(),
        ok: false,
        reason,
      });
      let result: DrillResult;
      try {
        await d.store.download(plan.snapshot, file);
      } catch (err) {
        if (!(err instanceof SnapshotIntegrityError)) throw err;
        result = fail(`the snapshot does not download intact: ${err.message}`);
      }
      result ??=
        plan.kind === 'snapshot'
          ? await drillSnapshot({
              file,
              snapshot: plan.snapshot,
              expected: await snapshotExpectation(d, plan.snapshot),
              runRestore: d.runRestore,
              etcdCommand: d.etcdCommand,
              workDir: d.workDir,
              now: d.now,
            })
          : await drillChain(d, file, plan.snapshot, plan.targetRevision);
      const key = await d.store.putDrill(result);
      d.log('restore drill result', { ...result, resultKey: key });
      return result;
    } finally {
      fs.rmSync(d.workDir, { recursive: true, force: true });
    }
  });
}

/** What a snapshot drill compares with: the digest the backup recorded, else the live cluster's, else none. */
async function snapshotExpectation(d: DrillRunDeps, s: SnapshotInfo): Promise<DrillExpectation> {
  if (s.contentSha256 !== undefined) {
    return { revision: s.revision, contentSha256: s.contentSha256, source: 'recorded by the backup' };
  }
  const live = await d.liveDigest(s.revision);
  return live.sha256 !== undefined
    ? { revision: s.revision, contentSha256: live.sha256, source: 'the live cluster' }
    : { revision: s.revision, source: `nothing to compare the digest with: ${live.why ?? 'unknown'}` };
}

/** The newest snapshot and its log, replayed as a restore does, judged at the log's end. */
async function drillChain(
  d: DrillRunDeps,
  file: string,
  snapshot: SnapshotInfo,
  targetRevision: number,
): Promise<DrillResult> {
  const base = { key: snapshot.key, kind: 'chain' as const };
  const data = path.join(d.workDir, 'data');
  try {
    await restoreForDrill(file, data, d.runRestore);
  } catch (err) {
    return {
      ...base,
      at: d.now(),
      ok: false,
      reason: `the snapshot does not restore: ${(err as Error).message}`,
    };
  }
  // The restore's own replay, with a record that asks for the whole log.
  const record = { log: {} } as unknown as RestoreRecord;
  const replay = await replayLog({
    record,
    snapshot,
    dataDir: data,
    name: 'drill',
    etcdCommand: d.etcdCommand,
    deps: d.chunks && { listChunks: (c) => d.chunks!.list(c), getChunk: (c) => d.chunks!.get(c) },
    log: d.log,
  });
  if (replay.stoppedAt || replay.gap || replay.reachedRevision < targetRevision) {
    return {
      ...base,
      at: d.now(),
      ok: false,
      restoredRevision: replay.reachedRevision,
      reason: `the log's replay reached revision ${replay.reachedRevision} of ${targetRevision}: ${replay.reason}`,
    };
  }
  const scratch = await ScratchEtcd.start({ command: d.etcdCommand, name: 'drill', dataDir: data });
  try {
    const restoredRevision = await scratch.revision();
    const contentSha256 = await scratch.contentSha256(replay.reachedRevision);
    const live = await d.liveDigest(replay.reachedRevision);
    const expected: DrillExpectation = {
      revision: replay.reachedRevision,
      ...(live.sha256 !== undefined && { contentSha256: live.sha256 }),
      source: live.sha256 !== undefined ? 'the live cluster' : `nothing to compare with: ${live.why}`,
    };
    const j = judgeDrill(expected, { restoredRevision, contentSha256 });
    return {
      ...base,
      at: d.now(),
      ok: j.ok,
      restoredRevision,
      contentSha256,
      reason: `${replay.replayedRevisions} revision(s) of ${replay.chunks} chunk(s) replayed; ${j.reason}`,
    };
  } finally {
    await scratch.stop();
  }
}
