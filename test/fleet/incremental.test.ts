/*
 * The incremental backup log on the fleet (`etcd-fleet up --incremental-seconds N`) and its restore drills
 * (`etcd-fleet drill`, FAILURE-SCENARIOS 21): every instance runs
 * `agent.js ship` beside its etcd as etcd-backup-log.service does on a member; `etcd-fleet status` names the
 * elected one. Under writes the bucket gets a base snapshot and chunks; the shipping instance killed, another
 * ships (status and bucket agree), and the chain from the newest snapshot reaches the cluster's revision
 * without a hole. Judged from the local S3's listing and etcdctl.
 */
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseChunkKey, planReplay } from '../../lambda/core/incremental';
import { parseSnapshotKey } from '../../lambda/core/restore';
import { BACKUP_BUCKET } from '../../fleet/backup';
import {
  client,
  etcdctl,
  expectConverged,
  keysUnder,
  logLines,
  s3For,
  StatusJson,
  TestFleet,
  until,
} from './harness';

jest.setTimeout(180_000);

const N = 2;
const fleet = new TestFleet('ship');
afterAll(() => fleet.down());

async function listing(s3: S3Client) {
  const keys = await keysUnder(s3, '');
  const set = new Set(keys);
  const chunks = keys.map(parseChunkKey).filter((c) => c !== undefined);
  const snapshots = keys
    .map(parseSnapshotKey)
    .filter((s) => s !== undefined && set.has(`${s.key}.sha256`))
    .map((s) => s!);
  return { chunks, snapshots };
}

async function revisionOf(endpoints: string[]): Promise<number> {
  const out = JSON.parse(await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'])) as {
    Status: { header: { revision: number } };
  }[];
  return Math.max(...out.map((s) => s.Status.header.revision));
}

test('up --incremental-seconds: one instance ships, status names it; killed, another takes over; the chain has no hole', async () => {
  const t0 = Date.now();
  const up = await fleet.up('--size', '3', '--incremental-seconds', String(N));
  expectConverged(up, 3);
  const s3 = s3For(fleet);
  try {
    const first = await until('status names the shipping instance', 30, async () => {
      const s = (await fleet.status()) as StatusJson & { shipper?: string };
      return s.shipper;
    });
    expect(up.instances.map((i) => i.id)).toContain(first);
    const c = client(up.endpoints);
    for (let n = 0; n < 50; n++) await c.put(`ship/${n}`).value(String(n));
    // The kill: the shipping instance's processes die (shipper and etcd), the fleet replaces it.
    await fleet.ok('kill', first);
    const rest = up.instances.filter((i) => i.id !== first).map((i) => `http://${i.ip}:2379`);
    const c2 = client(rest);
    for (let n = 50; n < 100; n++) await c2.put(`ship/${n}`).value(String(n));
    c.close();
    c2.close();
    const next = await until('status names another shipping instance', 30, async () => {
      const s = (await fleet.status()) as StatusJson & { shipper?: string };
      return s.shipper && s.shipper !== first ? s.shipper : undefined;
    });
    // The chain from the newest snapshot reaches the cluster's revision (read after the writes).
    const target = await revisionOf(rest);
    const { plan, chunks, snapshots } = await until(
      'the log reaches the revision after the writes',
      30,
      async () => {
        const l = await listing(s3);
        const base = l.snapshots.sort((a, b) => b.revision - a.revision)[0];
        if (!base) return undefined;
        const p = planReplay({
          snapshotRevision: base.revision,
          clusterId: base.clusterId,
          chunks: l.chunks,
        });
        return p.targetRevision >= target ? { plan: p, ...l } : undefined;
      },
    );
    process.stdout.write(
      `fleet ship: ${first} shipped, killed; ${next} ships; ${snapshots.length} snapshot(s), ${chunks.length} chunks, chain to ${plan.targetRevision} (cluster at ${target} after the writes); ${Date.now() - t0} ms\n`,
    );
    expect(next).not.toBe(first);
    expect(plan.gap).toBeUndefined();
    expect(chunks.length).toBeGreaterThan(0);
    // The shipping instance's log says so (one line per decision), and only instances that ran a shipper did.
    const logs = fleet.instanceLogs('ship.log');
    expect(Object.values(logs).some((l) => l.includes('"message":"elected"'))).toBe(true);
    // The killed instance's heir joined as a learner: its shipper started only once its promote phase had
    // exited (etcd-backup-log.service is After=etcd-promote.service), so it never campaigned as a learner.
    const back = await fleet.json<StatusJson>('wait', '--json');
    const heir = back.instances.find((i) => !up.instances.some((u) => u.id === i.id));
    expect(heir).toBeDefined();
    const sup = await until('the heir runs a shipper', 30, async () => {
      const lines = fleet.supervisorLines().filter((l) => l.id === heir!.id);
      return lines.some((l) => l.message === 'shipper started') ? lines : undefined;
    });
    const promoteExited = sup.find((l) => l.message === 'promote agent exited')!;
    const shipperStarted = sup.find((l) => l.message === 'shipper started')!;
    expect(promoteExited).toMatchObject({ code: 0 });
    expect(shipperStarted.t!).toBeGreaterThanOrEqual(promoteExited.t!);
    const heirAgent = logLines(fleet.instanceLogs('agent.log')[heir!.id]);
    expect(heirAgent.some((l) => l.message === 'promoted to voter')).toBe(true);
    expect(fleet.instanceLogs('ship.log')[heir!.id] ?? '').not.toMatch(/not supported for learner/);
  } finally {
    s3.destroy();
  }
});

