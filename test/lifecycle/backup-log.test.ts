/*
 * Issue 16, the backups' part on a real etcd 3.4 member, the AWS stand-in and the local S3, through the real
 * context (createContext): the pre-removal snapshot is skipped when the incremental log is current (and taken
 * when it is not), each with its decision line; after a scheduled backup, retention deletes the chunks no
 * retained snapshot can use.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChunkRevision } from '../../lambda/core/incremental';
import { createContext } from '../../lambda/lifecycle';
import { snapshotBeforeRemoval, onBackup } from '../../lambda/lifecycle/backup';
import type { LifecycleContext } from '../../lambda/lifecycle/context';
import { Logger } from '../../lambda/lifecycle/log';
import { observe } from '../../lambda/lifecycle/observe';
import { AwsStandIn } from '../../fleet/standin';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';
import { GROUP, instance, newStandIn, REGION } from '../standin/helpers';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from './etcd-cluster';

jest.setTimeout(60_000);

const BUCKET = 'etcd-backups';
const IP = '127.0.88.1';
const savedEnv = { ...process.env };
let dir: string;
let s3: LocalS3;
let standIn: AwsStandIn;
let cluster: EtcdCluster;
let lines: Record<string, unknown>[];
let prefixN = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-log-'));
  s3 = new LocalS3({ host: '127.0.0.1', port: 0, directory: path.join(dir, 's3'), buckets: [BUCKET] });
  await s3.start();
  standIn = newStandIn('127.0.88.100', { desiredCapacity: 1 });
  await standIn.start();
  const inst = instance(IP, 1);
  await standIn.addInstance(inst);
  cluster = new EtcdCluster([{ name: inst.instanceId, ip: IP }]);
  await cluster.start();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: standIn.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_KEY,
    AWS_REGION: REGION,
  });
});

afterAll(async () => {
  await cluster?.stop();
  await standIn?.stop();
  await s3?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  fs.rmSync(dir, { recursive: true, force: true });
});

function context(incrementalBackupSeconds?: number): LifecycleContext {
  lines = [];
  return createContext(
    {
      GROUP_NAME: GROUP,
      AWS_REGION: REGION,
      CLIENT_PORT: String(CLIENT_PORT),
      PEER_PORT: String(PEER_PORT),
      SCHEME: 'http',
      STRATEGY: 'replace',
      BACKUP_BUCKET: BUCKET,
      BACKUP_PREFIX: `b${++prefixN}/`,
      SNAPSHOT_BEFORE_REMOVAL: 'true',
      ...(incrementalBackupSeconds !== undefined && {
        INCREMENTAL_BACKUP_SECONDS: String(incrementalBackupSeconds),
      }),
    },
    { log: new Logger({ groupName: GROUP }, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)) },
  );
}

const enc = (s: string) => new TextEncoder().encode(s);
const revs = (first: number, last: number, time: number): ChunkRevision[] =>
  Array.from({ length: last - first + 1 }, (_, i) => ({
    revision: first + i,
    time,
    ops: [{ kind: 'put' as const, key: enc(`k${first + i}`), value: enc(`v${first + i}`) }],
  }));

async function put(n: number): Promise<void> {
  const c = cluster.adapter.client(cluster.clientURLs);
  try {
    for (let i = 0; i < n; i++) await c.put(`key${i}`).value(`value${i}`);
  } finally {
    c.close();
  }
}

/** One snapshot through the Lambda's own backup path, then the log of this cluster after it. */
async function snapshotThenLog(ctx: LifecycleContext, chunkTime: number): Promise<{ revision: number }> {
  const res = await onBackup(ctx);
  expect(res.outcome).toBe('stored');
  const s = res.snapshot!;
  await put(5); // 5 revisions after the snapshot...
  const status = await ctx.maintenance.statusOf((await observe(ctx)).members!);
  const head = Object.values(status)[0]!.revision!;
  // ...all in the log (received at chunkTime).
  await ctx.chunks!.put(s.clusterId, revs(s.revision + 1, head, chunkTime));
  return { revision: head };
}

const decision = (name: string) => lines.find((l) => l.decision === name);
const snapshotsIn = async (ctx: LifecycleContext) => (await ctx.store!.list()).length;

test('the log is current (2 s old, bound 10 s): the pre-removal snapshot is skipped, saying why', async () => {
  const ctx = context(10);
  await snapshotThenLog(ctx, Date.now() - 2000);
  await put(1); // the cluster is one revision ahead of the log: the lag counts
  const before = await snapshotsIn(ctx);
  await snapshotBeforeRemoval(ctx, ctx.log, await observe(ctx), 'abc123');
  expect(await snapshotsIn(ctx)).toBe(before);
  const d = decision('skip-pre-removal-snapshot');
  expect(d?.memberId).toBe('abc123');
  expect(String(d?.reason)).toMatch(/^the incremental log is current: [23] s behind \(at most 10 s \+ 5 s\)/);
});

test('the log is 60 s behind: the pre-removal snapshot is taken, saying why', async () => {
  const ctx = context(10);
  await snapshotThenLog(ctx, Date.now() - 60_000);
  await put(1);
  const before = await snapshotsIn(ctx);
  await snapshotBeforeRemoval(ctx, ctx.log, await observe(ctx), 'abc123');
  expect(await snapshotsIn(ctx)).toBe(before + 1);
  expect(String(decision('pre-removal-snapshot')?.reason)).toMatch(
    /^the incremental log is (60|61) s behind \(more than 10 s \+ 5 s\)/,
  );
});

test('without an incremental log: taken as before, no decision line about the log', async () => {
  const ctx = context();
  const before = await snapshotsIn(ctx);
  await snapshotBeforeRemoval(ctx, ctx.log, await observe(ctx), 'abc123');
  expect(await snapshotsIn(ctx)).toBe(before + 1);
  expect(decision('pre-removal-snapshot')).toBeUndefined();
});

test('retention after a backup: the chunks no retained snapshot can use are deleted, the others kept', async () => {
  const ctx = context(10);
  const first = await onBackup(ctx);
  const s = first.snapshot!;
  const chunks = ctx.chunks!;
  await chunks.put('dead0001', revs(1, 50, Date.now() - 1000)); // a cluster without a snapshot
  await chunks.put(s.clusterId, revs(Math.max(1, s.revision - 3), s.revision, Date.now())); // in the snapshot
  const after = await chunks.put(s.clusterId, revs(s.revision + 1, s.revision + 5, Date.now()));
  await onBackup(ctx);
  expect((await chunks.list()).map((c) => c.key)).toEqual([after.key]);
  const d = decision('expire-chunks');
  expect(d).toMatchObject({ deleted: 2, kept: 1 });
  expect(String(d?.reason)).toContain('no complete snapshot of cluster dead0001 is retained');
  expect(String(d?.reason)).toContain(`at or below the oldest retained snapshot of cluster ${s.clusterId}`);
});
