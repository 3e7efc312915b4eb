/*
 * ChunkStore (the incremental backup log in the bucket) against the fleet's local S3 through the real S3
 * client: put, list by cluster, a verified get, the refusal of a corrupt or malformed chunk, deletion.
 */
import * as fs from 'fs';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ChunkIntegrityError, ChunkStore } from '../../lambda/adapters/chunk-store';
import { ChunkRevision, planReplay } from '../../lambda/core/incremental';
import { BUCKET, useLocalS3 } from './local-s3';

const s3 = useLocalS3('chunk-store');
let store: ChunkStore;
beforeAll(() => {
  store = new ChunkStore(s3.client, BUCKET, 'c1/');
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
  await s3.client.send(
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
    await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: other.key }))
  ).Body!.transformToString();
  const forged = { ...other, clusterId: 'cc', key: other.key.replace('/dd/', '/cc/') };
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: forged.key, Body: body }));
  await expect(store.get(forged)).rejects.toThrow(
    /is malformed: header clusterId dd does not match the key's cc/,
  );
});
