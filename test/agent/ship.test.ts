/*
 * The incremental backup log's shipper (issue 16; FAILURE-SCENARIOS 13: the recovery point of a total loss;
 * FAILURE-SCENARIOS 20: a gap closed by a new full snapshot),
 * `agent.js ship` as etcd-backup-log.service runs it on every
 * member: the built bundle (build/agent/agent.js) as three processes, one per member of a real etcd 3.4.23
 * cluster on 127.0.82.1-3, identities from the stand-in's metadata service, chunks and snapshots in the local
 * S3. Judged from the S3 listing (chunk keys, verified downloads) and etcdctl, not from the shipper's lines
 * (except the gap line, which must name the missing revisions).
 *   1. steady writer: every acknowledged write's revision is in a chunk (with its key and value) at most
 *      N s + slack after its acknowledgement; the chunks extend the base snapshot without a hole up to the
 *      cluster's revision; no two chunks overlap (one writer).
 *   2. the elected shipper's member is cut off (its etcd frozen): the shipper stops shipping and drops its
 *      buffer, another is elected within the lease's TTL + slack, the chain continuous;
 *   3. the elected shipper's member dies (etcd and shipper SIGKILLed): another shipper takes over within the
 *      lease's TTL + N s + slack, the chain continuous across the takeover.
 *   4. shippers stopped (SIGTERM: clean exit), writes, a compaction past the log's end, shippers started: a
 *      gap line naming the compacted range, a new full snapshot, the chain continuous from it.
 *   5. one shipper with N = 10 s, one write, then a pause: its revision is in the bucket within about a second
 *      (the pause rule), not after N s.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { S3Client } from '@aws-sdk/client-s3';
import { Etcd3 } from 'etcd3';
import { AwsStandIn } from '../../fleet/standin';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';
import { writeAgentConfig } from '../../lib/contract';
import { backendSettings } from '../../lib/private/run-time-config';
import { ChunkStore } from '../../lambda/adapters/chunk-store';
import { createS3Client, SnapshotStore } from '../../lambda/adapters/s3';
import { OutputFormat } from '../../lambda/agent/config';
import { planReplay } from '../../lambda/core/incremental';
import { SHIPPER_LEASE_TTL_SECONDS } from '../../lambda/core/ship';
import { RestorePolicy } from '../../lambda/core/restore';
import { JoinStrategy } from '../../lambda/core/types';
import { etcdctl } from '../fleet/harness/etcdctl';
import { clusterRevision, electedShipper, ListingWatch, overlaps, SteadyWriter } from './ship-fixture';
import { logLines } from '../fleet/harness/fleet';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from '../lifecycle/etcd-cluster';
import { instance, newStandIn, REGION } from '../standin/helpers';

jest.setTimeout(120_000);

const IPS = ['127.0.82.1', '127.0.82.2', '127.0.82.3'];
const AGENT = path.resolve(__dirname, '../../build/agent/agent.js');
const BUCKET = 'etcd-backups';
/** N: the chunk age bound of these tests (the construct's default is 10 s; 2 s keeps the test short). */
const N = 2;
/** Listing interval of the judge, the upload, the scheduling: what the measured age may add to N. */
const SLACK_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: EtcdCluster;
let standIn: AwsStandIn;
let s3: LocalS3;
let s3Client: S3Client;
let chunks: ChunkStore;
let snapshots: SnapshotStore;
let dir: string;
const ids: string[] = [];
const shippers = new Map<string, ChildProcess>();

function logOf(id: string): string {
  const p = path.join(dir, `ship-${id}.log`);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
}

