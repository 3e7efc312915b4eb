/*
 * ChunkStore (the incremental backup log in the bucket) against the fleet's local S3 through the real S3
 * client: put, list by cluster, a verified get, the refusal of a corrupt or malformed chunk, deletion.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ChunkIntegrityError, ChunkStore } from '../../lambda/adapters/chunk-store';
import { createS3Client } from '../../lambda/adapters/s3';
import { ChunkRevision, planReplay } from '../../lambda/core/incremental';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';

const BUCKET = 'etcd-backups';
let dir: string;
let s3: LocalS3;
let client: S3Client;
let store: ChunkStore;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chunk-store-'));
  s3 = new LocalS3({ host: '127.0.0.1', port: 0, directory: path.join(dir, 's3'), buckets: [BUCKET] });
  await s3.start();
  for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])
    saved[k] = process.env[k];
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_S3_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_S3_SECRET_KEY;
  client = createS3Client('local-1');
  store = new ChunkStore(client, BUCKET, 'c1/');
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.parse('2026-12-01T01:00:00.000Z');
const enc = (s: string) => new TextEncoder().encode(s);
const revs = (first: number, last: number): ChunkRevision[] =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    revision: first + i,
    time: T0 + (first + i) * 10,
    ops: [{ kind: 'put' as const, key: enc(`k${first + i}`), value: enc(`v${first + i}`) }],
  }));

test('put, list by cluster (in revision order), get back the same revisions, delete', async () => {
  const b = await store.put('bb', revs(11, 20));
  const a = await store.put('aa', revs(1, 10));
  const a2 = await store.put('aa', revs(11, 12));
  expect(a).toMatchObject({ clusterId: 'aa', first: 1, last: 10, time: T0 + 100 });
  expect(a.key.startsWith('c1/incremental/aa/r00000000000000000001-r00000000000000000010-')).toBe(true);
  expect((await store.list('aa')).map((c) => c.key)).toEqual([a.key, a2.key]);
  expect((await store.list()).map((c) => c.key).sort()).toEqual([a.key, a2.key, b.key].sort());
  const got = await store.get(a2);
  expect(got.map((r) => [r.revision, r.time])).toEqual([
    [11, T0 + 110],
    [12, T0 + 120],
  ]);
  const op = got[1].ops[0];
  expect(op.kind === 'put' && [Buffer.from(op.key).toString(), Buffer.from(op.value).toString()]).toEqual([
    'k12',
    'v12',
  ]);
  expect(
    planReplay({ snapshotRevision: 0, clusterId: 'aa', chunks: await store.list('aa') }).targetRevision,
  ).toBe(12);
  await store.delete([a.key, b.key]);
  expect((await store.list()).map((c) => c.key)).toEqual([a2.key]);
});

test('a chunk whose bytes changed is refused naming both digests; one with a body that is not its key is refused as malformed', async () => {
  const c = await store.put('cc', revs(1, 3));
  await client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: c.key,
      Body: (await fs.promises.readFile(__filename, 'utf8')).slice(0, 99),
    }),
  );
  await expect(store.get(c)).rejects.toThrow(ChunkIntegrityError);
  await expect(store.get(c)).rejects.toThrow(
    new RegExp(`chunk ${c.key} is corrupt: sha256 [0-9a-f]{64} does not match the key's ${c.sha256}`),
  );

  // Bytes that match their key's sha256 but another cluster's header: a mislabelled upload.
  const other = await store.put('dd', revs(1, 3));
  const body = await (
    await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: other.key }))
  ).Body!.transformToString();
  const forged = { ...other, clusterId: 'cc', key: other.key.replace('/dd/', '/cc/') };
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: forged.key, Body: body }));
  await expect(store.get(forged)).rejects.toThrow(
    /is malformed: header clusterId dd does not match the key's cc/,
  );
});
