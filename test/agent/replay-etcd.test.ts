/*
 * Issue 16 (FAILURE-SCENARIOS 13: what a total loss restores; 20: a corrupted or missing chunk), the seed's replay of the incremental log, on
 * real etcd 3.4 and the fleet's local S3. A source etcd
 * gets writes (puts, overwrites, deletes, a two-key transaction, binary bytes); `etcdctl snapshot save` at
 * revision S; more writes; the revisions after S, read back with a watch from S+1, become three chunks
 * (ChunkStore.put). Then the agent's real restore gate (etcdctl snapshot restore, the real chunk store, the
 * scratch etcd of `etcdCommand`) seeds a data dir, and an etcd started on it is judged against the source:
 * every key with its value, create/mod revision and version, and the store's revision.
 * Cases: the whole chain; a corrupted chunk; a missing chunk; untilRevision; untilTime; no etcdCommand.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { S3Client, PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { ChunkStore } from '../../lambda/adapters/chunk-store';
import { createS3Client } from '../../lambda/adapters/s3';
import { parseConfig } from '../../lambda/agent/config';
import { localDataDir } from '../../lambda/agent/data-dir';
import { commandRunner, restoreGate } from '../../lambda/agent/restore';
import { ScratchEtcd } from '../../lambda/agent/scratch-etcd';
import { ChunkInfo, ChunkRevision } from '../../lambda/core/incremental';
import { buildRestoreRecord, RestoreLog, SnapshotInfo, snapshotKey } from '../../lambda/core/restore';
import type { Self } from '../../lambda/core/types';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';

jest.setTimeout(60_000);

const BUCKET = 'etcd-backups';
const T0 = Date.parse('2026-12-01T01:00:00.000Z');
let dir: string;
let s3: LocalS3;
let client: S3Client;
let source: ScratchEtcd;
let snapshotFile: string;
let snap: SnapshotInfo;
let head: number;
let revisions: ChunkRevision[];
const saved: Record<string, string | undefined> = {};
const started: ScratchEtcd[] = [];

const b = (s: string) => Buffer.from(s);

interface Kv {
  key: string;
  value: string;
  create: string;
  mod: string;
  version: string;
}

/** Every key of an etcd at a revision (default: now), with value, create/mod revision and version. */
async function dump(e: ScratchEtcd, revision?: number): Promise<Kv[]> {
  const r = await e.client.kv.range({
    key: Buffer.from([0]),
    range_end: Buffer.from([0]),
    ...(revision !== undefined && { revision: String(revision) }),
  });
  return r.kvs.map((kv) => ({
    key: kv.key.toString('hex'),
    value: kv.value.toString('hex'),
    create: kv.create_revision,
    mod: kv.mod_revision,
    version: kv.version,
  }));
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-etcd-'));
  s3 = new LocalS3({ host: '127.0.0.1', port: 0, directory: path.join(dir, 's3'), buckets: [BUCKET] });
  await s3.start();
  for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])
    saved[k] = process.env[k];
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_S3_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_S3_SECRET_KEY;
  client = createS3Client('local-1');

  // The source cluster (a fresh one-member cluster: etcd's default name and initial cluster).
  source = await ScratchEtcd.start({ command: ['etcd'], name: 'default', dataDir: path.join(dir, 'source') });
  started.push(source);
  const kv = source.client.kv;
  const put = (k: string | Buffer, v: string | Buffer) =>
    kv.put({ key: Buffer.isBuffer(k) ? k : b(k), value: Buffer.isBuffer(v) ? v : b(v) });
  for (let i = 1; i <= 5; i++) await put(`k${i}`, `v${i}`);
  const S = await source.revision();
  snapshotFile = path.join(dir, 'snapshot.db');
  execFileSync('etcdctl', ['--endpoints', source.clientURL, 'snapshot', 'save', snapshotFile], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: 'ignore',
  });
  const clusterId = BigInt((await source.client.maintenance.status()).header.cluster_id).toString(16);
  snap = {
    key: snapshotKey('', T0, S, clusterId),
    time: T0,
    revision: S,
    clusterId,
    sha256: 'a'.repeat(64),
  };
  // The writes after the snapshot.
  await put('k1', 'v1-overwritten');
  await kv.deleteRange({ key: b('k2') });
  await kv.txn({
    compare: [],
    success: [
      { request_put: { key: b('tx/a'), value: b('A') } },
      { request_put: { key: b('tx/b'), value: b('B') } },
    ],
    failure: [],
  });
  for (let i = 6; i <= 12; i++) await put(`k${i}`, `v${i}`);
  await kv.deleteRange({ key: b('k6') });
  await put(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x00, 0xfe]));
  await put('tx/a', 'A2');
  head = await source.revision();

  // The history after S, read back with a watch from S+1, one ChunkRevision per revision.
  const byRev = new Map<number, ChunkRevision['ops'][number][]>();
  const watcher = await source.client
    .watch()
    .prefix('')
    .startRevision(String(S + 1))
    .create();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('watch did not reach the head')), 10_000);
    watcher.on('data', (res) => {
      for (const ev of res.events) {
        const r = Number(ev.kv.mod_revision);
        const list = byRev.get(r) ?? [];
        list.push(
          ev.type === 'Put'
            ? { kind: 'put', key: new Uint8Array(ev.kv.key), value: new Uint8Array(ev.kv.value) }
            : { kind: 'delete', key: new Uint8Array(ev.kv.key) },
        );
        byRev.set(r, list);
      }
      if (byRev.has(head)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  await watcher.cancel();
  revisions = [...byRev.keys()]
    .sort((x, y) => x - y)
    .map((r) => ({ revision: r, time: T0 + (r - S) * 1000, ops: byRev.get(r)! }));
  expect(revisions.map((r) => r.revision)).toEqual(Array.from({ length: head - S }, (_, i) => S + 1 + i));
}, 60_000);

afterAll(async () => {
  for (const e of started) await e.stop();
  client?.destroy();
  await s3?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The log in three chunks under its own prefix: S+1..S+4, S+5..S+8, S+9..head. */
async function ship(prefix: string): Promise<{ store: ChunkStore; chunks: ChunkInfo[] }> {
  const store = new ChunkStore(client, BUCKET, prefix);
  const cut = [revisions.slice(0, 4), revisions.slice(4, 8), revisions.slice(8)];
  const chunks = [];
  for (const c of cut) chunks.push(await store.put(snap.clusterId, c));
  return { store, chunks };
}

/** The real restore gate as the seed of a record with the given log part; then an etcd on the result. */
async function restore(
  name: string,
  store: ChunkStore,
  log: RestoreLog | undefined,
  etcdCommand: string[] | null = ['etcd'],
  snapshot: SnapshotInfo = snap,
  replayLeaseTtlSeconds?: number,
) {
  const base = path.join(dir, name);
  fs.mkdirSync(base);
  const cfg = parseConfig(
    JSON.stringify({
      strategy: 'replace',
      sizeCap: 3,
      peerPort: 2380,
      clientPort: 2379,
      dataDir: path.join(base, 'data'),
      envFile: path.join(base, 'etcd.env'),
      backupBucketFile: path.join(base, 'backup-bucket'),
      restoreCommand: ['etcdctl'],
      ...(etcdCommand && { etcdCommand }),
    }),
  );
  const self: Self = {
    instanceId: 'i-seed',
    privateIp: '10.0.0.1',
    name: 'i-seed',
    peerURL: 'http://10.0.0.1:2380',
    clientURL: 'http://10.0.0.1:2379',
  };
  const record = buildRestoreRecord(
    0,
    { instanceId: 'i-seed', privateIp: '10.0.0.1', lifecycleState: 'InService' },
    [snapshot],
    T0,
    'test',
    { kind: 'snapshot', key: snapshot.key, revision: snapshot.revision },
    log,
  );
  const lines: string[] = [];
  const g = await restoreGate(cfg, self, {
    latestRestore: async () => record,
    newestSnapshot: async () => snapshot.key,
    download: async (_s, file) => fs.copyFileSync(snapshotFile, file),
    runRestore: commandRunner(['etcdctl']),
    log: (m, f) => lines.push(`${m} ${JSON.stringify(f ?? {})}`),
    chunks: {
      listChunks: (id) => store.list(id),
      getChunk: (c) => store.get(c),
      ...(replayLeaseTtlSeconds !== undefined && { replayLeaseTtlSeconds }),
    },
  });
  expect(g.role.kind).toBe('seed');
  expect(localDataDir(cfg.dataDir).generation()).toBe(1);
  const judge = await ScratchEtcd.start({ command: ['etcd'], name: 'i-seed', dataDir: cfg.dataDir });
  started.push(judge);
  const replayLine = lines.find((l) => l.startsWith('incremental log repl'));
  return { g, judge, lines, replayLine: replayLine ?? '' };
}

const logOf = (over: Partial<RestoreLog> = {}): RestoreLog => ({
  clusterId: snap.clusterId,
  targetRevision: head,
  chunks: 3,
  reason: 'test',
  ...over,
});

async function expectAt(judge: ScratchEtcd, revision: number): Promise<void> {
  expect(await judge.revision()).toBe(revision);
  expect(await dump(judge)).toEqual(await dump(source, revision));
  await judge.stop();
}

test('the whole chain: every write back with its own revision, one line for the replay', async () => {
  const { store } = await ship('full/');
  const { g, judge, replayLine } = await restore('full', store, logOf());
  expect(g.replay).toMatchObject({
    snapshotRevision: snap.revision,
    chunks: 3,
    replayedRevisions: head - snap.revision,
    targetRevision: head,
    reachedRevision: head,
  });
  expect(replayLine).toContain(`"reachedRevision":${head}`);
  expect(replayLine).toContain(`the log ends at revision ${head}`);
  // Same keys, values, create and mod revisions, versions; the same store revision.
  const restored = await dump(judge);
  expect(restored.length).toBeGreaterThan(10);
  expect(restored.some((kv) => kv.key === 'ff0001' && kv.value === '00fe')).toBe(true);
  await expectAt(judge, head);
});

test('a corrupted chunk: the restore stops at the last good revision and says which chunk and why', async () => {
  const { store, chunks } = await ship('corrupt/');
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: chunks[1].key, Body: 'overwritten bytes\n' }),
  );
  const { g, judge, replayLine } = await restore('corrupt', store, logOf());
  const good = chunks[0].last;
  expect(g.replay).toMatchObject({ reachedRevision: good, replayedRevisions: good - snap.revision });
  expect(g.replay?.stoppedAt?.key).toBe(chunks[1].key);
  expect(replayLine).toContain(`chunk ${chunks[1].key} did not verify`);
  expect(replayLine).toContain(`the restore stops at revision ${good}`);
  expect(replayLine).toMatch(/is corrupt: sha256/);
  await expectAt(judge, good);
});

