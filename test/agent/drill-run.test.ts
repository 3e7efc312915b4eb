/*
 * The restore drill run (FAILURE-SCENARIOS 20 and 21; lambda/agent/drill-run.ts, `agent.js drill`) on real etcd 3.4 and the local S3: a
 * live etcd, its snapshot taken and stored as the backup does (openSnapshot + SnapshotStore.upload: the
 * sidecar records the keyspace digest), chunks of the writes after it (ChunkStore.put), and the drill lock
 * (EtcdAdapter.withLock) in a second etcd. Read back from the bucket: the drill results, by value.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ChunkStore } from '../../lambda/adapters/chunk-store';
import { EtcdAdapter, LockNotTakenError } from '../../lambda/adapters/etcd';
import { openSnapshot } from '../../lambda/adapters/etcd-snapshot';
import { SnapshotStore } from '../../lambda/adapters/s3';
import { DrillRunDeps, runDrill } from '../../lambda/agent/drill-run';
import { DRILL_LOCK_KEY } from '../../lambda/agent/drill-main';
import { commandRunner } from '../../lambda/agent/restore';
import { ScratchEtcd } from '../../lambda/agent/scratch-etcd';
import { compactTime, snapshotKey, type ChunkRevision, type SnapshotInfo } from '../../lambda/core';
import { BUCKET, useLocalS3 } from '../adapters/local-s3';

jest.setTimeout(90_000);

const s3 = useLocalS3('drill-run');
let live: ScratchEtcd;
/** Holds the drill lock (on a member it is the live cluster; here apart, so the live revisions are the test's writes only). */
let locks: ScratchEtcd;
let store: SnapshotStore;
let chunks: ChunkStore;
let snapshot: SnapshotInfo;
const lines: { message: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  live = await ScratchEtcd.start({ command: ['etcd'], name: 'default', dataDir: path.join(s3.dir, 'live') });
  locks = await ScratchEtcd.start({
    command: ['etcd'],
    name: 'default',
    dataDir: path.join(s3.dir, 'locks'),
  });
  for (let i = 0; i < 30; i++) await live.client.put(`k${i}`).value(`v${i}`);
  await live.client.delete().key('k7');
  store = new SnapshotStore(s3.client, BUCKET, 'p/');
  chunks = new ChunkStore(s3.client, BUCKET, 'p/');
  const snap = await openSnapshot(live.clientURL);
  try {
    snapshot = await store.upload(snap.stream, { ...snap, time: Date.now() });
  } finally {
    snap.close();
  }
});

afterAll(async () => {
  await live?.stop();
  await locks?.stop();
});

function deps(over: Partial<DrillRunDeps> = {}): DrillRunDeps {
  const etcd = new EtcdAdapter({ callTimeoutMs: 5000, probeTimeoutMs: 1000 });
  return {
    store,
    chunks: { list: (c) => chunks.list(c), get: (c) => chunks.get(c) },
    runRestore: commandRunner(['etcdctl']),
    etcdCommand: ['etcd'],
    workDir: path.join(s3.dir, 'work'),
    liveDigest: async (revision) => ({ sha256: await live.contentSha256(revision) }),
    withLock: (fn) => etcd.withLock([locks.clientURL], DRILL_LOCK_KEY, 2000, fn, undefined, 30),
    chainEverySeconds: 0,
    now: () => Date.now(),
    log: (message, fields) => lines.push({ message, fields }),
    ...over,
  };
}

async function body(key: string): Promise<Record<string, unknown>> {
  return (await store.getJson<Record<string, unknown>>(key))!;
}

test('the newest snapshot: restored in a scratch etcd, revision and the recorded digest compared, the result kept', async () => {
  expect(snapshot.contentSha256).toBe(await live.contentSha256(snapshot.revision));
  const r = await runDrill(deps());
  expect(r).toMatchObject({
    key: snapshot.key,
    kind: 'snapshot',
    ok: true,
    restoredRevision: snapshot.revision,
  });
  expect(r!.contentSha256).toBe(snapshot.contentSha256);
  expect(r!.reason).toContain('the same as recorded by the backup');
  const drills = await store.listDrills();
  expect(drills.map((d) => [d.key, d.kind, d.ok])).toEqual([[snapshot.key, 'snapshot', true]]);
  const stored = await body(
    `p/drills/snapshot/${path.basename(snapshot.key, '.db')}/${compactTime(drills[0].at)}-ok.json`,
  );
  expect(stored).toMatchObject({ ok: true, contentSha256: snapshot.contentSha256, reason: r!.reason });
  expect(fs.existsSync(path.join(s3.dir, 'work'))).toBe(false);
  // Nothing more to drill: no log past the snapshot. A work dir left by a run stopped half-way goes anyway.
  fs.mkdirSync(path.join(s3.dir, 'work'), { recursive: true });
  fs.writeFileSync(path.join(s3.dir, 'work', 'snapshot.db'), 'a partial download');
  expect(await runDrill(deps())).toBeUndefined();
  expect(lines.at(-1)?.fields).toMatchObject({ decision: 'no-drill' });
  expect(fs.existsSync(path.join(s3.dir, 'work'))).toBe(false);
});

