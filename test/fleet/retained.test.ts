/*
 * FAILURE-SCENARIOS 15 on real etcd through the etcd-fleet CLI: a retained termination (scenario 6's
 * variant), then the unsafe condition clears. Exactly the sequence of issue 12:
 *   fleet of 3 → terminate one (replaced) → freeze a second → terminate a third (ABANDON: retained,
 *   Terminating:Retained) → the retained one's replacement joins under `replace` by removing the frozen
 *   member → thaw the frozen one (its member was removed: FAILURE-SCENARIOS 5, wipe and rejoin).
 * Expected: the automation finishes the retained termination (removes its member once that is safe and
 * terminates the instance, with a log line and a metric), no replacement is blocked for good, the fleet
 * converges, and every acknowledged write is back with its value.
 */
import * as fs from 'fs';
import * as path from 'path';
import { expectConverged, live, readAll, StatusJson, TestFleet, until, Writer } from './harness';

jest.setTimeout(400_000);

describe('scenario 15: a retained termination is finished once it is safe', () => {
  const fleet = new TestFleet('retained');
  afterAll(() => fleet.down());

  it('terminate, freeze + terminate (retained), replacement replaces the frozen member, thaw: converges', async () => {
    const s = await fleet.up('--size', '3');
    expectConverged(s, 3);
    const writer = new Writer(fleet, 'retained');
    writer.start();
    try {
      // 1. Terminate one member: replaced as usual.
      const first = live(s).find((i) => !i.leader)!;
      const r1 = JSON.parse(await fleet.ok('terminate', first.id, '--json')) as { result: string };
      expect(r1.result).toBe('terminated');
      const s1 = await fleet.status();
      expectConverged(s1, 3);

      // 2. Freeze a second, terminate a third: the removal is unsafe, the instance is retained.
      const [frozen, retained] = live(s1).filter((i) => !i.leader);
      await fleet.ok('freeze', frozen.id);
      const r2 = JSON.parse(await fleet.ok('terminate', retained.id, '--json')) as StatusJson & {
        result: string;
      };
      expect(r2.result).toBe('retained');
      expect(r2.instances.find((i) => i.id === retained.id)!.lifecycleState).toBe('Terminating:Retained');

      // 3. The retained instance's replacement joins under `replace` by removing the frozen member.
      await until("the frozen member's removal by the replacement", 120, async () => {
        const st = await fleet.status();
        const f = st.instances.find((i) => i.id === frozen.id);
        return f && f.memberId === '' ? true : undefined;
      });

      // 4. Thaw the frozen one: its member is gone, so it must wipe and rejoin (or be replaced), and the
      // retained termination must be finished by the automation.
      await fleet.ok('thaw', frozen.id);
      // Converged can come a moment before the end: the reconcile removes the retained member first, then
      // terminates the instance (CI saw `wait` return between the two).
      const after = await until('convergence after the thaw, the retained instance gone', 240, async () => {
        const st = await fleet.status();
        return st.converged && !st.instances.some((i) => i.id === retained.id) ? st : undefined;
      });
      expectConverged(after, 3);
      // The retained instance was terminated, and its member is gone.
      expect(after.instances.map((i) => i.id)).not.toContain(retained.id);
      expect(live(after).map((i) => i.memberId)).not.toContain(retained.memberId);
      // The thawed member took the removed-member path (FAILURE-SCENARIOS 5): wiped, rejoined, promoted,
      // without a heartbeat error every few seconds (it has no launch action pending).
      expect(live(after).map((i) => i.id)).toContain(frozen.id);
      const thawed = fleet.agentLogs()[frozen.id];
      expect(thawed).toMatch(/"step":"wipe-data"/);
      expect(thawed.slice(thawed.indexOf('"step":"wipe-data"'))).toMatch(/"message":"promoted to voter"/);
      expect(thawed).not.toMatch(/"message":"heartbeat failed"/);
      const out = fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
      expect(out).toMatch(/"message":"retained termination finished"/);
      expect(out).toMatch(/"message":"metric RetainedTerminationsFinished"/);
      expect(fleet.logTail(2000)).toMatch(new RegExp(`"message":"TerminateInstances".*"${retained.id}"`));
    } finally {
      await writer.stop();
    }
    // Every acknowledged write is back, with its value (the writer writes key n with value n).
    const got = await readAll((await fleet.status()).endpoints, undefined, 'retained/');
    const want = Object.fromEntries(writer.acked.map((k) => [k, String(Number(k.split('/')[1]))]));
    expect(Object.fromEntries(writer.acked.map((k) => [k, got[k]]))).toEqual(want);
    expect(writer.acked.length).toBeGreaterThan(100);
  });
});
