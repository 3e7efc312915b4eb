/*
 * FAILURE-SCENARIOS 6, 7 (reconcile) and 9 through the fleet, with the lifecycle Lambda bundle
 * (build/lambda/index.js) answering real EventBridge-shaped events and the reconcile schedule.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  client,
  expectAllReadable,
  expectConverged,
  live,
  logLines,
  StatusJson,
  StatusSampler,
  TestFleet,
  Writer,
} from './harness';

jest.setTimeout(400_000);

describe('scenario 6: the group replaces 1 of 3 through the terminate lifecycle hook', () => {
  const fleet = new TestFleet('replace');
  afterAll(() => fleet.down());

  it('removes the member before the replacement is added; the replacement joins as a learner and is promoted; quorum never lost', async () => {
    const s = await fleet.up('--size', '3');
    const victim = live(s).find((i) => !i.leader)!;
    const writer = new Writer(fleet, 'scenario6');
    const sampler = new StatusSampler(fleet);
    writer.start();
    sampler.start();
    const started = Date.now();
    let after: StatusJson & { result?: string };
    try {
      after = JSON.parse(await fleet.ok('terminate', victim.id, '--json'));
    } finally {
      await sampler.stop();
      await writer.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    expect(after.result).toBe('terminated');
    expectConverged(after, 3);
    expect(after.instances.map((i) => i.id)).not.toContain(victim.id);
    expect(live(after).map((i) => i.memberId)).not.toContain(victim.memberId);
    // The replacement's first plan saw 2 members: the old one was gone before it added itself.
    const heir = live(after).find((i) => !s.instances.some((o) => o.id === i.id))!;
    const plans = logLines(fleet.agentLogs()[heir.id]).filter((l) => l.message === 'plan');
    expect(plans.find((p) => p.step === 'add-learner')).toMatchObject({ members: 2 });
    const agent = fleet.agentLogs()[heir.id];
    expect(agent).toMatch(/"message":"added as learner"/);
    expect(agent).toMatch(/"message":"promoted to voter"/);
    expect(sampler.samples).toBeGreaterThan(3);
    expect(sampler.quorumLost).toBe(0);
    expect(sampler.maxPending).toBeLessThanOrEqual(1);
    // The load ran through the replacement: a floor on acknowledged writes (none acknowledged would pass
    // the read-back vacuously), every one of them read back with its value.
    expect(writer.acked.length).toBeGreaterThan(20);
    await expectAllReadable(fleet, writer.expected(), 'scenario6/');
    console.log(
      `scenario 6: terminate → replacement promoted and converged in ${seconds.toFixed(1)} s, ${writer.acked.length} writes acknowledged`,
    );
  });

  it('variant: with another member dead (frozen), the removal is unsafe: the instance is retained and the cluster stays writable', async () => {
    const s = await fleet.status();
    const [frozen, target] = live(s).filter((i) => !i.leader);
    await fleet.ok('freeze', frozen.id);
    try {
      const r = JSON.parse(await fleet.ok('terminate', target.id, '--json')) as StatusJson & {
        result: string;
      };
      expect(r.result).toBe('retained');
      const kept = r.instances.find((i) => i.id === target.id)!;
      expect(kept.lifecycleState).toBe('Terminating:Retained');
      expect(kept.memberId).toBe(target.memberId); // not torn out of the member list
      expect(kept.healthy).toBe(true);
      const c = client(s.endpoints.filter((e) => !e.includes(`//${frozen.ip}:`)));
      try {
        await c.put('scenario6/after-retain').value('1');
        expect(await c.get('scenario6/after-retain').string()).toBe('1');
      } finally {
        c.close();
      }
      expect(fleet.logTail(400)).toMatch(/termination abandoned: instance retained/);
    } finally {
      await fleet.cli('thaw', frozen.id);
    }
  });
});

describe('scenario 7 (reconcile): a dead member whose terminate event was lost', () => {
  const fleet = new TestFleet('reconcile');
  afterAll(() => fleet.down());

  it('strategy add never removes: the scheduled reconcile removes the dead member, and the replacement joins', async () => {
    const s = await fleet.up(
      '--size',
      '3',
      '--strategy',
      'add',
      '--terminate-timeout',
      '1',
      '--reconcile-interval',
      '3',
    );
    const victim = live(s).find((i) => !i.leader)!;
    await fleet.ok('fault', 'drop-terminate-event');
    await fleet.ok('kill', victim.id, '--wipe');
    const after = JSON.parse(await fleet.ok('wait', '--timeout', '150', '--json')) as StatusJson;
    expectConverged(after, 3);
    expect(live(after).map((i) => i.memberId)).not.toContain(victim.memberId);
    const heir = live(after).find((i) => !s.instances.some((o) => o.id === i.id))!;
    const log = fleet.agentLogs()[heir.id];
    // Under `add` the agent never removes: it backs off while the dead member holds the cap (if it came
    // before the reconcile) and joins once the reconcile removed it.
    expect(log).not.toMatch(/"message":"removed member"/);
    expect(log).not.toMatch(/"step":"wipe-data"/);
    // The Lambda's reconcile (its log lines go to the supervisor's output) removed the dead member.
    const out = fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
    expect(out).toMatch(/"message":"metric ReconcileRemovals"/);
    expect(fleet.logTail(400)).toMatch(/terminate event dropped \(fault\)/);
  });
});

describe('scenario 9: full stop and start', () => {
  const fleet = new TestFleet('fullstop');
  afterAll(() => fleet.down());

  it('every instance stops and starts again with its disk: same cluster id, no member removed, nothing lost', async () => {
    const s = await fleet.up('--size', '3', '--reconcile-interval', '2');
    const c = client(s.endpoints);
    for (let i = 0; i < 20; i++) await c.put(`scenario9/${i}`).value(String(i));
    c.close();
    // All at once: while they are down, nobody has a quorum, and the reconcile must not remove anything.
    const results = await Promise.all(live(s).map((i) => fleet.cli('reboot', i.id, '--json')));
    for (const r of results) expect(r.code).toBe(0);
    const after = JSON.parse(await fleet.ok('wait', '--json')) as StatusJson;
    expectConverged(after, 3);
    expect(after.clusterId).toBe(s.clusterId);
    const ids = (x: StatusJson) =>
      live(x)
        .map((i) => `${i.id}=${i.memberId}`)
        .sort();
    expect(ids(after)).toEqual(ids(s));
    for (const [, log] of Object.entries(fleet.agentLogs())) {
      expect(log).not.toMatch(/"message":"(removed member|added as learner)"/);
    }
    await expectAllReadable(
      fleet,
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`scenario9/${i}`, String(i)])),
      'scenario9/',
    );
  });
});
