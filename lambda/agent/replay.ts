/*
 * The seed's replay of the incremental log (issue 16): after `snapshot restore` into the work dir and before
 * the member dir is adopted, the chunks of the snapshot's cluster that extend it (planReplay, with the
 * record's point-in-time limits) are downloaded one at a time (sha256 and body verified by the chunk store)
 * and their revisions applied to a scratch etcd on the restored data (lambda/agent/scratch-etcd.ts), one
 * transaction per revision. A restored snapshot keeps its revision, so with a continuous log every replayed
 * revision gets its original number: the scratch etcd's revision is checked after each one.
 *
 * A chunk that does not verify, a hole in the log or a revision that comes out with another number stops the
 * replay at the last good revision: the restored cluster starts from what was replayed, and the one line
 * says where it stopped and why.
 */
import type { IRequestOp } from 'etcd3';
import {
  ChunkInfo,
  ChunkRevision,
  planReplay,
  ReplayPlan,
  replayUntil,
  RestoreRecord,
  SnapshotInfo,
} from '../core';
import { ScratchEtcd } from './scratch-etcd';

export interface ReplayDeps {
  /** Every chunk of one cluster (a listing). */
  readonly listChunks: (clusterId: string) => Promise<ChunkInfo[]>;
  /** Downloads and verifies one chunk; throws (ChunkIntegrityError) when it does not verify. */
  readonly getChunk: (chunk: ChunkInfo) => Promise<ChunkRevision[]>;
}

/** What the replay did: the fields of its one log line. */
export interface ReplayOutcome {
  readonly replayed: boolean;
  /** The revision of the restored snapshot (as the scratch etcd read it when it ran, else the key's). */
  readonly snapshotRevision: number;
  /** The chunks the plan named. */
  readonly chunks: number;
  /** Revisions applied. */
  readonly replayedRevisions: number;
  /** The revision the plan aimed at. */
  readonly targetRevision: number;
  /** The revision the restored data holds now. */
  readonly reachedRevision: number;
  /** Where it stopped short, and why (a chunk that does not verify, a renumbered revision). */
  readonly stoppedAt?: { readonly key: string; readonly revision: number; readonly error: string };
  /** A hole in the log ended the plan: the revisions missing. */
  readonly gap?: { readonly from: number; readonly to: number };
  readonly reason: string;
}

function ops(r: ChunkRevision): IRequestOp[] {
  return r.ops.map((o) =>
    o.kind === 'put'
      ? { request_put: { key: Buffer.from(o.key), value: Buffer.from(o.value) } }
      : { request_delete_range: { key: Buffer.from(o.key) } },
  );
}

export async function replayLog(o: {
  readonly record: RestoreRecord;
  readonly snapshot: SnapshotInfo;
  /** The restored data dir (`snapshot restore --data-dir`) and its member name. */
  readonly dataDir: string;
  readonly name: string;
  readonly etcdCommand?: readonly string[];
  readonly deps?: ReplayDeps;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}): Promise<ReplayOutcome> {
  const snap = o.snapshot;
  const none = (reason: string, plan?: ReplayPlan): ReplayOutcome => ({
    replayed: false,
    snapshotRevision: snap.revision,
    chunks: plan?.chunks.length ?? 0,
    replayedRevisions: 0,
    targetRevision: plan?.targetRevision ?? snap.revision,
    reachedRevision: snap.revision,
    reason,
  });
  const log = o.record.log;
  if (!log)
    return none('the restore record has no incremental-log part (written before the log): the snapshot only');
  if (!o.deps) return none('no chunk store (no backup bucket): the snapshot only');
  const limits = {
    ...(log.untilRevision !== undefined && { untilRevision: log.untilRevision }),
    ...(log.untilTime !== undefined && { untilTime: log.untilTime }),
  };
  const chunks = await o.deps.listChunks(snap.clusterId);
  let plan = planReplay({ snapshotRevision: snap.revision, clusterId: snap.clusterId, chunks, ...limits });
  // The key's revision was read just before the snapshot was taken, so the data may hold a few more: a log
  // that starts after it is no hole. Any chunk past the key's revision is worth a look at the real one.
  if (!chunks.some((c) => c.clusterId === snap.clusterId && c.last > snap.revision)) {
    return none(`nothing to replay: ${plan.reason}`, plan);
  }
  if (!o.etcdCommand || o.etcdCommand.length === 0) {
    return none(
      `${plan.chunks.length} chunk(s) extend the snapshot to revision ${plan.targetRevision}, but the config has no etcdCommand (an older config): not replayed, the snapshot only`,
      plan,
    );
  }
  let scratch: ScratchEtcd;
  try {
    scratch = await ScratchEtcd.start({
      command: o.etcdCommand,
      name: o.name,
      dataDir: o.dataDir,
      log: o.log,
    });
  } catch (err) {
    return none(
      `the scratch etcd did not start (${(err as Error).message}): not replayed, the snapshot only`,
      plan,
    );
  }
  try {
    // The snapshot's revision in its key was read just before it was taken: the data may hold a few more.
    const restored = await scratch.revision();
    plan = planReplay({ snapshotRevision: restored, clusterId: snap.clusterId, chunks, ...limits });
    let reached = restored;
    if (log.untilRevision !== undefined && restored > log.untilRevision) {
      return {
        ...none(
          `the restored snapshot already holds revision ${restored}, past the requested revision ${log.untilRevision} (its key's revision ${snap.revision} was read just before it was taken): nothing replayed, the cluster starts at revision ${restored}`,
          plan,
        ),
        snapshotRevision: restored,
        reachedRevision: restored,
      };
    }
    let replayedRevisions = 0;
    let limited = false;
    const done = (reason: string, stoppedAt?: ReplayOutcome['stoppedAt']): ReplayOutcome => ({
      replayed: replayedRevisions > 0,
      snapshotRevision: restored,
      chunks: plan.chunks.length,
      replayedRevisions,
      targetRevision: plan.targetRevision,
      reachedRevision: reached,
      ...(stoppedAt && { stoppedAt }),
      ...(plan.gap && { gap: plan.gap }),
      reason,
    });
    for (const chunk of plan.chunks) {
      let revisions: ChunkRevision[];
      try {
        revisions = await o.deps.getChunk(chunk);
      } catch (err) {
        const error = (err as Error).message;
        return done(
          `chunk ${chunk.key} did not verify (${error}): the restore stops at revision ${reached}`,
          {
            key: chunk.key,
            revision: reached,
            error,
          },
        );
      }
      const cut = replayUntil(revisions, reached, limits);
      for (const r of cut.revisions) {
        const res = await scratch.client.kv.txn({ compare: [], success: ops(r), failure: [] });
        const got = Number(res.header.revision);
        if (got !== r.revision) {
          reached = got;
          const error = `revision ${r.revision} was applied as revision ${got}`;
          return done(
            `${error}: the log does not continue the restored data; the restore stops at revision ${got}`,
            {
              key: chunk.key,
              revision: got,
              error,
            },
          );
        }
        reached = got;
        replayedRevisions++;
      }
      if (cut.limited) {
        limited = true;
        break;
      }
    }
    const now = await scratch.revision();
    if (now !== reached) {
      return done(`the scratch etcd is at revision ${now} after the replay, expected ${reached}`);
    }
    return done(
      limited
        ? log.untilRevision !== undefined && reached >= log.untilRevision
          ? `reached the requested revision ${log.untilRevision}`
          : `reached the requested time ${new Date(log.untilTime ?? 0).toISOString()}`
        : plan.reason,
    );
  } finally {
    await scratch.stop();
  }
}
