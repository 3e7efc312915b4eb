/*
 * The agent's restore gate, run at boot before the normal join (README: Backups and disaster recovery).
 * It reads the newest restore record from S3 and asks the pure core (planRestoreRole) what this instance does:
 *   none           → the normal join path.
 *   seed-survivor  → the record's source is this instance's own data (FAILURE-SCENARIOS 14): keep it, mark it
 *                    with the record's generation, and start etcd once with force-new-cluster (join.ts); the
 *                    marker makes every later start a plain restart of the one-member cluster.
 *   seed           → restore the newest verified snapshot (sha256 checked while downloading; a corrupt one is
 *                    refused with a clear error and the next older one is tried) into a fresh data dir with
 *                    `etcdutl snapshot restore` (`etcdctl snapshot restore` on 3.4), and start a one-member
 *                    cluster; the others join it as learners.
 *   wipe-and-join  → the data dir belongs to the cluster before the restore: wiped, so it can never rejoin
 *                    the old cluster or split the brain; then the normal join path.
 *   join           → empty data dir: the normal join path.
 * The restore generation of the data dir is kept in `<dataDir>/.restore-generation`, written after every
 * successful join decision, so a member of the restored cluster that reboots keeps its data.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { chooseSnapshot, planRestoreRole, RestoreRecord, RestoreRole, SnapshotInfo } from '../core/restore';
import type { Self } from '../core/types';
import { AgentConfig } from './config';
import { DataDir, localDataDir } from './data-dir';
import { ReplayDeps, replayLog, ReplayOutcome } from './replay';

export interface RestoreDeps {
  readonly latestRestore: () => Promise<RestoreRecord | undefined>;
  /** Key of the newest complete snapshot in the bucket (the bootstrap guard), undefined when none. */
  readonly newestSnapshot: () => Promise<string | undefined>;
  /** Downloads and verifies (sha256) a snapshot; throws SnapshotIntegrityError when it does not verify. */
  readonly download: (snapshot: SnapshotInfo, file: string) => Promise<void>;
  /** Runs `<restoreCommand> snapshot restore ...`; resolves when it exited 0. */
  readonly runRestore: (args: readonly string[]) => Promise<void>;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  /** The incremental log in the bucket (issue 16): absent, the seed restores the snapshot only. */
  readonly chunks?: ReplayDeps;
}

const WORK_DIR = '.restore-work';

export interface GateResult {
  readonly role: RestoreRole;
  /** The newest record's generation (0 without one): written to the data dir once the join decided. */
  readonly generation: number;
  readonly record?: RestoreRecord;
  /** Seed only: the snapshot restored. */
  readonly restored?: SnapshotInfo;
  /** Seed only: what the replay of the incremental log did. */
  readonly replay?: ReplayOutcome;
}

export async function restoreGate(
  cfg: AgentConfig,
  self: Self,
  deps: RestoreDeps,
  dataDir: DataDir = localDataDir(cfg.dataDir),
): Promise<GateResult> {
  const record = await deps.latestRestore();
  const role = planRestoreRole({
    record,
    instanceId: self.instanceId,
    localGeneration: dataDir.generation(),
    hasData: dataDir.hasMember(),
  });
  deps.log('restore gate', { role: role.kind, reason: role.reason, generation: record?.generation ?? 0 });
  const generation = record?.generation ?? 0;
  if (role.kind === 'none' || role.kind === 'join') return { role, generation, record };
  if (role.kind === 'seed-survivor') {
    // The marker first, the settings (with force-new-cluster) after: a crash in between never forces a
    // second time (that would drop the members added since); it leaves the member unforced without a
    // quorum, which the trigger sees as a lost quorum again and answers with the next generation.
    dataDir.writeGeneration(generation);
    deps.log("seeding from this member's own data: etcd starts once with force-new-cluster", {
      generation,
      source: record!.source,
      reason: role.reason,
    });
    return { role, generation, record };
  }
  if (role.kind === 'wipe-and-join') {
    dataDir.wipe();
    dataDir.writeGeneration(generation);
    return { role, generation, record };
  }
  const { snap: restored, replay } = await restoreAsSeed(cfg, dataDir, self, record!, deps);
  return { role, generation, record, restored, replay };
}

async function restoreAsSeed(
  cfg: AgentConfig,
  dataDir: DataDir,
  self: Self,
  record: RestoreRecord,
  deps: RestoreDeps,
): Promise<{ snap: SnapshotInfo; replay: ReplayOutcome }> {
  // Inside the data dir (the data volume): the restored member dir is moved into place by a rename.
  const work = path.join(dataDir.path, WORK_DIR);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const refused: Record<string, string> = {};
  try {
    for (;;) {
      const snap = chooseSnapshot(record.snapshots, refused);
      if (!snap) {
        throw new Error(
          `no snapshot of restore generation ${record.generation} verified: ${Object.values(refused).join('; ')}`,
        );
      }
      const file = path.join(work, 'snapshot.db');
      try {
        await deps.download(snap, file);
      } catch (err) {
        refused[snap.key] = (err as Error).message;
        deps.log('snapshot refused, trying the next older one', { key: snap.key, error: refused[snap.key] });
        continue;
      }
      const target = path.join(work, 'data');
      await deps.runRestore([
        'snapshot',
        'restore',
        file,
        '--name',
        self.name,
        '--initial-cluster',
        `${self.name}=${self.peerURL}`,
        '--initial-advertise-peer-urls',
        self.peerURL,
        '--initial-cluster-token',
        record.clusterToken,
        '--data-dir',
        target,
      ]);
      // The incremental log on top, in a scratch etcd on the restored data, before it is adopted.
      const replay = await replayLog({
        record,
        snapshot: snap,
        dataDir: target,
        name: self.name,
        etcdCommand: cfg.etcdCommand,
        deps: deps.chunks,
        log: deps.log,
      });
      deps.log(replay.stoppedAt ? 'incremental log replayed up to a bad chunk' : 'incremental log replay', {
        generation: record.generation,
        snapshot: snap.key,
        snapshotRevision: replay.snapshotRevision,
        chunks: replay.chunks,
        replayedRevisions: replay.replayedRevisions,
        targetRevision: replay.targetRevision,
        reachedRevision: replay.reachedRevision,
        ...(replay.stoppedAt && { stoppedAt: replay.stoppedAt }),
        ...(replay.gap && { gap: replay.gap }),
        ...(record.log?.untilRevision !== undefined && { untilRevision: record.log.untilRevision }),
        ...(record.log?.untilTime !== undefined && {
          untilTime: new Date(record.log.untilTime).toISOString(),
        }),
        reason: replay.reason,
      });
      // Swap in the restored member dir only now: a failure above leaves the old data dir as it was.
      dataDir.wipe(WORK_DIR);
      dataDir.adoptMember(target);
      dataDir.writeGeneration(record.generation);
      deps.log('snapshot restored: starting a one-member cluster', {
        generation: record.generation,
        key: snap.key,
        revision: replay.reachedRevision,
        snapshotRevision: snap.revision,
        sha256: snap.sha256,
        token: record.clusterToken,
      });
      return { snap, replay };
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Runs the configured restore command (argv[0] from PATH), output to the agent's stderr. */
export function commandRunner(command: readonly string[]): (args: readonly string[]) => Promise<void> {
  return (args) =>
    new Promise((resolve, reject) => {
      const child = spawn(command[0], [...command.slice(1), ...args], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      child.on('error', (err) => reject(new Error(`${command[0]}: ${err.message}`)));
      child.on('exit', (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`${[...command, ...args.slice(0, 2)].join(' ')} exited ${code ?? signal}`)),
      );
    });
}