test('the chain: the log after the snapshot replayed as a restore does, judged against the live cluster', async () => {
  const revisions: ChunkRevision[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await live.client.put(`after${i}`).value(`w${i}`).exec();
    revisions.push({
      revision: Number(res.header.revision),
      time: Date.now(),
      ops: [{ kind: 'put', key: Buffer.from(`after${i}`), value: Buffer.from(`w${i}`) }],
    });
  }
  await chunks.put(snapshot.clusterId, revisions);
  const r = await runDrill(deps());
  expect(r).toMatchObject({
    key: snapshot.key,
    kind: 'chain',
    ok: true,
    restoredRevision: revisions[4].revision,
  });
  expect(r!.contentSha256).toBe(await live.contentSha256(revisions[4].revision));
  expect(r!.reason).toMatch(/^5 revision\(s\) of 1 chunk\(s\) replayed; .*the same as the live cluster$/);
});

test('a chunk that does not continue the keyspace: the chain drill fails at the revision it reached, saying why', async () => {
  const from = await live.revision();
  const res = await live.client.put('later').value('x').exec();
  // The chunk claims another value than the one written: the replayed keyspace differs from the live one.
  await chunks.put(snapshot.clusterId, [
    {
      revision: Number(res.header.revision),
      time: Date.now(),
      ops: [{ kind: 'put', key: Buffer.from('later'), value: Buffer.from('y') }],
    },
  ]);
  expect(Number(res.header.revision)).toBe(from + 1);
  const r = await runDrill(deps());
  expect(r).toMatchObject({ kind: 'chain', ok: false, restoredRevision: from + 1 });
  expect(r!.reason).toMatch(
    /keyspace's sha256 at revision \d+ is [0-9a-f]{64}, not [0-9a-f]{64} \(the live cluster\)/,
  );
});

test('a snapshot whose bytes are intact but hold another keyspace: the drill fails and says why; the next run drills the older one', async () => {
  // Another etcd's snapshot, stored under a newer key of the same revision with the live digest recorded:
  // its sha256 verifies (the bytes are what was uploaded), only a drill can tell.
  const other = await ScratchEtcd.start({
    command: ['etcd'],
    name: 'default',
    dataDir: path.join(s3.dir, 'other'),
  });
  let bad: SnapshotInfo;
  try {
    for (let i = 0; i < 30; i++) await other.client.put(`k${i}`).value(`other${i}`);
    const snap = await openSnapshot(other.clientURL);
    try {
      bad = await store.upload(snap.stream, {
        time: Date.now(),
        revision: snap.revision,
        clusterId: snapshot.clusterId,
        contentSha256: snapshot.contentSha256,
      });
    } finally {
      snap.close();
    }
  } finally {
    await other.stop();
  }
  const r = await runDrill(deps());
  expect(r).toMatchObject({ key: bad.key, kind: 'snapshot', ok: false });
  expect(r!.reason).toBe(
    `the restored keyspace's sha256 at revision ${bad.revision} is ${r!.contentSha256}, not ${snapshot.contentSha256} (recorded by the backup)`,
  );
  const listed = await store.listDrills();
  expect(listed.filter((d) => d.key === bad.key).map((d) => d.ok)).toEqual([false]);
  // The newest failed; the older one already passed: nothing left to drill (the failed one is not retried).
  expect(await runDrill(deps({ chainEverySeconds: 3600 }))).toBeUndefined();
  expect(lines.at(-1)?.fields?.reason).toContain(`the newest, ${bad.key}, failed`);
});

test('a snapshot whose bytes do not match their sha256: failed without a restore, saying so', async () => {
  const key = snapshotKey('p/', Date.now() + 60_000, snapshot.revision, snapshot.clusterId);
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.alloc(1000, 1) }));
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `${key}.sha256`,
      Body: JSON.stringify({ sha256: 'f'.repeat(64), size: 1000 }),
    }),
  );
  const r = await runDrill(deps());
  expect(r).toMatchObject({ key, kind: 'snapshot', ok: false });
  expect(r!.reason).toMatch(
    /^the snapshot does not download intact: snapshot .* is corrupt: sha256 [0-9a-f]{64} does not match/,
  );
});

test('the lock held by another member: the run rejects without drilling or writing', async () => {
  const etcd = new EtcdAdapter({ callTimeoutMs: 5000, probeTimeoutMs: 1000 });
  const before = (await store.listDrills()).length;
  let inner: Promise<unknown> | undefined;
  await etcd.withLock([locks.clientURL], DRILL_LOCK_KEY, 2000, async () => {
    inner = runDrill(deps({ chainEverySeconds: 0 }));
    await expect(inner).rejects.toThrow(/could not take the lock cdk-elastic-etcd\/drill-lock/);
    // Typed: drillMain and the maintenance run tell a lock not taken from other failures by class, not text.
    await expect(inner).rejects.toBeInstanceOf(LockNotTakenError);
    await expect(inner).rejects.toMatchObject({ key: DRILL_LOCK_KEY });
  });
  expect((await store.listDrills()).length).toBe(before);
});
