/*
 * The agent's restore gate on a real data dir (a temp dir): what the seed and the other instances do with the
 * newest restore record. S3 and the restore command are replaced by functions here (their real versions run in
 * test/adapters/s3-store.test.ts and test/fleet/backup-restore.test.ts against s3rver and etcdctl).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseConfig } from '../../lambda/agent/config';
import { GENERATION_FILE, localDataDir } from '../../lambda/agent/data-dir';
import { RestoreDeps, restoreGate } from '../../lambda/agent/restore';
import { buildRestoreRecord, RestoreRecord, SnapshotInfo, snapshotKey } from '../../lambda/core/restore';
import type { Self } from '../../lambda/core/types';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-gate-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const cfg = () =>
  parseConfig(
    JSON.stringify({
      strategy: 'replace',
      sizeCap: 3,
      peerPort: 2380,
      clientPort: 2379,
      dataDir: path.join(dir, 'data'),
      envFile: path.join(dir, 'etcd.env'),
      backupBucketFile: path.join(dir, 'backup-bucket'),
      restoreCommand: ['etcdutl'],
    }),
  );
const self: Self = {
  instanceId: 'i-seed',
  privateIp: '10.0.0.1',
  name: 'i-seed',
  peerURL: 'http://10.0.0.1:2380',
  clientURL: 'http://10.0.0.1:2379',
};
const snap = (time: number, rev: number): SnapshotInfo => ({
  key: snapshotKey('', time, rev, 'abc'),
  time,
  revision: rev,
  clusterId: 'abc',
  sha256: 'a'.repeat(64),
});

function oldData(): void {
  fs.mkdirSync(path.join(dir, 'data', 'member', 'wal'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'member', 'wal', 'old.wal'), 'old cluster');
}

function deps(record: RestoreRecord | undefined, corrupt: string[] = []) {
  const calls: { downloads: string[]; restores: string[][]; logs: string[] } = {
    downloads: [],
    restores: [],
    logs: [],
  };
  const d: RestoreDeps = {
    latestRestore: async () => record,
    newestSnapshot: async () => undefined,
    download: async (s, file) => {
      calls.downloads.push(s.key);
      if (corrupt.includes(s.key)) throw new Error(`snapshot ${s.key} is corrupt: sha256 x does not match`);
      fs.writeFileSync(file, `snapshot ${s.key}`);
    },
    runRestore: async (args) => {
      calls.restores.push([...args]);
      const target = args[args.indexOf('--data-dir') + 1];
      fs.mkdirSync(path.join(target, 'member', 'snap'), { recursive: true });
      fs.copyFileSync(args[2], path.join(target, 'member', 'snap', 'db'));
    },
    log: (m, f) => calls.logs.push(`${m} ${JSON.stringify(f ?? {})}`),
  };
  return { d, calls };
}

test('no record: nothing touched', async () => {
  oldData();
  const { d } = deps(undefined);
  const g = await restoreGate(cfg(), self, d);
  expect(g.role.kind).toBe('none');
  expect(fs.existsSync(path.join(dir, 'data', 'member', 'wal', 'old.wal'))).toBe(true);
});

test('the seed: the corrupt newest is refused, the previous one restored in place of the old data', async () => {
  oldData();
  const [older, newer] = [snap(1000, 10), snap(2000, 20)];
  const record = buildRestoreRecord(
    0,
    { instanceId: 'i-seed', privateIp: '10.0.0.1', lifecycleState: 'InService' },
    [older, newer],
    5,
    'test',
  );
  const { d, calls } = deps(record, [newer.key]);
  const g = await restoreGate(cfg(), self, d);
  expect(g.role.kind).toBe('seed');
  expect(g.restored?.key).toBe(older.key);
  expect(calls.downloads).toEqual([newer.key, older.key]);
  expect(calls.logs.some((l) => l.startsWith('snapshot refused, trying the next older one'))).toBe(true);
  expect(calls.restores).toHaveLength(1);
  expect(calls.restores[0]).toEqual(
    expect.arrayContaining([
      '--name',
      'i-seed',
      '--initial-cluster',
      'i-seed=http://10.0.0.1:2380',
      '--initial-cluster-token',
      record.clusterToken,
    ]),
  );
  const data = path.join(dir, 'data');
  expect(fs.readFileSync(path.join(data, 'member', 'snap', 'db'), 'utf8')).toBe(`snapshot ${older.key}`);
  expect(fs.existsSync(path.join(data, 'member', 'wal', 'old.wal'))).toBe(false);
  expect(fs.readdirSync(data).sort()).toEqual([GENERATION_FILE, 'member']); // the work dir is gone
  expect(localDataDir(data).generation()).toBe(1);
  // A reboot of the seed afterwards keeps its data.
  const again = await restoreGate(cfg(), self, deps(record).d);
  expect(again.role.kind).toBe('none');
});

test('the seed with no snapshot that verifies: a clear error, the old data left as it was', async () => {
  oldData();
  const s1 = snap(1000, 10);
  const record = buildRestoreRecord(
    0,
    { instanceId: 'i-seed', privateIp: '10.0.0.1', lifecycleState: 'InService' },
    [s1],
    5,
    'test',
  );
  const { d } = deps(record, [s1.key]);
  await expect(restoreGate(cfg(), self, d)).rejects.toThrow(
    /no snapshot of restore generation 1 verified: snapshot .* is corrupt/,
  );
  expect(fs.existsSync(path.join(dir, 'data', 'member', 'wal', 'old.wal'))).toBe(true);
  expect(fs.existsSync(path.join(dir, 'data', '.restore-work'))).toBe(false);
});

test('another instance with old data: wiped and marked with the generation', async () => {
  oldData();
  const record = buildRestoreRecord(
    3,
    { instanceId: 'i-other', privateIp: '10.0.0.9', lifecycleState: 'InService' },
    [snap(1, 1)],
    5,
    'test',
  );
  const { d, calls } = deps(record);
  const g = await restoreGate(cfg(), self, d);
  expect(g.role.kind).toBe('wipe-and-join');
  expect(calls.downloads).toEqual([]);
  expect(fs.readdirSync(path.join(dir, 'data'))).toEqual([GENERATION_FILE]);
  expect(localDataDir(path.join(dir, 'data')).generation()).toBe(4);
});

test('the seed of a survivor record (FAILURE-SCENARIOS 14): its data kept and marked, nothing downloaded; once', async () => {
  oldData();
  const record = buildRestoreRecord(
    0,
    { instanceId: 'i-seed', privateIp: '10.0.0.1', lifecycleState: 'InService' },
    [snap(1000, 10)],
    5,
    'test',
    { kind: 'survivor', instanceId: 'i-seed', memberId: 'abc', revision: 77 },
  );
  const { d, calls } = deps(record);
  const g = await restoreGate(cfg(), self, d);
  expect(g.role.kind).toBe('seed-survivor');
  expect(calls.downloads).toEqual([]);
  expect(calls.restores).toEqual([]);
  expect(fs.readFileSync(path.join(dir, 'data', 'member', 'wal', 'old.wal'), 'utf8')).toBe('old cluster');
  expect(localDataDir(path.join(dir, 'data')).generation()).toBe(1);
  expect(calls.logs.some((l) => l.startsWith("seeding from this member's own data"))).toBe(true);
  // The next start (etcd restarted, or a reboot) is a plain one: never forced a second time.
  const again = await restoreGate(cfg(), self, deps(record).d);
  expect(again.role.kind).toBe('none');
});