interface DrillLine {
  message?: string;
  decision?: string;
  key?: string;
  kind?: string;
  ok?: boolean;
  restoredRevision?: number;
  reason?: string;
}

test('etcd-fleet drill: the newest snapshot, then its chain, restored in a scratch etcd and judged; the results in drills/', async () => {
  const s3 = s3For(fleet);
  try {
    const drill = async () => {
      const out = JSON.parse(await fleet.okWithin(120_000, 'drill')) as { code: number; lines: DrillLine[] };
      return { ...out, result: out.lines.find((l) => l.message === 'restore drill result') };
    };
    const { snapshots } = await listing(s3);
    const newest = snapshots.sort((a, b) => b.time - a.time)[0];
    const first = await drill();
    expect(first.code).toBe(0);
    expect(first.result).toMatchObject({ key: newest.key, kind: 'snapshot', ok: true });
    expect(first.result!.restoredRevision).toBeGreaterThanOrEqual(newest.revision);
    expect(first.result!.reason).toContain('the same as recorded by the backup');
    // The chain: the log after it, replayed, reaches what the cluster had (etcdctl) when the chunks were read.
    const ips = (await fleet.status()).instances.map((i) => `http://${i.ip}:2379`);
    const target = await revisionOf(ips);
    await until('the log reaches the cluster revision', 30, async () => {
      const l = await listing(s3);
      return Math.max(0, ...l.chunks.map((c) => c.last)) >= target ? true : undefined;
    });
    const second = await drill();
    expect(second.result).toMatchObject({ key: newest.key, kind: 'chain', ok: true });
    expect(second.result!.restoredRevision).toBeGreaterThanOrEqual(target);
    expect(second.result!.reason).toContain('the same as the live cluster');
    // Nothing more to drill (the chain waits an hour), and the bucket holds exactly the two results.
    const third = await drill();
    expect(third.result).toBeUndefined();
    expect(third.lines.find((l) => l.message === 'restore drill')).toMatchObject({ decision: 'no-drill' });
    const base = newest.key.replace(/^snapshots\//, '').replace(/\.db$/, '');
    const drills = (await keysUnder(s3, 'drills/')).map((k) =>
      k.replace(/\/\d{8}T\d{9}Z-(ok|failed)\.json$/, '/<time>-$1.json'),
    );
    expect(drills.sort()).toEqual([
      `drills/chain/${base}/<time>-ok.json`,
      `drills/snapshot/${base}/<time>-ok.json`,
    ]);
    process.stdout.write(
      `fleet drill: snapshot ${newest.key} ok (${first.result!.reason}); chain to ${second.result!.restoredRevision} ok\n`,
    );
  } finally {
    s3.destroy();
  }
});

test('a corrupted chunk on the fleet: the chain drill replays up to the last good revision and fails, naming the chunk (scenario 20)', async () => {
  const s3 = s3For(fleet);
  try {
    const { snapshots, chunks } = await listing(s3);
    const newest = snapshots.sort((a, b) => b.time - a.time)[0];
    const tip = chunks
      .filter((c) => c.clusterId === newest.clusterId && c.last > newest.revision)
      .sort((a, b) => b.last - a.last)[0];
    // Its bytes changed in the bucket (bit rot, a bad copy): its sha256 (in its key) no longer matches.
    await s3.send(new PutObjectCommand({ Bucket: BACKUP_BUCKET, Key: tip.key, Body: '{"v":1}\n{"r":1}\n' }));
    // The chain was drilled less than an hour ago: its results go, so the next run drills it again.
    const chainResults = await keysUnder(s3, 'drills/chain/');
    expect(chainResults).toHaveLength(1);
    await s3.send(new DeleteObjectCommand({ Bucket: BACKUP_BUCKET, Key: chainResults[0] }));
    const r = await fleet.run(['drill'], 120_000);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { lines: DrillLine[] };
    const result = out.lines.find((l) => l.message === 'restore drill result');
    expect(result).toMatchObject({ key: newest.key, kind: 'chain', ok: false });
    const m = new RegExp(
      `^the log's replay reached revision (\\d+) of (\\d+): chunk ${tip.key.replace(/[.]/g, '\\.')} did not verify \\(.*\\): the restore stops at revision (\\d+)$`,
    ).exec(result!.reason ?? '');
    expect(m).not.toBeNull();
    const [reached, target, stoppedAt] = [Number(m![1]), Number(m![2]), Number(m![3])];
    // The last good revision: what the snapshot holds and the chunks before the corrupted one, never into it.
    // (The drills' own lock writes are shipped too: the log may have grown past the corrupted chunk since.)
    expect(target).toBeGreaterThanOrEqual(tip.last);
    expect(stoppedAt).toBe(reached);
    expect(reached).toBeGreaterThanOrEqual(newest.revision);
    expect(reached).toBeLessThan(tip.last);
    expect(result!.restoredRevision).toBe(reached);
    expect((await keysUnder(s3, 'drills/chain/')).map((k) => k.endsWith('-failed.json'))).toEqual([true]);
  } finally {
    s3.destroy();
  }
});
