/*
 * SnapshotStore against the fleet's local S3 (s3rver + the conditional-write front in fleet/s3.ts), through
 * the real S3 client and lib-storage: streaming upload with sha256, listing, verified download, the refusal
 * of a corrupt snapshot, and the restore fence (If-None-Match: *) under a race.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SnapshotIntegrityError, SnapshotStore } from '../../lambda/adapters/s3';
import { buildRestoreRecord, chooseSnapshot } from '../../lambda/core/restore';
import { BUCKET, useLocalS3 } from './local-s3';

const s3 = useLocalS3('s3-store');
let store: SnapshotStore;
beforeAll(() => {
  store = new SnapshotStore(s3.client, BUCKET, 'c1/');
});

function chunks(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

test('a streamed snapshot larger than one part is stored with its sha256 and downloads verified', async () => {
  const data = randomBytes(12 * 1024 * 1024 + 123); // two parts of the multipart upload
  const stored = await store.upload(chunks(data, 64 * 1024), {
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    revision: 42,
    clusterId: 'abc123',
  });
  expect(stored.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  expect(stored.size).toBe(data.length);
  expect(stored.key).toBe('c1/snapshots/20260102T030405006Z-r00000000000000000042-abc123.db');
  const listed = await store.list();
  expect(listed).toEqual([
    expect.objectContaining({ key: stored.key, revision: 42, clusterId: 'abc123', sha256: stored.sha256 }),
  ]);
  const file = path.join(s3.dir, 'down.db');
  await store.download(listed[0], file);
  expect(fs.readFileSync(file).equals(data)).toBe(true);
});

test('a corrupt snapshot is refused with a clear error, and the previous one is chosen', async () => {
  const good = await store.upload(Readable.from([Buffer.from('good snapshot')]), {
    time: Date.UTC(2026, 0, 3),
    revision: 50,
    clusterId: 'abc123',
  });
  const bad = await store.upload(Readable.from([Buffer.from('newest snapshot')]), {
    time: Date.UTC(2026, 0, 4),
    revision: 60,
    clusterId: 'abc123',
  });
  // Flip bytes of the stored object (same key; its sha256 sidecar keeps the original digest).
  await s3.client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: bad.key, Body: Buffer.from('newest snapshoT') }),
  );
  const candidates = await store.list();
  const refused: Record<string, string> = {};
  const first = chooseSnapshot(candidates, refused)!;
  expect(first.key).toBe(bad.key);
  const file = path.join(s3.dir, 'bad.db');
  const err = await store.download(first, file).catch((e: Error) => e);
  expect(err).toBeInstanceOf(SnapshotIntegrityError);
  expect((err as Error).message).toMatch(
    new RegExp(
      `snapshot ${bad.key} is corrupt: sha256 [0-9a-f]{64} does not match the recorded ${bad.sha256}`,
    ),
  );
  expect(fs.existsSync(file)).toBe(false);
  refused[first.key] = (err as Error).message;
  const next = chooseSnapshot(candidates, refused)!;
  expect(next.key).toBe(good.key);
  await store.download(next, file);
  expect(fs.readFileSync(file, 'utf8')).toBe('good snapshot');
});

test('an interrupted backup (no sha256 sidecar) is never a candidate', async () => {
  const key = 'c1/snapshots/20270101T000000000Z-r00000000000000000099-abc123.db';
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from('partial') }));
  const listed = await store.list();
  expect(listed.find((s) => s.key === key)?.sha256).toBeUndefined();
  expect(chooseSnapshot(listed, {})!.key).not.toBe(key);
});

test('the restore fence: of 8 racing claims of one generation exactly one wins', async () => {
  const seeds = Array.from({ length: 8 }, (_, n) => ({
    instanceId: `i-0000000${n}`,
    privateIp: `127.0.0.${n + 2}`,
    lifecycleState: 'InService',
  }));
  const records = seeds.map((s) => buildRestoreRecord(0, s, [], Date.now(), 'test'));
  const results = await Promise.all(records.map((r) => store.claimRestore(r)));
  expect(results.filter(Boolean)).toHaveLength(1);
  const winner = records[results.indexOf(true)];
  const latest = await store.latestRestore();
  expect(latest).toEqual(winner);
  // The next generation is free again, and only once.
  const gen2 = buildRestoreRecord(1, seeds[3], [], Date.now(), 'test');
  expect(await store.claimRestore(gen2)).toBe(true);
  expect(await store.claimRestore({ ...gen2, seedInstanceId: 'i-other' })).toBe(false);
  expect((await store.latestRestore())?.seedInstanceId).toBe(seeds[3].instanceId);
});
