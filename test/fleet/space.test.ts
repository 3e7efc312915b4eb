/*
 * FAILURE-SCENARIOS 16.
 * Issue 14, space: a fleet with a 48 MiB backend quota (`up --quota-mb 48`: auto-compaction keeping 5 s,
 * the Lambda's maintenance every reconcile interval) takes an overwrite load of 4x its quota within about
 * two minutes and stays writable; the defragmentations the load causes go followers first, the leader
 * last after a leadership move. Judged with Debian's etcdctl (endpoint status, alarm list, get).
 */
import {
  alarmList,
  endpointStatus,
  expectConverged,
  getPrefix,
  LeaderSampler,
  maintenanceLines,
  orderViolations,
  outLines,
  outOffset,
  OverwriteLoad,
  TestFleet,
} from './harness';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const QUOTA_MIB = 48;

describe('issue 14: an overwrite load of 4x the quota leaves the cluster writable', () => {
  const fleet = new TestFleet('space');
  afterAll(() => fleet.down());

  it('no NOSPACE, every dbSize below the quota, >= 95 % acknowledged, every acknowledged final value read back; defragmentation order', async () => {
    const s = await fleet.up('--size', '3', '--quota-mb', String(QUOTA_MIB));
    expectConverged(s, 3);
    const from = outOffset(fleet);
    const leaders = new LeaderSampler(fleet, s.endpoints);
    leaders.start();
    // 32 keys of 100 KiB, rewritten at 1.8 MiB/s: 4 x 48 MiB = 192 MiB in about 107 s.
    const load = new OverwriteLoad(s.endpoints, {
      prefix: 'space',
      totalBytes: 4 * QUOTA_MIB * MiB,
      bytesPerSecond: 1.8 * MiB,
      maxSeconds: 150,
    });
    try {
      await load.run();
    } finally {
      await leaders.stop();
    }
    const status = await endpointStatus(s.endpoints);
    const alarms = await alarmList(s.endpoints);
    const read = await getPrefix(s.endpoints, 'space/');
    // The decision lines written while the leader was sampled (the maintenance goes on after the load).
    const decisions = maintenanceLines(outLines(fleet, from, leaders.samples.at(-1)?.offset ?? from));
    const count = (m: string) => decisions.filter((l) => l.message === `maintenance: ${m}`).length;
    console.log(
      `space: ${load.summary()}; final dbSize ${status.map((e) => `${(e.dbSize / MiB).toFixed(1)} MiB (in use ${(e.dbSizeInUse / MiB).toFixed(1)})`).join(', ')}; ` +
        `alarms [${alarms.join(', ')}]; maintenance: ${count('defragment')} defragmentations, ${count('move-leader')} leadership moves, ` +
        `${count('wait')} waits, ${count('idle')} idle; failures: ${[...new Set(load.failures.map((f) => f.error))].slice(0, 3).join(' | ')}`,
    );

    expect(load.attemptedBytes).toBeGreaterThanOrEqual(4 * QUOTA_MIB * MiB);
    expect(load.endedAt - load.startedAt).toBeLessThan(150_000);
    expect(alarms).toEqual([]);
    expect(status).toHaveLength(3);
    for (const e of status) expect(e.dbSize).toBeLessThan(QUOTA_MIB * MiB);
    expect(load.ackedShare).toBeGreaterThanOrEqual(0.95);
    expect(load.lastAcked.size).toBe(32);
    expect(load.wrongValues(read)).toEqual([]);

    // The order, from the Lambda's decision lines: the load made the maintenance defragment (every member,
    // the leader among them, so at least one leadership move), and never a member while it led.
    expect(count('defragment')).toBeGreaterThanOrEqual(3);
    expect(count('move-leader')).toBeGreaterThanOrEqual(1);
    expect(orderViolations(decisions, leaders)).toEqual([]);
  });
});
