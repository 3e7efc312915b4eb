/*
 * How the first-boot test (./first-boot.test.ts) judges the incremental backup log's unit on the boxes (issue
 * 16): whether etcd-backup-log.service is active on each box, which boxes' shippers were elected (their
 * journals), and the complete snapshots in the local S3's directory (no Lambda runs in the boxes: a snapshot
 * there is the elected shipper's base of the log).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { BoxWorld } from './judge';

export interface BackupLogState {
  readonly active: string[];
  /** Indexes of the boxes whose shipper logged "elected". */
  readonly elected: number[];
  /** Complete snapshots (their sha256 sidecars) in the bucket. */
  readonly snapshots: number;
  /** The journal of etcd-backup-log.service on the first elected box. */
  readonly electedJournal: string;
  /** `/opt/etcd-restore/etcd --version` of each box: the image's etcd copied beside the restore tool. */
  readonly etcd: string[];
}

export async function backupLogState(
  world: BoxWorld,
  s3Dir: string,
  bucket: string,
): Promise<BackupLogState> {
  const dir = path.join(s3Dir, bucket, 'snapshots');
  const snapshots = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f.endsWith('.db.sha256._S3rver_object')).length
    : 0;
  const active: string[] = [];
  const journals: string[] = [];
  const etcd: string[] = [];
  for (const { box } of world.boxes) {
    active.push((await box.exec(['systemctl', 'is-active', 'etcd-backup-log.service'])).stdout.trim());
    journals.push(await box.journal('etcd-backup-log.service'));
    etcd.push((await box.exec(['/opt/etcd-restore/etcd', '--version'])).stdout);
  }
  const elected = journals.flatMap((j, n) => (/"message":"elected"/.test(j) ? [n] : []));
  return { active, elected, snapshots, electedJournal: elected.length > 0 ? journals[elected[0]] : '', etcd };
}

/** Polls until a shipper was elected and stored a snapshot (at most `seconds`), then returns the state. */
export async function waitForBackupLog(
  world: BoxWorld,
  s3Dir: string,
  bucket: string,
  seconds = 30,
): Promise<BackupLogState> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const s = await backupLogState(world, s3Dir, bucket);
    if ((s.elected.length > 0 && s.snapshots > 0) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The test (registered in the first-boot suite, after the cluster formed): etcd-backup-log.service active on
 * every box, exactly one shipper elected, its base snapshot stored in the empty bucket (the log's chain starts
 * there), and the image's etcd beside the restore tool on every box (the agent's etcdCommand).
 */
export function backupLogTest(world: BoxWorld, s3Dir: string, bucket: string, etcdVersion: string): void {
  test('the incremental backup log: etcd-backup-log.service on every box, one elected, its base snapshot stored', async () => {
    const s = await waitForBackupLog(world, s3Dir, bucket);
    expect(s).toMatchObject({ active: ['active', 'active', 'active'], snapshots: 1 });
    expect(s.elected).toHaveLength(1);
    expect(s.electedJournal).toMatch(/"message":"snapshot stored".*"decision":"chain-base"/);
    for (const v of s.etcd) expect(v).toContain(`etcd Version: ${etcdVersion}`);
  });
}
