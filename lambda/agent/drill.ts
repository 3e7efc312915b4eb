/*
 * A restore drill (issue 16, "Backups proven restorable"): a downloaded snapshot restored into a scratch data
 * dir with the restore tool, started in a scratch etcd off the serving path (`etcdCommand`, the configured
 * image's etcd, so versions match; lambda/agent/scratch-etcd.ts), its revision and keyspace digest read and judged
 * against what was recorded (lambda/core/drill.ts). The scratch dir is removed whatever happens.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DrillResult, judgeDrill } from '../core/drill';
import type { SnapshotInfo } from '../core/restore';
import { ScratchEtcd } from './scratch-etcd';

export async function drillSnapshot(o: {
  /** The snapshot file (downloaded and sha256-verified by the caller). */
  readonly file: string;
  readonly snapshot: Pick<SnapshotInfo, 'key' | 'revision'>;
  /** Runs `<restoreCommand> snapshot restore ...` (commandRunner). */
  readonly runRestore: (args: readonly string[]) => Promise<void>;
  readonly etcdCommand: readonly string[];
  /** A keyspace digest recorded at the snapshot's revision (contentSha256), when one was recorded. */
  readonly recordedSha256?: string;
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
      await o.runRestore([
        'snapshot',
        'restore',
        o.file,
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
      const restoredRevision = await scratch.revision();
      const observed = { restoredRevision, contentSha256: await scratch.contentSha256(restoredRevision) };
      const j = judgeDrill(o.snapshot, observed, o.recordedSha256);
      return { key: o.snapshot.key, at: now(), ok: j.ok, ...observed, reason: j.reason };
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