test('a missing chunk: a hole, the restore stops at the last good revision and names the missing revisions', async () => {
  const { store, chunks } = await ship('missing/');
  await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: chunks[1].key }));
  const { g, judge, replayLine } = await restore('missing', store, logOf());
  const good = chunks[0].last;
  expect(g.replay).toMatchObject({ reachedRevision: good, gap: { from: good + 1, to: chunks[1].last } });
  expect(replayLine).toContain(
    `revisions ${good + 1}..${chunks[1].last} are missing from the log: the restore stops at revision ${good}`,
  );
  await expectAt(judge, good);
});

test('untilRevision: exactly the writes up to it (mid-chunk)', async () => {
  const { store } = await ship('until-rev/');
  const until = snap.revision + 6;
  const { g, judge, replayLine } = await restore('until-rev', store, logOf({ untilRevision: until }));
  expect(g.replay?.reachedRevision).toBe(until);
  expect(replayLine).toContain(`reached the requested revision ${until}`);
  await expectAt(judge, until);
});

test('untilTime: exactly the writes received up to it', async () => {
  const { store } = await ship('until-time/');
  // Revision S+n was received at T0 + n s: the time of S+7 plus half a second.
  const { g, judge, replayLine } = await restore(
    'until-time',
    store,
    logOf({ untilTime: T0 + 7 * 1000 + 500 }),
  );
  expect(g.replay?.reachedRevision).toBe(snap.revision + 7);
  expect(replayLine).toContain('reached the requested time 2026-12-01T01:00:07.500Z');
  await expectAt(judge, snap.revision + 7);
});

