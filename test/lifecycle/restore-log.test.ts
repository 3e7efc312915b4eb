/*
 * Issue 16 (FAILURE-SCENARIOS 21: a snapshot that failed its drill is never chosen), the restore trigger's part: the handler (real SDK clients against the AWS stand-in and the local
 * S3) lists the incremental log's chunks, counts the snapshot candidate with the revision its log reaches,
 * and writes it into the record (`log`), with a point-in-time request's limits; a bad point-in-time argument
 * is refused with a clear error. No etcd runs: every member is gone (a total loss), the verdict is `lost`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { ChunkStore } from '../../lambda/adapters/chunk-store';
import { createS3Client, SnapshotStore } from '../../lambda/adapters/s3';
import { ChunkRevision } from '../../lambda/core/incremental';
import { RestoreRecord } from '../../lambda/core/restore';
import { createContext, handler, setContextFactory } from '../../lambda/lifecycle';
import { Logger } from '../../lambda/lifecycle/log';
import { AwsStandIn } from '../../fleet/standin';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';
import { GROUP, instance, newStandIn, REGION } from '../standin/helpers';

jest.setTimeout(30_000);

const BUCKET = 'etcd-backups';
const T0 = Date.parse('2026-12-01T01:00:00.000Z');
const savedEnv = { ...process.env };
let dir: string;
let s3: LocalS3;
let standIn: AwsStandIn;
let lines: Record<string, unknown>[];
let prefixN = 0;
let prefix: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-log-'));
  s3 = new LocalS3({ host: '127.0.0.1', port: 0, directory: path.join(dir, 's3'), buckets: [BUCKET] });
  await s3.start();
  standIn = newStandIn('127.0.87.100', { desiredCapacity: 3 });
  await standIn.start();
  // Three instances whose etcd is gone (nothing listens on their addresses): a total loss.
  for (const n of [1, 2, 3]) await standIn.addInstance(instance(`127.0.87.${n}`, n));
});

afterAll(async () => {
  setContextFactory();
  await standIn?.stop();
  await s3?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  prefix = `g${++prefixN}/`;
  lines = [];
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: standIn.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_KEY,
    AWS_REGION: REGION,
    GROUP_NAME: GROUP,
    CLIENT_PORT: '2379',
    PEER_PORT: '2380',
    SCHEME: 'http',
    STRATEGY: 'replace',
    BACKUP_BUCKET: BUCKET,
    BACKUP_PREFIX: prefix,
    RESTORE_POLICY: 'manual',
  });
  setContextFactory((env) =>
    createContext(env, {
      log: new Logger({ groupName: GROUP }, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
    }),
  );
});

const enc = (s: string) => new TextEncoder().encode(s);
const revs = (first: number, last: number): ChunkRevision[] =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    revision: first + i,
    time: T0 + (first + i) * 1000,
    ops: [{ kind: 'put' as const, key: enc(`k${first + i}`), value: enc(`v${first + i}`) }],
  }));

/** Snapshots at revisions 50 (T0+50 s) and 100 (T0+100 s) of cluster 'abc', and its log 101..130. */
async function backups(): Promise<void> {
  const client = createS3Client(REGION);
  const snaps = new SnapshotStore(client, BUCKET, prefix);
  for (const rev of [50, 100]) {
    await snaps.upload(Readable.from([Buffer.from(`snapshot ${rev}`)]), {
      time: T0 + rev * 1000,
      revision: rev,
      clusterId: 'abc',
    });
  }
  const chunks = new ChunkStore(client, BUCKET, prefix);
  await chunks.put('abc', revs(101, 120));
  await chunks.put('abc', revs(121, 130));
  client.destroy();
}

async function record(): Promise<RestoreRecord> {
  const client = createS3Client(REGION);
  const r = await new SnapshotStore(client, BUCKET, prefix).latestRestore();
  client.destroy();
  return r!;
}

test('the record carries the log the seed replays; the snapshot counts with the revision its log reaches', async () => {
  await backups();
  const res = await handler({ kind: 'restore' });
  expect(res.outcome).toBe('restore-started');
  expect(res.restore?.restoredUpToRevision).toBe(130);
  const r = await record();
  expect(r.source).toMatchObject({ kind: 'snapshot', revision: 130, snapshotRevision: 100 });
  expect(r.log).toEqual({
    clusterId: 'abc',
    targetRevision: 130,
    chunks: 2,
    reason: 'the log ends at revision 130',
  });
  const line = lines.find((l) => l.decision === 'restore-source');
  expect(String(line?.reason)).toContain(
    'the newest snapshot (revision 100) and its log (2 chunk(s), to revision 130',
  );
});

