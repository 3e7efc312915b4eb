/*
 * FAILURE-SCENARIOS 16.
 * The maintenance run (lambda/lifecycle/maintenance.ts + adapters/etcd-maintenance.ts + the pure plan)
 * against real 3-member etcd clusters on 127.0.75.x and 127.0.76.x, judged by values read back and by
 * etcd's own status and alarm list: routine defragmentation (followers first, leadership moved off the
 * leader before it is defragmented), NOSPACE recovery (compact, defragment all, disarm: writable again),
 * the join lock shared, and a CORRUPT alarm left alone.
 */
import { Etcd3 } from 'etcd3';
import { EtcdMaintenance } from '../../lambda/adapters/etcd-maintenance';
import { Logger } from '../../lambda/lifecycle/log';
import type { MaintenanceStep } from '../../lambda/core/maintenance';
import { runMaintenance } from '../../lambda/lifecycle/maintenance';
import { JOIN_LOCK_KEY } from '../../lambda/adapters/etcd';
import { EtcdCluster } from './etcd-cluster';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const thresholds = { reclaimRatio: 0.5, reclaimMinBytes: 1 * MiB, maxLagEntries: 1000 };

function logger(lines: string[]): Logger {
  return new Logger({}, (l) => lines.push(l));
}

/** One maintenance run over the cluster: desired capacity 3, the thresholds above, the run's lines kept. */
function run(
  cluster: EtcdCluster,
  m: EtcdMaintenance,
  lines: string[],
  over: Partial<Parameters<typeof runMaintenance>[0]>,
): ReturnType<typeof runMaintenance> {
  return runMaintenance({
    etcd: cluster.adapter,
    maintenance: m,
    log: logger(lines),
    groupName: 'maintenance-test',
    endpoints: cluster.clientURLs,
    desiredCapacity: 3,
    thresholds,
    budgetMs: 60_000,
    ...over,
  });
}

/**
 * Runs as the schedule does: a run that finds the cluster not ready (wait, before any step) ends, and the
 * next one asks again; up to `maxRuns`, 1 s apart, until a run ends idle or corrupt. The executed steps of
 * all runs, in order, and the reasons of the waits (for the failure message).
 */
async function runScheduled(
  cluster: EtcdCluster,
  m: EtcdMaintenance,
  lines: string[],
  over: Partial<Parameters<typeof runMaintenance>[0]>,
  maxRuns = 10,
): Promise<{ kinds: string[]; executed: MaintenanceStep[]; final?: MaintenanceStep; waits: string[] }> {
  const executed: MaintenanceStep[] = [];
  const waits: string[] = [];
  let final: MaintenanceStep | undefined;
  for (let i = 0; i < maxRuns; i++) {
    const r = await run(cluster, m, lines, over);
    executed.push(...r.executed);
    final = r.final;
    if (final?.kind !== 'wait') break;
    waits.push(final.reason);
    await new Promise((res) => setTimeout(res, 1000));
  }
  return { kinds: executed.map((s) => s.kind), executed, final, waits };
}

async function sizes(m: EtcdMaintenance, cluster: EtcdCluster): Promise<Record<string, number>> {
  const st = await m.statusOf(await cluster.members());
  return Object.fromEntries(Object.entries(st).map(([id, s]) => [id, s!.dbSize]));
}

/** A 3-member cluster on 127.0.<third>.1-3 with that backend quota, started and stopped around the block. */
function clusterOf(
  prefix: string,
  third: number,
  quotaMiB: number,
): { cluster: EtcdCluster; m: EtcdMaintenance } {
  const cluster = new EtcdCluster(
    [1, 2, 3].map((n) => ({ name: `${prefix}${n}`, ip: `127.0.${third}.${n}` })),
    ['--quota-backend-bytes', String(quotaMiB * MiB)],
  );
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());
  return { cluster, m: new EtcdMaintenance(cluster.adapter) };
}

/**
 * Writes `count` values under `prefix`, deletes them and compacts: reclaimable space on every member. etcd
 * counts the pages the compaction freed as free (dbSizeInUse) only from a later commit on: the writes of
 * keep/0..19 make those commits. Bounded: until every member reports less than half in use, at most 20 s.
 */
