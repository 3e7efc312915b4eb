/*
 * A restore drill on real etcd 3.4 (lambda/agent/drill.ts): a snapshot of a source etcd restored with etcdctl
 * into a scratch data dir, started with `etcd`, its revision and keyspace digest read: the same as the source's at
 * that revision. A file that is no snapshot fails its drill, saying why; a recorded digest that differs too.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { drillSnapshot } from '../../lambda/agent/drill';
import { commandRunner } from '../../lambda/agent/restore';
import { ScratchEtcd } from '../../lambda/agent/scratch-etcd';

jest.setTimeout(60_000);

let dir: string;
let source: ScratchEtcd;
let file: string;
let revision: number;
let hash: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-etcd-'));
  source = await ScratchEtcd.start({ command: ['etcd'], name: 'default', dataDir: path.join(dir, 'source') });
  for (let i = 0; i < 20; i++) await source.client.put(`k${i}`).value(`v${i}`);
  await source.client.delete().key('k3');
  revision = await source.revision();
  // One write after the snapshot's revision (not in the snapshot): a digest at it differs.
  hash = await source.contentSha256(revision);
  file = path.join(dir, 'snapshot.db');
  execFileSync('etcdctl', ['--endpoints', source.clientURL, 'snapshot', 'save', file], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: 'ignore',
  });
  await source.client.put('k0').value('after');
});

afterAll(async () => {
  await source?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const drill = (f: string, recordedSha256?: string) =>
  drillSnapshot({
    file: f,
    snapshot: { key: 'snapshots/x.db', revision },
    runRestore: commandRunner(['etcdctl']),
    etcdCommand: ['etcd'],
    workDir: dir,
    ...(recordedSha256 !== undefined && {
      expected: { revision, contentSha256: recordedSha256, source: 'recorded by the backup' },
    }),
  });

test('a good snapshot: restored to its revision with the source keyspace digest; the scratch dir is gone', async () => {
  const r = await drill(file, hash);
  // The reason in the same comparison: a failed drill shows why.
  expect(r).toMatchObject({
    ok: true,
    restoredRevision: revision,
    contentSha256: hash,
    reason: `restored to revision ${revision} (expected at least ${revision}); keyspace sha256 at ${revision} ${hash}, the same as recorded by the backup`,
  });
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('etcd-drill-'))).toEqual([]);
});

test('a digest recorded at a later revision differs: failed, saying both', async () => {
  const later = await source.contentSha256(revision + 1);
  const r = await drill(file, later);
  expect(r.ok).toBe(false);
  expect(r.reason).toBe(
    `the restored keyspace's sha256 at revision ${revision} is ${hash}, not ${later} (recorded by the backup)`,
  );
});

test('a file that is no snapshot: failed, the restore tool said so', async () => {
  const bad = path.join(dir, 'bad.db');
  fs.writeFileSync(bad, Buffer.alloc(4096, 7));
  const r = await drill(bad);
  expect(r.ok).toBe(false);
  expect(r.reason).toMatch(/^the snapshot does not restore: etcdctl snapshot restore exited/);
});
