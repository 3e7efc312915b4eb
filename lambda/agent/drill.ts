/*
 * A restore drill (issue 16, "Backups proven restorable"): a downloaded snapshot restored into a scratch data
 * dir with the restore tool, started in a scratch etcd off the serving path (`etcdCommand`, the configured
 * image's etcd, so versions match; lambda/agent/scratch-etcd.ts), its revision and keyspace digest read and judged
 * against what was recorded (lambda/core/drill.ts). The scratch dir is removed whatever happens.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DrillExpectation, DrillResult, judgeDrill } from '../core/drill';
import type { SnapshotInfo } from '../core/restore';
import { ScratchEtcd } from './scratch-etcd';

export async function drillSnapshot(o: {
  /** The snapshot file (downloaded and sha256-verified by the caller). */
  readonly file: string;
  readonly snapshot: Pick<SnapshotInfo, 'key' | 'revision'>;
  /**
   * What the restore must show: at least this revision, and this keyspace digest at it when known. Default:
   * the snapshot's revision, no digest.
   */
  readonly expected?: DrillExpectation;
  /** Runs `<restoreCommand> snapshot restore ...` (commandRunner). */
  readonly runRestore: (args: readonly string[]) => Promise<void>;
  readonly etcdCommand: readonly string[];
  /** Where the scratch data dir goes (default: the OS temp dir). */
  readonly workDir?: string;
  readonly now?: () => number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}): Promise<DrillResult> {
  const now = o.now ?? Date.now;
  const dir = fs.mkdtempSync(path.join(o.workDir ?? os.tmpdir(), 'etcd-drill-'));
  const fail = (reason: string): DrillResult => ({ key: o.snapshot.key, at: now(), ok: false, reason });
  const run = async (): Promise<DrillResult> => {
    const data = path.join(dir, 'data');
    try {
      await restoreForDrill(o.file, data, o.runRestore);
    } catch (err) {
      return fail(`the snapshot does not restore: ${(err as Error).message}`);
    }
    let scratch: ScratchEtcd;
    try {
      scratch = await ScratchEtcd.start({ command: o.etcdCommand, name: 'drill', dataDir: data });
    } catch (err) {
      return fail(`etcd does not start on the restored snapshot: ${(err as Error).message}`);
    }
    try {
      const expected = o.expected ?? { revision: o.snapshot.revision };
      const restoredRevision = await scratch.revision();
      // The digest at the expected revision (the restored store keeps the history since its last compaction,
      // and the expected revision was current when the snapshot was taken); at the restored one if below it.
      const at = Math.min(expected.revision, restoredRevision);
      const observed = { restoredRevision, contentSha256: await scratch.contentSha256(at) };
      const j = judgeDrill(expected, observed);
      return { key: o.snapshot.key, kind: 'snapshot', at: now(), ok: j.ok, ...observed, reason: j.reason };
    } finally {
      await scratch.stop();
    }
  };
  try {
    const result = await run();
    o.log?.('restore drill', { ...result });
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `snapshot restore` of `file` into `data` as the one-member cluster `drill` (never reachable: port 1). */
export async function restoreForDrill(
  file: string,
  data: string,
  runRestore: (args: readonly string[]) => Promise<void>,
): Promise<void> {
  await runRestore([
    'snapshot',
    'restore',
    file,
    '--name',
    'drill',
    '--initial-cluster',
    'drill=http://127.0.0.1:1',
    '--initial-advertise-peer-urls',
    'http://127.0.0.1:1',
    '--initial-cluster-token',
    'cdk-elastic-etcd-drill',
    '--data-dir',
    data,
  ]);
}
