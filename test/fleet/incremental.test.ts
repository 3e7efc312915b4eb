/*
 * The incremental backup log on the fleet (`etcd-fleet up --incremental-seconds N`): every instance runs
 * `agent.js ship` beside its etcd as etcd-backup-log.service does on a member; `etcd-fleet status` names the
 * elected one. Under writes the bucket gets a base snapshot and chunks; the shipping instance killed, another
 * ships (status and bucket agree), and the chain from the newest snapshot reaches the cluster's revision
 * without a hole. Judged from the local S3's listing and etcdctl.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { parseChunkKey, planReplay } from '../../lambda/core/incremental';
import { parseSnapshotKey } from '../../lambda/core/restore';
import { client, etcdctl, expectConverged, keysUnder, s3For, StatusJson, TestFleet, until } from './harness';

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
  } finally {
    s3.destroy();
  }
});
