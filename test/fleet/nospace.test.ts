/*
 * FAILURE-SCENARIOS 16.
 * Issue 14 through the fleet (`up --quota-mb 48`): `etcd-fleet status` shows each member's db size, size in
 * use and alarms ('-' / null for a member that does not answer); no defragmentation while a member is down
 * or its replacement syncs as a learner; NOSPACE raised on purpose (maintenance off, overwrite as fast as
 * etcd takes it) is recovered by the first maintenance run once maintenance is on again: compacted, every
 * member defragmented, disarmed; writes work again and every acknowledged value reads back. Judged with
 * Debian's etcdctl.
 */
import {
  alarmList,
  endpointStatus,
  expectConverged,
  getPrefix,
  live,
  maintenanceLines,
  outLines,
  outOffset,
  OverwriteLoad,
  StatusJson,
  TestFleet,
  tryPut,
  until,
} from './harness';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const QUOTA_MIB = 48;
/**
 * The fleet's maintenance interval: 1 s, so that several runs fall into the few seconds a member is down
 * and its replacement syncs (about 5 s here).
 */
const INTERVAL_SECONDS = 1;
/** One maintenance cycle: the interval plus a run's budget (30 s). */
const CYCLE_SECONDS = INTERVAL_SECONDS + 30;

describe('issue 14: status, no defragmentation while a member is down, NOSPACE recovery', () => {
  const fleet = new TestFleet('nospace');
  afterAll(() => fleet.down());
  let s: StatusJson;

  it('status shows db size, in use and alarms per member; a member that does not answer shows - (null in --json)', async () => {
    s = await fleet.up(
      '--size',
      '3',
      '--quota-mb',
      String(QUOTA_MIB),
      '--maintenance-interval',
      String(INTERVAL_SECONDS),
    );
    expectConverged(s, 3);
    const st = await fleet.status();
    const byIp = new Map((await endpointStatus(st.endpoints)).map((e) => [new URL(e.endpoint).hostname, e]));
    for (const i of live(st)) {
      // etcdctl asked a moment later (the reconciles and maintenance runs write a little meanwhile).
      const e = byIp.get(i.ip)!;
      expect(i.dbSize).toBeGreaterThan(0);
      expect(Math.abs(i.dbSize! - e.dbSize)).toBeLessThan(MiB);
      expect(Math.abs(i.dbSizeInUse! - e.dbSizeInUse)).toBeLessThan(MiB);
      expect(i.alarms).toEqual([]);
    }
    const frozen = live(st).find((i) => !i.leader)!;
    await fleet.ok('freeze', frozen.id);
    try {
      const f = await fleet.status();
      const fi = f.instances.find((i) => i.id === frozen.id)!;
      expect([fi.dbSize, fi.dbSizeInUse]).toEqual([null, null]);
      expect(f.instances.filter((i) => i.id !== frozen.id).every((i) => typeof i.dbSize === 'number')).toBe(
        true,
      );
      const table = await fleet.ok('status');
      expect(table).toMatch(/DB SIZE \| IN USE +\| ALARMS/);
      const row = table.split('\n').find((l) => l.includes(frozen.id))!;
      expect(row).toMatch(/\| - +\| - +\| none +\|$/);
    } finally {
      await fleet.ok('thaw', frozen.id);
    }
  });

  it('a member down and its replacement syncing: no defragmentation until the fleet has converged again', async () => {
    s = await fleet.ok('wait').then(() => fleet.status());
    const victim = live(s).find((i) => !i.leader)!;
    const others = s.endpoints.filter((e) => !e.includes(`//${victim.ip}:`));
    const load = new OverwriteLoad(others, {
      prefix: 'down',
      totalBytes: 400 * MiB,
      bytesPerSecond: 1.8 * MiB,
      maxSeconds: 150,
    });
    const loading = load.run();
    let from = 0;
    let to = 0;
    try {
      await new Promise((r) => setTimeout(r, 3000));
      from = outOffset(fleet);
      await fleet.ok('kill', victim.id);
      const back = await fleet.json<StatusJson>('wait', '--json');
      to = outOffset(fleet);
      expectConverged(back, 3);
      expect(back.instances.map((i) => i.id)).not.toContain(victim.id);
      // Afterwards the maintenance may act again: the load has made reclaimable space by now.
      await until(
        'a defragmentation after the fleet converged',
        60,
        async () =>
          maintenanceLines(outLines(fleet, to)).some((l) => l.message === 'maintenance: defragment') ||
          undefined,
      );
    } finally {
      load.stop();
      await loading;
    }
    const window = maintenanceLines(outLines(fleet, from, to));
    const waits = window.filter((l) => l.message === 'maintenance: wait').map((l) => String(l.reason));
    console.log(
      `member down: ${window.length} decision lines while down or syncing [${window.map((l) => String(l.message).slice(13)).join(', ')}] (${new Set(waits).size} distinct wait reasons: ` +
        `${[...new Set(waits.map((w) => w.replace(/[0-9a-f]{10,}/g, 'ID')))].join(' | ')}); load ${load.summary()}`,
    );
    expect(
      window.filter(
        (l) => l.message === 'maintenance: defragment' || l.message === 'maintenance: move-leader',
      ),
    ).toEqual([]);
    // The maintenance did run meanwhile (scheduled every second; a run under load takes longer, and never two
    // at once) and waited: the check above is not vacuous. At least one wait, not more: a CI run saw 2 in a
    // ~5 s window, another only 1 (its window held [wait, idle]: the idle from a run that began before the
    // kill or after the convergence, while the cluster was ready; readiness is planned before idleness).
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(load.wrongValues(await getPrefix(others, 'down/'))).toEqual([]);
  });

  it('NOSPACE raised on purpose is recovered within one maintenance cycle; writes work again; acknowledged writes all readable', async () => {
    s = await fleet.status();
    await fleet.ok('maintenance', 'off');
    // A run in flight finishes: give it its budget at most, until no new decision line comes for 3 s.
    await until('no maintenance run in flight', CYCLE_SECONDS, async () => {
      const at = outOffset(fleet);
      await new Promise((r) => setTimeout(r, 3000));
      return maintenanceLines(outLines(fleet, at)).length === 0 || undefined;
    });
    const fill = new OverwriteLoad(s.endpoints, {
      prefix: 'fill',
      totalBytes: 20 * QUOTA_MIB * MiB,
      maxSeconds: 60,
      stopOn: /database space exceeded/,
    });
    await fill.run();
    const alarms = await alarmList(s.endpoints);
    const full = await endpointStatus(s.endpoints);
    console.log(
      `NOSPACE: fill ${fill.summary()}; alarms [${alarms.join(', ')}]; dbSize ${full.map((e) => (e.dbSize / MiB).toFixed(1)).join(', ')} MiB`,
    );
    expect(alarms).toContain('NOSPACE');
    expect((await fleet.status()).instances.some((i) => i.alarms?.includes('NOSPACE'))).toBe(true);
    expect(await tryPut(s.endpoints, 'after/refused', 'x')).toBe(false);

    const from = outOffset(fleet);
    const on = Date.now();
    await fleet.ok('maintenance', 'on');
    await until('the NOSPACE alarm gone', CYCLE_SECONDS + 10, async () =>
      (await alarmList(s.endpoints)).length === 0 ? true : undefined,
    );
    const seconds = (Date.now() - on) / 1000;
    const decisions = maintenanceLines(outLines(fleet, from)).map((l) => String(l.message).slice(13));
    const steps = decisions.filter((d) => ['compact', 'defragment', 'move-leader', 'disarm'].includes(d));
    const after = await endpointStatus(s.endpoints);
    console.log(
      `NOSPACE recovered ${seconds.toFixed(1)} s after maintenance on: ${steps.join(' → ')}; dbSize after ${after.map((e) => (e.dbSize / MiB).toFixed(1)).join(', ')} MiB`,
    );
    expect(seconds).toBeLessThanOrEqual(CYCLE_SECONDS);
    // One run: compact, every member defragmented (the leader after a leadership move), disarm.
    expect(steps[0]).toBe('compact');
    expect(steps.filter((d) => d === 'defragment')).toHaveLength(3);
    expect(steps.indexOf('disarm')).toBeGreaterThan(steps.lastIndexOf('defragment'));
    for (const e of after) expect(e.dbSize).toBeLessThan(QUOTA_MIB * MiB);
    expect(await tryPut(s.endpoints, 'after/accepted', 'yes')).toBe(true);
    expect((await getPrefix(s.endpoints, 'after/')).get('after/accepted')?.toString()).toBe('yes');
    expect(fill.acked).toBeGreaterThan(0);
    expect(fill.wrongValues(await getPrefix(s.endpoints, 'fill/'))).toEqual([]);
  });
});