test('point in time by revision: the record names it, and the snapshot at or before it', async () => {
  await backups();
  const res = await handler({ kind: 'restore', untilRevision: 75 });
  expect(res.outcome).toBe('restore-started');
  const r = await record();
  expect(r.snapshots.map((s) => s.revision)).toEqual([50]);
  expect(r.log).toMatchObject({ untilRevision: 75, targetRevision: 50, chunks: 0 });
});

test('point in time by time: the record names it (epoch ms); the seed cuts the chunks by it', async () => {
  await backups();
  const res = await handler({ kind: 'restore', untilTime: '2026-12-01T01:01:55Z' });
  expect(res.outcome).toBe('restore-started');
  const r = await record();
  expect(r.snapshots.map((s) => s.revision)).toEqual([100, 50]);
  expect(r.log).toMatchObject({ untilTime: T0 + 115_000, chunks: 1, targetRevision: 120 });
});

test.each([
  [{ untilRevision: 0 }, 'untilRevision must be a positive integer (an etcd revision), got 0'],
  [{ untilRevision: '12' }, 'untilRevision must be a positive integer (an etcd revision), got "12"'],
  [
    { untilTime: 'yesterday' },
    'untilTime must be an ISO 8601 time with its zone, e.g. "2026-12-01T01:02:03Z", got "yesterday"',
  ],
  [{ untilTime: '2026-12-01T01:02:03' }, 'got "2026-12-01T01:02:03"'],
])('a bad point in time %j is refused, nothing written', async (extra, message) => {
  await backups();
  const res = await handler({ kind: 'restore', ...extra });
  expect(res.ok).toBe(false);
  expect(res.reason).toContain('restore refused: ');
  expect(res.reason).toContain(message);
  const client = createS3Client(REGION);
  expect(await new SnapshotStore(client, BUCKET, prefix).latestRestore()).toBeUndefined();
  client.destroy();
});

test('a snapshot that failed its restore drill is never chosen: the older one seeds (its log has a hole: 51-100 were never shipped)', async () => {
  await backups();
  const client = createS3Client(REGION);
  const snaps = new SnapshotStore(client, BUCKET, prefix);
  const [newest] = (await snaps.list()).sort((a, b) => b.revision - a.revision);
  expect(newest.revision).toBe(100);
  await snaps.putDrill({
    key: newest.key,
    kind: 'snapshot',
    at: T0 + 200_000,
    ok: false,
    reason: 'test: failed',
  });
  // A failed chain drill of the older one does not exclude it (only a failed snapshot drill does).
  const older = (await snaps.list()).find((s) => s.revision === 50)!;
  await snaps.putDrill({
    key: older.key,
    kind: 'chain',
    at: T0 + 200_000,
    ok: false,
    reason: 'test: failed',
  });
  client.destroy();
  const res = await handler({ kind: 'restore' });
  expect(res.outcome).toBe('restore-started');
  const r = await record();
  expect(r.snapshots.map((s) => s.revision)).toEqual([50]);
  expect(r.source).toMatchObject({ kind: 'snapshot', revision: 50 });
  expect(lines.find((l) => l.decision === 'skip-failed-drills')).toMatchObject({
    skipped: 1,
    reason: '1 snapshot(s) failed their restore drill: never chosen',
  });
});

test('RESTORE_DRILLS: the reconcile publishes LastVerifiedRestoreAgeSeconds (the newest passed drill, else the oldest snapshot)', async () => {
  await backups();
  process.env.RESTORE_DRILLS = 'true';
  const now = Date.now();
  try {
    const metric = () =>
      lines
        .filter((l) => l.message === 'metric LastVerifiedRestoreAgeSeconds')
        .map((l) => Number(l.LastVerifiedRestoreAgeSeconds));
    await handler({ kind: 'reconcile' });
    // No drill yet: the oldest complete snapshot's age (T0 + 50 s).
    const noDrill = metric();
    expect(noDrill).toHaveLength(1);
    expect(Math.abs(noDrill[0] - Math.round((Date.now() - (T0 + 50_000)) / 1000))).toBeLessThanOrEqual(2);
    const client = createS3Client(REGION);
    const snaps = new SnapshotStore(client, BUCKET, prefix);
    const [s] = await snaps.list();
    await snaps.putDrill({ key: s.key, kind: 'snapshot', at: now - 30_000, ok: true, reason: 'test' });
    await snaps.putDrill({ key: s.key, kind: 'chain', at: now - 10_000, ok: false, reason: 'test' });
    client.destroy();
    lines.length = 0;
    await handler({ kind: 'reconcile' });
    const after = metric();
    expect(after).toHaveLength(1);
    expect(after[0]).toBeGreaterThanOrEqual(30);
    expect(after[0]).toBeLessThanOrEqual(33);
  } finally {
    delete process.env.RESTORE_DRILLS;
  }
});
