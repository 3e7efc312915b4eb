/*
 * Compaction behind the incremental backup log (issue 16), through the handler's scheduled reconcile,
 * against a real 3-member etcd 3.4 cluster, the AWS stand-in and the local S3 holding the log's chunks.
 * Judged with Debian's etcdctl: a read at a revision below the compaction fails with "required revision has
 * been compacted", a read at the compaction revision still works.
 */
import { execFile } from 'child_process';
import { promisify } from 'util';
import { ChunkStore } from '../../lambda/adapters/chunk-store';
import { handler } from '../../lambda/lifecycle';
import { BUCKET, useLocalS3 } from '../adapters/local-s3';
import { decisions, useHandlerWorld, w } from './handler-fixture';

const run = promisify(execFile);
// The handler's own credentials (the stand-in's), accepted by the local S3 too.
const s3 = useLocalS3('log-compaction', [
  { accessKeyId: 'lifecycle-test', secretAccessKey: 'lifecycle-test' },
]);
useHandlerWorld(251, 255);

/** `etcdctl get k --rev=R`: 'ok', 'compacted', or the error. */
async function getAt(rev: number): Promise<string> {
  try {
    await run('etcdctl', ['--endpoints', w.cluster.clientURLs.join(','), 'get', 'k', `--rev=${rev}`], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return 'ok';
  } catch (err) {
    const msg = String((err as { stderr?: string }).stderr ?? err);
    return /required revision has been compacted/.test(msg) ? 'compacted' : msg;
  }
}

/** 30 writes of key k; returns the revision of each. */
async function history(): Promise<number[]> {
  const c = w.cluster.adapter.client(w.cluster.clientURLs);
  const revs: number[] = [];
  try {
    for (let i = 0; i < 30; i++) revs.push(Number((await c.put('k').value(String(i))).header.revision));
  } finally {
    c.close();
  }
  return revs;
}

async function clusterId(): Promise<string> {
  const list = await w.cluster.adapter.memberList(w.cluster.clientURLs);
  return list!.clusterId;
}

/** A chunk of the log covering first..last, its newest revision received at `time`. */
async function chunk(cid: string, first: number, last: number, time: number): Promise<void> {
  const store = new ChunkStore(s3.client, BUCKET, '');
  await store.put(
    cid,
    Array.from({ length: last - first + 1 }, (_, i) => ({
      revision: first + i,
      time,
      ops: [{ kind: 'put' as const, key: Buffer.from('k'), value: Buffer.from(String(first + i)) }],
    })),
  );
}

function env(logCompaction: string): void {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3.endpoint, // the fixture's clean-up after each test removes it
    BACKUP_BUCKET: BUCKET,
    BACKUP_PREFIX: '',
    INCREMENTAL_BACKUP_SECONDS: '10',
  });
  process.env.LOG_COMPACTION = logCompaction;
}

const lineOf = () => w.lines.find((l) => l.message === 'decision' && l.decision === 'log-compaction');

test('periodic retention: compacts to the newest revision shipped at least the retention ago, not further', async () => {
  await w.cluster.settled();
  const revs = await history();
  const cid = await clusterId();
  const now = Date.now();
  await chunk(cid, 1, revs[9], now - 2 * 3600_000); // shipped 2 h ago
  await chunk(cid, revs[9] + 1, revs[19], now - 1800_000); // 30 min ago: inside the hour kept
  env('periodic:3600');
  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true });
  expect(lineOf()).toMatchObject({ outcome: 'compacted', revision: revs[9], pastLog: false });
  expect(await getAt(revs[9] - 1)).toBe('compacted');
  expect(await getAt(revs[9])).toBe('ok');
  expect(await getAt(revs[19])).toBe('ok');
  expect(decisions()).toContain('log-compaction');
});

test('revision retention: capped at the newest shipped revision while the log is current; a broken log no longer holds it', async () => {
  await w.cluster.settled();
  const revs = await history();
  const cid = await clusterId();
  await chunk(cid, 1, revs[14], Date.now() - 5_000); // the log is 15 revisions behind, 5 s old
  env('revisions:5');
  await handler({ kind: 'reconcile' });
  expect(lineOf()).toMatchObject({ outcome: 'compacted', revision: revs[14], pastLog: false });
  expect(lineOf()!.reason).toMatch(/not past the log's newest shipped revision/);
  expect(await getAt(revs[14] - 1)).toBe('compacted');
  expect(await getAt(revs[14])).toBe('ok');

  // The shipper broken for longer than allowed (its newest chunk 10 min old): the retention alone.
  w.lines = [];
  w.clock = Date.now() + 600_000;
  await handler({ kind: 'reconcile' });
  // The current revision: the history, plus the handler's own writes (its leader record).
  const current = Number(lineOf()!.currentRevision);
  expect(current).toBeGreaterThanOrEqual(revs[29]);
  expect(lineOf()).toMatchObject({
    outcome: 'compacted',
    revision: current - 5,
    pastLog: true,
    level: 'WARN',
  });
  expect(lineOf()!.reason).toMatch(/the incremental log is 60\d s behind \(more than 300 s/);
  expect(await getAt(current - 6)).toBe('compacted');
  expect(await getAt(current - 5)).toBe('ok');
});

test('LOG_COMPACTION=none (EtcdCompaction.none()): nothing is compacted', async () => {
  await w.cluster.settled();
  const revs = await history();
  await chunk(await clusterId(), 1, revs[29], Date.now() - 7200_000);
  env('none');
  await handler({ kind: 'reconcile' });
  expect(lineOf()).toBeUndefined();
  expect(await getAt(2)).toBe('ok');
});
