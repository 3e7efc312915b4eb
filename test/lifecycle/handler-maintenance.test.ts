/*
 * FAILURE-SCENARIOS 16.
 * Issue 14 through the lifecycle handler, against a real 3-member etcd cluster and the AWS stand-in (the
 * world: ./handler-fixture.ts), judged with Debian's etcdctl: the gauges every reconcile publishes, and the
 * maintenance event ({"kind":"maintenance"}): off, idle under the thresholds, defragmenting every member
 * (followers first, leadership moved off the leader first) over them, waiting while a member is down.
 */
import { execFileSync } from 'child_process';
import { Etcd3 } from 'etcd3';
import { handler } from '../../lambda/lifecycle';
import { LEADER_RECORD_KEY } from '../../lambda/lifecycle/unstarted';
import { metrics, useHandlerWorld, w } from './handler-fixture';

jest.setTimeout(90_000);
useHandlerWorld(201, 250);

const MiB = 1024 * 1024;

interface EndpointStatus {
  Endpoint: string;
  Status: {
    header: { member_id: number | string };
    leader: number | string;
    dbSize: number;
    dbSizeInUse: number;
  };
}

/**
 * `etcdctl endpoint status -w json` over the cluster's members. Member ids are uint64: quoted before
 * parsing, so they keep every digit (JSON numbers would round them).
 */
function etcdctlStatus(): EndpointStatus[] {
  const out = execFileSync(
    'etcdctl',
    ['--endpoints', w.cluster.clientURLs.join(','), 'endpoint', 'status', '-w', 'json'],
    { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } },
  );
  return JSON.parse(out.replace(/:(\d{16,})/g, ':"$1"')) as EndpointStatus[];
}

function gaugeLines(): Record<string, unknown>[] {
  return w.lines.filter((l) => l.message === 'gauges');
}

test('every reconcile publishes the gauges: members, sizes as etcdctl reports them, alarms, leader changes', async () => {
  await w.cluster.settled();
  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true, kind: 'reconcile' });
  const [g] = gaugeLines();
  expect(g).toMatchObject({
    HealthyVoters: 3,
    DesiredCapacity: 3,
    Learners: 0,
    UnstartedMembers: 0,
    LeaderChanges: 0,
    ActiveAlarms: 0,
    CorruptAlarms: 0,
    AutoScalingGroupName: 'lifecycle-test-group',
  });
  const status = etcdctlStatus();
  expect(g.DbSizeBytes).toBe(Math.max(...status.map((s) => s.Status.dbSize)));
  expect(g.QuotaUsedPercent).toBeCloseTo((Number(g.DbSizeBytes) / (8 * 1024 * MiB)) * 100, 1);
  const units = Object.fromEntries(
    (
      g._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }
    ).CloudWatchMetrics[0].Metrics.map((m) => [m.Name, m.Unit]),
  );
  expect(units).toMatchObject({ HealthyVoters: 'Count', DbSizeBytes: 'Bytes', QuotaUsedPercent: 'Percent' });

  // The leader is recorded; a leadership move is counted once by the next reconcile, then not again.
  const c = new Etcd3({ hosts: w.cluster.clientURLs });
  try {
    const recorded = await c.get(LEADER_RECORD_KEY).string();
    expect(BigInt(recorded!)).toBe(BigInt(etcdctlStatus()[0].Status.leader));
    const members = await w.cluster.members();
    const target = members.find((m) => m.id !== recorded)!;
    execFileSync(
      'etcdctl',
      ['--endpoints', w.cluster.clientURLs.join(','), 'move-leader', BigInt(target.id).toString(16)],
      { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } },
    );
    w.lines = [];
    await handler({ kind: 'reconcile' });
    expect(gaugeLines()[0]).toMatchObject({ LeaderChanges: 1 });
    expect(await c.get(LEADER_RECORD_KEY).string()).toBe(target.id);
    w.lines = [];
    await handler({ kind: 'reconcile' });
    expect(gaugeLines()[0]).toMatchObject({ LeaderChanges: 0 });
  } finally {
    c.close();
  }
});