function startShipper(id: string, config = path.join(dir, 'config.json')): void {
  const out = fs.openSync(path.join(dir, `ship-${id}.log`), 'a');
  const child = spawn(process.execPath, ['--no-warnings', AGENT, 'ship', '--config', config], {
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ENDPOINT_URL: standIn.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_KEY,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: standIn.metadataEndpointFor(id),
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  shippers.set(id, child);
}

/** Sends `signal` to a shipper and resolves with its exit code once it exited. */
function stopShipper(id: string, signal: NodeJS.Signals): Promise<number | null> {
  const child = shippers.get(id);
  shippers.delete(id);
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child?.exitCode ?? null);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

/** The chain from the newest complete snapshot of the cluster (its key, the plan), from the S3 listing. */
async function chain() {
  const snaps = (await snapshots.completeSnapshots()).sort((a, b) => b.revision - a.revision);
  const base = snaps[0];
  const listed = await chunks.list();
  return {
    base,
    listed,
    plan: planReplay({ snapshotRevision: base.revision, clusterId: base.clusterId, chunks: listed }),
  };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ship-'));
  s3 = new LocalS3({ host: '127.0.82.9', port: 0, directory: path.join(dir, 's3'), buckets: [BUCKET] });
  await s3.start();
  standIn = newStandIn('127.0.82.8');
  await standIn.start();
  for (const [n, ip] of IPS.entries()) {
    const inst = instance(ip, n);
    ids.push(inst.instanceId);
    await standIn.addInstance(inst);
  }
  cluster = new EtcdCluster(
    IPS.map((ip, n) => ({ name: ids[n], ip })),
    ['--heartbeat-interval', '100', '--election-timeout', '1000'],
  );
  await cluster.start();
  fs.writeFileSync(path.join(dir, 'bucket'), BUCKET);
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(
      writeAgentConfig({
        strategy: JoinStrategy.REPLACE,
        sizeCap: 4,
        peerPort: PEER_PORT,
        clientPort: CLIENT_PORT,
        scheme: 'http',
        dataDir: path.join(dir, 'data'),
        envFile: path.join(dir, 'env'),
        output: OutputFormat.ENV,
        launchHookName: 'launch-hook',
        deadlineSeconds: 900,
        heartbeatSeconds: 60,
        retryDelayMs: 500,
        restorePolicy: RestorePolicy.MANUAL,
        backupBucketFile: path.join(dir, 'bucket'),
        backupPrefix: '',
        restoreCommand: ['etcdctl'],
        incrementalBackupSeconds: N,
        etcdCommand: ['etcd'],
        backend: backendSettings(),
      }),
    ),
  );
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_S3_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_S3_SECRET_KEY;
  s3Client = createS3Client(REGION);
  chunks = new ChunkStore(s3Client, BUCKET, '');
  snapshots = new SnapshotStore(s3Client, BUCKET, '');
});