async function makeReclaimable(
  c: Etcd3,
  m: EtcdMaintenance,
  cluster: EtcdCluster,
  prefix: string,
  count: number,
  value: string,
): Promise<void> {
  for (let i = 0; i < count; i++) await c.put(`${prefix}${i}`).value(value);
  await c.delete().prefix(prefix);
  await m.compact(cluster.clientURLs);
  for (let i = 0, at = Date.now(); ; i++) {
    await c.put(`keep/${i % 20}`).value(`v${i % 20}`);
    const st = Object.values(await m.statusOf(await cluster.members()));
    if (i >= 19 && st.every((x) => x && x.dbSizeInUse < x.dbSize / 2)) break;
    if (Date.now() - at > 20_000) throw new Error(`in use not below half: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('routine defragmentation', () => {
  const { cluster, m } = clusterOf('d', 76, 256);

  test('followers first, leadership moved, the former leader last; space reclaimed; every value kept', async () => {
    const c = new Etcd3({ hosts: cluster.clientURLs });
    const value = 'x'.repeat(100 * 1024);
    try {
      // 80 x 100 KiB written and deleted, then compacted: ~8 MiB reclaimable on every member.
      await makeReclaimable(c, m, cluster, 'junk/', 80, value);
    } finally {
      c.close();
    }
    await cluster.settled();
    const before = await sizes(m, cluster);
    const leaderBefore = (await m.statusOf(await cluster.members()))[Object.keys(before)[0]]!.leader;
    for (const size of Object.values(before)) expect(size).toBeGreaterThan(8 * MiB);

    const lines: string[] = [];
    const r = await runScheduled(cluster, m, lines, { budgetMs: 60_000, pollMs: 200 });
    expect({ kinds: r.kinds, final: r.final?.kind, waits: r.waits }).toEqual({
      kinds: ['defragment', 'defragment', 'move-leader', 'defragment'],
      final: 'idle',
      waits: expect.any(Array),
    });
    const [f1, f2, move, last] = r.executed as unknown as Array<{
      memberId?: string;
      from?: string;
      to?: string;
    }>;
    expect(f1.memberId).not.toBe(leaderBefore);
    expect(f2.memberId).not.toBe(leaderBefore);
    expect(move.from).toBe(leaderBefore);
    expect(last.memberId).toBe(leaderBefore);
    const statusAfter = await m.statusOf(await cluster.members());
    for (const s of Object.values(statusAfter)) expect(s!.leader).toBe(move.to);

    const after = await sizes(m, cluster);
    for (const id of Object.keys(before)) expect(after[id]).toBeLessThan(before[id] / 2);
    // Every decision is a line with its reason.
    const decisions = lines.map((l) => JSON.parse(l)).filter((l) => l.step);
    expect(decisions.length).toBeGreaterThanOrEqual(5);
    for (const d of decisions) expect(d.reason).toEqual(expect.any(String));

    const read = new Etcd3({ hosts: cluster.clientURLs });
    try {
      const got = await read.getAll().prefix('keep/').strings();
      expect(got).toEqual(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`keep/${i}`, `v${i}`])));
    } finally {
      read.close();
    }
  });

  test('the join lock held by a membership change: an idle run never asks for it; one with work waits and does nothing', async () => {
    const c = new Etcd3({ hosts: cluster.clientURLs });
    const lock = c.lock(JOIN_LOCK_KEY).ttl(30);
    await lock.acquire();
    try {
      // Nothing over the thresholds: idle at once, without waiting for the lock (1.5 s timeout).
      const started = Date.now();
      const idle = await run(cluster, m, [], { budgetMs: 30_000, lockTimeoutMs: 1500 });
      expect(idle.final).toMatchObject({ kind: 'idle' });
      expect(Date.now() - started).toBeLessThan(1500);
      // Work to do (reclaimable space on every member): the run needs the lock, cannot take it, waits.
      await makeReclaimable(c, m, cluster, 'junk2/', 120, 'z'.repeat(100 * 1024));
      const lines: string[] = [];
      const r = await run(cluster, m, lines, { budgetMs: 30_000, lockTimeoutMs: 1500 });
      expect(r.executed).toEqual([]);
      expect(r.final).toMatchObject({ kind: 'wait', reason: expect.stringMatching(/join lock/) });
    } finally {
      await lock.release();
      c.close();
    }
  });
});

describe('NOSPACE and CORRUPT', () => {
  const { cluster, m } = clusterOf('n', 75, 16);

  test('NOSPACE: compact, defragment every member, disarm; writable again, no acknowledged write lost', async () => {
    const c = new Etcd3({ hosts: cluster.clientURLs });
    let acked = -1;
    let refused = '';
    try {
      for (let i = 0; i < 400 && !refused; i++) {
        try {
          await c.put('counter').value(`${i}:${'y'.repeat(128 * 1024)}`);
          acked = i;
        } catch (err) {
          refused = (err as Error).message;
        }
      }
    } finally {
      c.close();
    }
    expect(refused).toMatch(/database space exceeded/);
    expect((await m.alarms(cluster.clientURLs)).map((a) => a.alarm)).toContain('NOSPACE');
    await cluster.settled();

    const lines: string[] = [];
    const r = await runScheduled(cluster, m, lines, { budgetMs: 60_000, pollMs: 200 });
    expect({ kinds: r.kinds, final: r.final?.kind, waits: r.waits }).toEqual({
      kinds: ['compact', 'defragment', 'defragment', 'move-leader', 'defragment', 'disarm'],
      final: 'idle',
      waits: expect.any(Array),
    });
    expect(await m.alarms(cluster.clientURLs)).toEqual([]);
    for (const size of Object.values(await sizes(m, cluster))) expect(size).toBeLessThan(4 * MiB);

    const w = new Etcd3({ hosts: cluster.clientURLs });
    try {
      // etcd applies the put that crosses the quota and only then answers it with "database space
      // exceeded" (its quota applier checks after applying): the value is the last acknowledged one or
      // that refused-yet-applied one, never an older one.
      expect([String(acked), String(acked + 1)]).toContain((await w.get('counter').string())?.split(':')[0]);
      await w.put('after').value('writable');
      expect(await w.get('after').string()).toBe('writable');
    } finally {
      w.close();
    }
  });

  test('CORRUPT: the run stops at once, does nothing, and the alarm stays', async () => {
    const members = await cluster.members();
    const c = new Etcd3({ hosts: cluster.clientURLs });
    try {
      await c.maintenance.alarm({ action: 'Activate', memberID: members[1].id, alarm: 'Corrupt' });
    } finally {
      c.close();
    }
    const lines: string[] = [];
    const r = await run(cluster, m, lines, { budgetMs: 30_000 });
    expect(r.executed).toEqual([]);
    expect(r.final).toMatchObject({ kind: 'corrupt', memberIds: [members[1].id] });
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ level: 'ERROR', step: 'corrupt' });
    expect(await m.alarms(cluster.clientURLs)).toEqual([{ memberId: members[1].id, alarm: 'CORRUPT' }]);
  });
});