test('maintenance off: the event is answered, nothing is done', async () => {
  process.env.MAINTENANCE = 'false';
  const res = await handler({ kind: 'maintenance' });
  expect(res).toMatchObject({ ok: true, kind: 'maintenance', outcome: 'ignored', maintenance: [] });
  expect(w.lines.some((l) => l.message === 'maintenance: off')).toBe(true);
});

test('maintenance under the thresholds: idle, with the most reclaimable member in the reason', async () => {
  await w.cluster.settled();
  const res = await handler({ kind: 'maintenance' });
  expect(res).toMatchObject({ ok: true, kind: 'maintenance', outcome: 'maintained', maintenance: [] });
  expect(res.reason).toMatch(/no member over the thresholds \(25 % and 64\.0 MiB\); most reclaimable: /);
});

test('maintenance over the thresholds: followers, a leadership move, the former leader; values kept; metrics', async () => {
  await w.cluster.settled();
  Object.assign(process.env, { DEFRAG_RECLAIM_PERCENT: '20', DEFRAG_RECLAIM_MIN_BYTES: String(1 * MiB) });
  const c = new Etcd3({ hosts: w.cluster.clientURLs });
  const value = 'v'.repeat(100 * 1024);
  try {
    await c.put('keep').value('kept');
    for (let i = 0; i < 60; i++) await c.put(`junk/${i}`).value(value);
    await c.delete().prefix('junk/');
    const rev = Number((await c.maintenance.status()).header.revision);
    await c.kv.compact({ revision: rev, physical: true });
    // etcd counts the freed pages as free (dbSizeInUse) only from a later backend commit on: write until
    // every member reports at least 30 % reclaimable (over the 20 % threshold), at most 20 s.
    for (let i = 0, at = Date.now(); ; i++) {
      await c.put('after-compaction').value(String(i));
      const st = etcdctlStatus();
      if (st.every((x) => x.Status.dbSize - x.Status.dbSizeInUse >= 0.3 * x.Status.dbSize)) break;
      if (Date.now() - at > 20_000) throw new Error(`not reclaimable: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    c.close();
  }
  const leaderBefore = etcdctlStatus()[0].Status.leader;
  const before = etcdctlStatus().map((s) => s.Status.dbSize);

  const res = await handler({ kind: 'maintenance' });
  expect(res).toMatchObject({ ok: true, kind: 'maintenance', outcome: 'maintained' });
  const kinds = res.maintenance!.map((s) => s.kind);
  expect(kinds).toEqual(['defragment', 'defragment', 'move-leader', 'defragment']);
  const members = await w.cluster.members();
  const oldLeader = members.find((m) => BigInt(m.id) === BigInt(leaderBefore))!;
  expect(res.maintenance![2].memberId).toBe(oldLeader.id); // moved away from the old leader...
  expect(res.maintenance![3].memberId).toBe(oldLeader.id); // ...which was defragmented last
  expect(res.maintenance!.slice(0, 2).map((s) => s.memberId)).not.toContain(oldLeader.id);
  expect(metrics('Defragmentations')).toHaveLength(3);
  expect(metrics('LeaderMoves')).toHaveLength(1);
  const after = etcdctlStatus();
  after.forEach((s, i) => expect(s.Status.dbSize).toBeLessThan(before[i]));
  expect(BigInt(after[0].Status.leader)).not.toBe(BigInt(leaderBefore));
  const get = execFileSync(
    'etcdctl',
    ['--endpoints', w.cluster.clientURLs.join(','), 'get', 'keep', '--print-value-only'],
    {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  );
  expect(get.trim()).toBe('kept');
});

test('maintenance while a member is down: waits, defragments nothing', async () => {
  await w.cluster.settled();
  Object.assign(process.env, { DEFRAG_RECLAIM_PERCENT: '0', DEFRAG_RECLAIM_MIN_BYTES: '0' });
  const [, , cInst] = w.instances;
  await w.cluster.kill(cInst.instanceId);
  const res = await handler({ kind: 'maintenance' });
  expect(res).toMatchObject({ ok: true, kind: 'maintenance', outcome: 'waiting', maintenance: [] });
  expect(res.reason).toMatch(/is not healthy/);
  expect(metrics('Defragmentations')).toHaveLength(0);
});
