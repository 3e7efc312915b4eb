/*
 * FAILURE-SCENARIOS 1, 2, 3, 4, 5 on real etcd through the etcd-fleet CLI.
 */
import { execFileSync } from 'child_process';
import { client, expectAllReadable, expectConverged, TestFleet } from './harness';

jest.setTimeout(300_000);

function settingsLines(log: string): { step: string; state: string; reason: string; token?: string }[] {
  return log
    .split('\n')
    .filter((l) => l.includes('"settings written"'))
    .map((l) => JSON.parse(l) as { step: string; state: string; reason: string; token?: string });
}

describe('scenario 1: cold-start race', () => {
  for (const size of [3, 5]) {
    it(`${size} instances launched at once with empty disks form exactly one cluster`, async () => {
      const fleet = new TestFleet(`cold${size}`);
      try {
        const s = await fleet.up('--size', String(size));
        expectConverged(s, size);
        // The instances of the cold start (launch order <= size) either bootstrapped from the one static
        // list (one token for all), or, when their agent came after the others had formed the cluster,
        // started into their own entry of that list: none of them added a member. On a loaded machine an
        // instance may miss its launch timeout and be replaced; a replacement joins the one cluster.
        const logs = fleet.agentLogs();
        const order = fleet.launchOrder();
        expect(Object.keys(logs)).toHaveLength(size);
        const tokens: (string | undefined)[] = [];
        for (const [id, log] of Object.entries(logs)) {
          const w = settingsLines(log)[0];
          if (order[id] <= size) {
            expect(['bootstrap-new', 'reuse-unstarted']).toContain(w.step);
            expect(log).not.toMatch(/"message":"added as learner"/);
            if (w.step === 'bootstrap-new') tokens.push(w.token);
          } else {
            expect(w.step).not.toBe('bootstrap-new');
          }
        }
        expect(tokens.length).toBeGreaterThanOrEqual(Math.floor(size / 2) + 1);
        expect(new Set(tokens).size).toBe(1);
        // One cluster id on every endpoint (status checks each endpoint separately).
        for (const e of s.endpoints) {
          const out = execFileSync('etcdctl', ['--endpoints', e, 'endpoint', 'status', '-w', 'json'], {
            encoding: 'utf8',
          });
          // cluster_id is a uint64: read it from the text, JSON numbers would lose its low bits
          const clusterId = BigInt(/"cluster_id":(\d+)/.exec(out)![1]).toString(16);
          expect(clusterId).toBe(s.clusterId);
        }
      } finally {
        await fleet.down();
      }
    });
  }
});

describe('scenario 2: one initial instance never boots', () => {
  const fleet = new TestFleet('noboot');
  afterAll(() => fleet.down());

  it('the other two form the cluster, and it converges once the group replaces the dead one', async () => {
    const up = await fleet.cli('up', '--size', '3', '--break-boot', '1', '--launch-timeout', '30', '--json');
    expect(up.code).toBe(0);
    const s = JSON.parse(up.stdout);
    expectConverged(s, 3);
    const log = fleet.logTail(400);
    expect(log).toMatch(/"message":"boot broken on purpose"/);
    expect(log).toMatch(/launch lifecycle action timed out: default result ABANDON/);
  });
});

describe('scenarios 3, 4, 5 on one fleet', () => {
  const fleet = new TestFleet('join');
  beforeAll(async () => {
    expectConverged(await fleet.up('--size', '3'), 3);
  });
  afterAll(() => fleet.down());

  it('3: a lost member-add reply is retried, finds its own unstarted entry by exact peer URL and reuses it', async () => {
    await fleet.ok('fault', 'lose-add-reply');
    const s = JSON.parse(await fleet.ok('scale', '4', '--json'));
    expectConverged(s, 4);
    const logs = fleet.agentLogs();
    const faulty = Object.entries(logs).find(([, l]) => l.includes('simulated: member add reply lost'));
    expect(faulty).toBeDefined();
    const [, log] = faulty!;
    expect(settingsLines(log).map((x) => x.step)).toEqual(['reuse-unstarted']);
    // The fault preload logs each MemberAdd and its verdict. Adds that etcd refused (strict reconfiguration
    // right after a start: nothing added) were passed through; one add was committed and its reply dropped;
    // after it the agent sent no add: it found its entry in the member list. No duplicate, no stray member.
    const sent = (log.match(/"message":"fault: MemberAdd sent"/g) ?? []).length;
    expect(log.match(/"message":"simulated: member add reply lost"/g)).toHaveLength(1);
    expect(
      (log.match(/"message":"fault: MemberAdd refused by etcd, reply passed through"/g) ?? []).length,
    ).toBe(sent - 1);
    expect(log.slice(log.indexOf('simulated: member add reply lost'))).not.toMatch(/fault: MemberAdd sent/);
    expect(log.match(/"message":"added as learner"/g) ?? []).toHaveLength(0);
    expect(log).toMatch(/"message":"membership change failed, observing again"/);
    const c = client(s.endpoints);
    try {
      const members = (await c.cluster.memberList({})).members;
      expect(members).toHaveLength(4);
      expect(members.every((m) => m.name !== '' && !m.isLearner)).toBe(true);
    } finally {
      c.close();
    }
    expectConverged(JSON.parse(await fleet.ok('scale', '3', '--json')), 3);
  });

  it('4: a reboot with data and the same IP keeps the member id and changes no membership', async () => {
    const before = await fleet.status();
    const target = before.instances.find((i) => i.lifecycleState === 'InService')!;
    const c = client(before.endpoints);
    await c.put('scenario4/before').value('1');
    c.close();
    const after = JSON.parse(await fleet.ok('reboot', target.id, '--json'));
    expectConverged(after, 3);
    const ids = (x: typeof before) =>
      x.instances
        .filter((i) => i.lifecycleState === 'InService')
        .map((i) => `${i.id}=${i.memberId}`)
        .sort();
    expect(ids(after)).toEqual(ids(before));
    const log = fleet.agentLogs()[target.id];
    const steps = settingsLines(log).map((x) => x.step);
    expect(steps[steps.length - 1]).toBe('start-existing');
    expect(log.match(/"message":"added as learner"/g) ?? []).toHaveLength(0);
    await expectAllReadable(fleet, { 'scenario4/before': '1' }, 'scenario4/');
  });

  it('5: a removed member that comes back on its old data is detected, wiped, and rejoins as a learner', async () => {
    const before = await fleet.status();
    const target = before.instances.find((i) => i.lifecycleState === 'InService' && !i.leader)!;
    const others = before.endpoints.filter((e) => !e.includes(`//${target.ip}:`));
    // Remove it behind its back (as a reconcile would); its etcd learns it was removed and exits.
    // etcd refuses a removal (`unhealthy cluster`) until the others have been connected for 5 s.
    for (let attempt = 1; ; attempt++) {
      try {
        execFileSync('etcdctl', ['--endpoints', others.join(','), 'member', 'remove', target.memberId], {
          stdio: 'pipe',
        });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const s = JSON.parse(await fleet.ok('wait', '--timeout', '120', '--json'));
    expectConverged(s, 3);
    const now = s.instances.find((i: { id: string }) => i.id === target.id);
    expect(now.memberId).not.toBe(target.memberId);
    const log = fleet.agentLogs()[target.id];
    expect(log).toMatch(/"step":"wipe-data"/);
    expect(log).toMatch(/"message":"added as learner"/);
    expect(log).toMatch(/"message":"promoted to voter"/);
  });
});