test('a config without etcdCommand (older): no replay, the line says so; the snapshot as it was', async () => {
  const { store } = await ship('no-etcd/');
  const { g, judge, replayLine } = await restore('no-etcd', store, logOf(), null);
  expect(g.replay?.replayedRevisions).toBe(0);
  expect(replayLine).toContain('the config has no etcdCommand (an older config): not replayed');
  await expectAt(judge, snap.revision);
});

test("the snapshot holds more than its key's revision (read just before it): the replay starts after what it holds", async () => {
  const { store } = await ship('key-behind/');
  // The key says S-2 (the revision read before the snapshot); the data holds S, and the log starts at S+1
  // (shipped after the snapshot): planned from the key's revision it would look like a hole at S-1..S.
  const early = {
    ...snap,
    revision: snap.revision - 2,
    key: snapshotKey('', T0, snap.revision - 2, snap.clusterId),
  };
  const { g, judge } = await restore('key-behind', store, logOf(), ['etcd'], early);
  expect(g.replay).toMatchObject({ snapshotRevision: snap.revision, reachedRevision: head });
  await expectAt(judge, head);
});

test('a point in time below what the snapshot holds: nothing replayed, and the line says the cluster starts past it', async () => {
  const { store } = await ship('pit-overshoot/');
  await store.put(snap.clusterId, [
    { revision: snap.revision - 1, time: T0, ops: [{ kind: 'put', key: b('k4'), value: b('v4') }] },
    { revision: snap.revision, time: T0, ops: [{ kind: 'put', key: b('k5'), value: b('v5') }] },
  ]);
  const early = {
    ...snap,
    revision: snap.revision - 2,
    key: snapshotKey('', T0, snap.revision - 2, snap.clusterId),
  };
  const { g, judge, replayLine } = await restore(
    'pit-overshoot',
    store,
    logOf({ untilRevision: snap.revision - 1 }),
    ['etcd'],
    early,
  );
  expect(g.replay).toMatchObject({ replayedRevisions: 0, reachedRevision: snap.revision });
  expect(replayLine).toContain(
    `the restored snapshot already holds revision ${snap.revision}, past the requested revision ${snap.revision - 1}`,
  );
  await expectAt(judge, snap.revision);
});