afterAll(async () => {
  await Promise.all([...shippers.keys()].map((id) => stopShipper(id, 'SIGKILL')));
  await cluster?.stop();
  await standIn?.stop();
  s3Client?.destroy();
  await s3?.stop();
  for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])
    delete process.env[k];
  if (dir) {
    if (process.env.SHIP_TEST_KEEP) fs.cpSync(dir, process.env.SHIP_TEST_KEEP, { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('steady writer: every acknowledged write is in a chunk within N s, one writer, continuous from the base snapshot', async () => {
  const t0 = Date.now();
  for (const id of ids) startShipper(id);
  const listing = new ListingWatch(chunks);
  listing.start();
  // The elected shipper finds an empty bucket: it takes the base snapshot first.
  for (let i = 0; i < 100 && (await snapshots.completeSnapshots()).length === 0; i++) await sleep(100);
  expect((await snapshots.completeSnapshots()).length).toBe(1);
  const writer = new SteadyWriter(cluster.clientURLs, 'steady');
  writer.start();
  await sleep(15_000);
  await writer.stop();
  // The cluster's revision now (a shipper's campaign may add revisions later): the chain must reach it.
  const target = await clusterRevision(cluster.clientURLs);
  await sleep(N * 1000 + SLACK_MS + 500);
  await listing.stop();

  let worst = 0;
  const unshipped: number[] = [];
  for (const a of writer.acks) {
    const at = listing.shippedAt(a.revision);
    if (at === undefined) unshipped.push(a.revision);
    else worst = Math.max(worst, at - a.at);
  }
  const { base, listed, plan: p } = await chain();
  process.stdout.write(
    `ship steady: ${writer.acks.length} acknowledged writes, ${listed.length} chunks, worst age ${worst} ms (bound ${N * 1000} + ${SLACK_MS} ms), ${Date.now() - t0} ms\n`,
  );
  expect(writer.acks.length).toBeGreaterThan(200);
  expect(unshipped).toEqual([]);
  expect(worst).toBeLessThanOrEqual(N * 1000 + SLACK_MS);

  // The chunks' contents: each acknowledged put at its revision, with its value (sha256 verified on download).
  const revs = new Map<number, string>();
  for (const c of p.chunks) {
    for (const r of await chunks.get(c)) {
      for (const op of r.ops) {
        if (op.kind === 'put') revs.set(r.revision, `${Buffer.from(op.key)}=${Buffer.from(op.value)}`);
      }
    }
  }
  expect(writer.acks.filter((a) => revs.get(a.revision) !== `${a.key}=${a.value}`)).toEqual([]);
  // Continuous from the base snapshot up to the cluster's revision; one writer: no overlap.
  expect(base.revision).toBeGreaterThan(0);
  expect(p.gap).toBeUndefined();
  expect(p.targetRevision).toBeGreaterThanOrEqual(target);
  expect(overlaps(listed)).toEqual([]);
  expect(new Set([...shippers.keys()].filter((id) => logOf(id).includes('"message":"elected"'))).size).toBe(
    1,
  );
});

test("the elected shipper's member cut off (etcd frozen): it stops shipping and drops its buffer, another is elected, the chain continuous", async () => {
  const elected = await electedShipper(cluster.clientURLs);
  expect(ids).toContain(elected);
  const node = cluster.node(elected!);
  const rest = cluster.nodes.filter((n) => n.name !== elected).map((n) => n.clientURL);
  const writer = new SteadyWriter(rest, 'freeze');
  writer.start();
  await sleep(500);
  const frozenAt = Date.now();
  process.kill(node.proc!.pid!, 'SIGSTOP');
  let next: string | undefined;
  try {
    for (let i = 0; i < 100 && (next === undefined || next === elected); i++) {
      await sleep(200);
      next = await electedShipper(rest).catch(() => undefined);
    }
  } finally {
    process.kill(node.proc!.pid!, 'SIGCONT');
  }
  const electedAfterMs = Date.now() - frozenAt;
  await writer.stop();
  // The cut-off shipper's own lines: it stopped shipping (lease lost) and dropped what it held.
  let stopped: Record<string, unknown> | undefined;
  for (let i = 0; i < 50 && !stopped; i++) {
    await sleep(200);
    stopped = logLines(logOf(elected!)).find(
      (l) => l.message === 'stopped shipping' && (l.t ?? 0) >= frozenAt,
    );
  }
  // The cluster's revision now (a shipper's campaign may add revisions later): the chain must reach it.
  const target = await clusterRevision(cluster.clientURLs);
  await sleep(N * 1000 + SLACK_MS + 500);
  const { plan } = await chain();
  process.stdout.write(
    `ship freeze: ${elected} cut off, ${next} elected after ${electedAfterMs} ms; its line: ${JSON.stringify(stopped?.reason)}, dropped ${String(stopped?.dropped)}\n`,
  );
  expect(next).not.toBe(elected);
  expect(electedAfterMs).toBeLessThanOrEqual((SHIPPER_LEASE_TTL_SECONDS + 1) * 1000 + 3000);
  expect(stopped?.decision).toBe('drop-buffer');
  expect(plan.gap).toBeUndefined();
  expect(plan.targetRevision).toBeGreaterThanOrEqual(target);
});

test('the elected shipper dies with its member: another takes over within TTL + N s, the chain continuous', async () => {
  const elected = await electedShipper(cluster.clientURLs);
  expect(ids).toContain(elected);
  const rest = cluster.nodes.filter((n) => n.name !== elected).map((n) => n.clientURL);
  const writer = new SteadyWriter(rest, 'takeover');
  writer.start();
  await sleep(1500);
  const before = (await chunks.list()).length;
  const killedAt = Date.now();
  await Promise.all([stopShipper(elected!, 'SIGKILL'), cluster.kill(elected!)]);
  const revisionAtKill = await clusterRevision(rest);
  // The takeover: a chunk with a revision written after the kill appears in the bucket.
  let takeoverMs: number | undefined;
  // The lease's TTL, counted from etcd's new leader when the killed member led (a new leader renews every
  // lease: + its election timeout, 1 s), then N s until the first chunk; + slack.
  const bound = (SHIPPER_LEASE_TTL_SECONDS + 1 + N) * 1000 + 3000;
  while (Date.now() - killedAt < bound + 2000) {
    const listed = await chunks.list();
    if (listed.some((c) => c.last > revisionAtKill)) {
      takeoverMs = Date.now() - killedAt;
      break;
    }
    await sleep(200);
  }
  await writer.stop();
  // The cluster's revision now (a shipper's campaign may add revisions later): the chain must reach it.
  const target = await clusterRevision(rest);
  await sleep(N * 1000 + SLACK_MS + 500);
  const { plan, listed } = await chain();
  const next = await electedShipper(rest);
  process.stdout.write(
    `ship takeover: ${elected} killed, ${next} ships; first chunk past the kill after ${takeoverMs} ms (bound ${bound} ms); chunks ${before} -> ${listed.length}; overlaps ${JSON.stringify(overlaps(listed))}\n`,
  );
  expect(next).not.toBe(elected);
  expect(takeoverMs).toBeDefined();
  expect(takeoverMs!).toBeLessThanOrEqual(bound);
  expect(plan.gap).toBeUndefined();
  expect(plan.targetRevision).toBeGreaterThanOrEqual(target);
  expect(writer.acks.filter((a) => a.revision > plan.targetRevision)).toEqual([]);
});

test('a gap: shippers stopped, writes, a compaction past the log end, shippers started: gap logged, new snapshot, chain from it', async () => {
  const alive = cluster.nodes.filter((n) => n.proc).map((n) => n.name);
  const endpoints = cluster.nodes.filter((n) => n.proc).map((n) => n.clientURL);
  // SIGTERM: each stops cleanly (the elected one flushes and resigns).
  const codes = await Promise.all([...shippers.keys()].map((id) => stopShipper(id, 'SIGTERM')));
  expect(codes.every((c) => c === 0)).toBe(true);
  const logEnd = Math.max(...(await chunks.list()).map((c) => c.last));
  const client = new Etcd3({ hosts: endpoints });
  for (let n = 0; n < 30; n++) await client.put(`gap/${n}`).value(String(n));
  client.close();
  const compactTo = await clusterRevision(endpoints);
  await etcdctl(endpoints, ['compact', String(compactTo)]);
  const snapsBefore = (await snapshots.completeSnapshots()).length;
  for (const id of alive) startShipper(id);
  let gapLine: Record<string, unknown> | undefined;
  for (let i = 0; i < 150 && !gapLine; i++) {
    await sleep(100);
    gapLine = alive.flatMap((id) => logLines(logOf(id))).find((l) => l.message === 'gap');
  }
  // Writes after the restart: the new chain must carry them.
  const writer = new SteadyWriter(endpoints, 'after-gap');
  writer.start();
  await sleep(2000);
  await writer.stop();
  // The cluster's revision now (a shipper's campaign may add revisions later): the chain must reach it.
  const target = await clusterRevision(endpoints);
  await sleep(N * 1000 + SLACK_MS + 500);
  const { base, plan } = await chain();
  process.stdout.write(
    `ship gap: log end ${logEnd}, compacted at ${compactTo}; line ${JSON.stringify(gapLine?.reason)}; new base ${base.key}; chain to ${plan.targetRevision}\n`,
  );
  expect(String(gapLine?.reason)).toContain(`revisions ${logEnd + 1}..${compactTo - 1} were compacted`);
  expect((await snapshots.completeSnapshots()).length).toBe(snapsBefore + 1);
  expect(base.revision).toBeGreaterThanOrEqual(compactTo);
  expect(plan.gap).toBeUndefined();
  expect(plan.chunks.length).toBeGreaterThan(0);
  expect(plan.targetRevision).toBeGreaterThanOrEqual(target);
});

test('a pause in the writes: the buffered revision is in the bucket within about a second, not N s (N = 10)', async () => {
  const endpoints = cluster.nodes.filter((n) => n.proc).map((n) => n.clientURL);
  await Promise.all([...shippers.keys()].map((id) => stopShipper(id, 'SIGTERM')));
  const config10 = path.join(dir, 'config-10.json');
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(config10, JSON.stringify({ ...c, incrementalBackupSeconds: 10 }));
  const id = cluster.nodes.find((n) => n.proc)!.name;
  startShipper(id, config10);
  const end = async () => Math.max(...(await chunks.list()).map((ch) => ch.last));
  // Elected, and its takeover backlog (the campaign's own key among it) shipped: the log holds the cluster.
  for (let i = 0; i < 150 && (await end()) < (await clusterRevision(endpoints)); i++) await sleep(100);
  expect(await end()).toBeGreaterThanOrEqual(await clusterRevision(endpoints));
  const client = new Etcd3({ hosts: endpoints });
  const put = await client.put('quiet/1').value('one write, then a pause').exec();
  client.close();
  const revision = Number(put.header.revision);
  const t0 = Date.now();
  let shippedMs: number | undefined;
  for (let i = 0; i < 120 && shippedMs === undefined; i++) {
    if ((await end()) >= revision) shippedMs = Date.now() - t0;
    else await sleep(100);
  }
  process.stdout.write(`ship pause: revision ${revision} in the bucket after ${shippedMs} ms (N = 10 s)\n`);
  // The pause rule: 1 s after the write, plus the upload and the listing; the age rule alone: 9 s.
  expect(shippedMs).toBeDefined();
  expect(shippedMs!).toBeLessThan(5000);
});