test('a put that had a lease (an election campaign, a lock held at the loss) is replayed with a short lease and goes; a plain put stays', async () => {
  const store = new ChunkStore(client, BUCKET, 'leased/');
  const campaign = 'cdk-elastic-etcd/backup/election/shipper/694d7f1a2b3c4d5e';
  await store.put(snap.clusterId, [
    {
      revision: snap.revision + 1,
      time: T0,
      ops: [{ kind: 'put', key: b(campaign), value: b('i-old'), leased: true }],
    },
    { revision: snap.revision + 2, time: T0, ops: [{ kind: 'put', key: b('user/plain'), value: b('kept') }] },
  ]);
  const { g, judge } = await restore(
    'leased',
    store,
    logOf({ targetRevision: snap.revision + 2, chunks: 1 }),
    ['etcd'],
    snap,
    2,
  );
  // Both replayed with their own revisions; the campaign key under the replay lease.
  expect(g.replay).toMatchObject({ replayedRevisions: 2, reachedRevision: snap.revision + 2 });
  const got = async (k: string) => (await judge.client.get(k).exec()).kvs[0];
  const leased = await got(campaign);
  expect(leased?.value.toString()).toBe('i-old');
  expect(leased?.lease).not.toBe('0');
  expect((await got('user/plain'))?.lease).toBe('0');
  // The restored cluster's leader lets the replay lease run out: the campaign key goes, the plain key stays.
  let gone = false;
  for (let i = 0; i < 40 && !gone; i++) {
    await new Promise((r) => setTimeout(r, 250));
    gone = (await got(campaign)) === undefined;
  }
  expect(gone).toBe(true);
  expect((await got('user/plain'))?.value.toString()).toBe('kept');
  await judge.stop();
});
