/*
 * Property tests: invariants of the plans over generated membership states (members 0..7 with mixed
 * health / learner / unstarted, group instances that share IP prefixes such as 10.0.2.15 / 10.0.2.150:
 * FAILURE-SCENARIOS 10).
 */
import fc from 'fast-check';
import {
  DataDirState,
  GroupInstance,
  JoinInput,
  JoinStep,
  JoinStrategy,
  Member,
  PromoteStep,
  ReconcileStep,
  TerminationStep,
  planJoin,
  planPromote,
  planReconcile,
  planTermination,
} from '../../lambda/core';
import { CLIENT_PORT, PEER_PORT, client, peer } from './fixtures';

const RUNS = { numRuns: 10000 };

const IPS = [
  '10.0.2.15',
  '10.0.2.150',
  '10.0.2.151',
  '10.0.2.1',
  '10.0.2.11',
  '10.0.2.115',
  '10.0.2.5',
  '10.0.2.50',
];
const STATES = [
  'Pending',
  'Pending:Wait',
  'Pending:Proceed',
  'InService',
  'Terminating',
  'Terminating:Wait',
  'Terminating:Proceed',
  'Terminated',
  'Standby',
  'Warmed:Stopped',
];

interface State {
  readonly members: Member[];
  readonly health: Record<string, boolean>;
  readonly instances: GroupInstance[];
}

const memberSpec = fc.record({
  ip: fc.constantFrom(...IPS),
  kind: fc.constantFrom('voter', 'voter', 'voter', 'learner', 'unstarted-voter', 'unstarted-learner'),
  healthy: fc.boolean(),
  slash: fc.boolean(),
  unnamedButStarted: fc.constantFrom(false, false, false, true),
});

const instanceSpec = fc.record({
  ip: fc.option(fc.constantFrom(...IPS), { nil: undefined, freq: 8 }),
  state: fc.constantFrom(...STATES),
});

/** A membership (unique peer URLs, as etcd enforces) plus a group listing. */
const stateArb: fc.Arbitrary<State> = fc
  .tuple(
    fc.uniqueArray(memberSpec, { minLength: 0, maxLength: 7, selector: (s) => s.ip }),
    fc.array(instanceSpec, { minLength: 0, maxLength: 8 }),
  )
  .map(([ms, is]) => {
    const health: Record<string, boolean> = {};
    const members = ms.map((s, i): Member => {
      const id = String(1000 + i * 7919);
      const started = s.kind === 'voter' || s.kind === 'learner';
      health[id] = s.healthy;
      return {
        id,
        // "unnamedButStarted": a bootstrap member that has a name from the initial cluster but no client URL.
        name: started ? `i-${s.ip}` : s.unnamedButStarted ? `i-${s.ip}` : '',
        peerURLs: [peer(s.ip) + (s.slash ? '/' : '')],
        clientURLs: started ? [client(s.ip)] : [],
        isLearner: s.kind === 'learner' || s.kind === 'unstarted-learner',
      };
    });
    const instances = is.map((s, i) => ({ instanceId: `i-${i}`, privateIp: s.ip, lifecycleState: s.state }));
    return { members, health, instances };
  });

const joinArb: fc.Arbitrary<JoinInput> = fc
  .record({
    st: stateArb,
    nullMembers: fc.constantFrom(false, false, false, true),
    selfIp: fc.constantFrom(...IPS),
    selfState: fc.constantFrom('Pending', 'Pending:Wait'),
    strategy: fc.constantFrom(
      JoinStrategy.PREPARE,
      JoinStrategy.ADD,
      JoinStrategy.REPLACE,
      JoinStrategy.PRUNE,
    ),
    sizeCap: fc.integer({ min: 1, max: 7 }),
    desired: fc.integer({ min: 0, max: 8 }),
    dataDir: fc.constantFrom(
      DataDirState.EMPTY,
      DataDirState.EMPTY,
      DataDirState.HAS_DATA,
      DataDirState.REMOVED_MEMBER,
    ),
    backups: fc.option(
      fc.record({
        newestSnapshot: fc.option(fc.constant('snapshots/s.db'), { nil: undefined }),
        restoreGeneration: fc.constantFrom(0, 0, 1),
        emptyStartAllowed: fc.constantFrom(false, false, true),
      }),
      { nil: undefined },
    ),
  })
  .map(({ st, nullMembers, selfIp, selfState, strategy, sizeCap, desired, dataDir, backups }) => {
    const selfId = 'i-self';
    return {
      members: nullMembers ? null : st.members,
      health: nullMembers ? {} : st.health,
      instances: [...st.instances, { instanceId: selfId, privateIp: selfIp, lifecycleState: selfState }],
      desiredCapacity: desired,
      self: {
        instanceId: selfId,
        privateIp: selfIp,
        name: selfId,
        peerURL: peer(selfIp),
        clientURL: client(selfIp),
      },
      strategy,
      sizeCap,
      dataDir,
      peerPort: PEER_PORT,
      clientPort: CLIENT_PORT,
      scheme: 'http' as const,
      groupName: 'g',
      ...(backups && { backups }),
    };
  });

/*
 * The oracle: etcd's rules written out again here from their definitions, deliberately not importing the
 * helpers of lambda/core/quorum.ts (the invariants must not share a bug with the code under test).
 */
/** Started: published its name and a client URL (etcd's member list shows both only after the start). */
const started = (m: Member): boolean => m.name !== '' && m.clientURLs.length > 0;
const healthy = (m: Member, h: Record<string, boolean>): boolean =>
  Object.prototype.hasOwnProperty.call(h, m.id) && h[m.id] === true;
const dead = (m: Member, h: Record<string, boolean>): boolean => !started(m) || !healthy(m, h);
const majority = (n: number): number => Math.floor(n / 2) + 1;
const voterCount = (ms: readonly Member[]): number => ms.filter((m) => !m.isLearner).length;
const workingVoters = (ms: readonly Member[], h: Record<string, boolean>): number =>
  ms.filter((m) => !m.isLearner && started(m) && healthy(m, h)).length;
/** Healthy started voters >= a majority of all voters (started or not). */
const keepsQuorum = (ms: readonly Member[], h: Record<string, boolean>): boolean =>
  workingVoters(ms, h) >= majority(voterCount(ms));
const without = (ms: readonly Member[], id: string): Member[] => ms.filter((m) => m.id !== id);
/** Removing a learner or an unstarted member never costs quorum; a started voter only if the rest keeps it. */
const removable = (ms: readonly Member[], h: Record<string, boolean>, id: string): boolean => {
  const t = ms.find((m) => m.id === id);
  return t !== undefined && (t.isLearner || !started(t) || keepsQuorum(without(ms, id), h));
};
const joining = (ms: readonly Member[]): Member[] => ms.filter((m) => m.isLearner || !started(m));
const trimSlash = (u: string): string => u.replace(/\/+$/, '');
/** Exact peer URL (a trailing slash aside): 10.0.2.15 never matches 10.0.2.150. */
const byPeer = (ms: readonly Member[], url: string): Member | undefined =>
  ms.find((m) => m.peerURLs.some((u) => trimSlash(u) === trimSlash(url)));
/** An instance that owns the member and is not gone (a terminating one only while its member is healthy). */
const liveInstanceOf = (
  m: Member,
  instances: readonly GroupInstance[],
  h: Record<string, boolean>,
): boolean =>
  instances.some(
    (i) =>
      i.privateIp !== undefined &&
      m.peerURLs.some((u) => trimSlash(u) === peer(i.privateIp!)) &&
      !(started(m) && /^i-[0-9a-f]{8,17}$/.test(m.name) && m.name !== i.instanceId) &&
      i.lifecycleState !== 'Terminated' &&
      (!i.lifecycleState.startsWith('Terminating') || healthy(m, h)),
  );

/**
 * Counts the step kinds a property run produced: every kind the planner can return must show up (at least
 * MIN_SHARE of the runs), or the invariants about it were never exercised.
 */
const MIN_SHARE = 0.002;
function expectEveryKind<K extends string>(
  counts: Record<K, number>,
  runs: number,
  unreachable: readonly K[] = [],
): void {
  const rare = Object.entries(counts as Record<string, number>)
    .filter(([k, n]) => !(unreachable as readonly string[]).includes(k) && n < runs * MIN_SHARE)
    .map(([k, n]) => `${k}: ${n}`);
  expect(rare).toEqual([]);
  // A kind the planner has no path to today: once it gets one, it needs its invariants here.
  expect(unreachable.filter((k) => counts[k] > 0)).toEqual([]);
}

/** A cheap assertion for hot property loops (jest's expect is slow at 10,000 runs). */
function ok(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invariant violated: ${what}`);
}

describe('planJoin properties', () => {
  it('never removes a healthy member; every step keeps the quorum; strategies respected', () => {
    const kinds: Record<JoinStep['kind'], number> = {
      'bootstrap-new': 0,
      'start-existing': 0,
      'reuse-unstarted': 0,
      'wipe-data': 0,
      remove: 0,
      'add-learner': 0,
      wait: 0,
      'await-restore': 0,
      refuse: 0,
    };
    fc.assert(
      fc.property(joinArb, (input) => {
        const step = planJoin(input);
        kinds[step.kind]++;
        const members = input.members;
        ok(step.reason.length > 0, 'step.reason.length > 0');
        if (step.kind === 'bootstrap-new') {
          ok(members === null, 'members is null');
          const b = input.backups;
          ok(
            !b || b.emptyStartAllowed || (b.newestSnapshot === undefined && b.restoreGeneration === 0),
            'never a new, empty cluster beside backups of an earlier one (unless allowed)',
          );
          ok(input.dataDir === DataDirState.EMPTY, 'input.dataDir === DataDirState.EMPTY');
          ok(
            step.initialCluster.some((e) => e.peerURL === input.self.peerURL),
            'step.initialCluster.some((e) => e.peerURL === input.self.peerURL)',
          );
        }
        if (step.kind === 'remove') {
          ok(members !== null, 'members is not null');
          const target = members!.find((m) => m.id === step.memberId)!;
          ok(target !== undefined, 'target is defined');
          ok(dead(target, input.health), 'remove only a dead (unstarted or unhealthy) member');
          ok(keepsQuorum(members!, input.health), 'keepsQuorum(members!, input.health)');
          ok(
            keepsQuorum(without(members!, target.id), input.health),
            'healthy started voters >= quorum(voters) after the removal',
          );
          ok(
            !(input.strategy === JoinStrategy.ADD || input.strategy === JoinStrategy.PREPARE),
            'strategies add and prepare never remove',
          );
        }
        if (step.kind === 'add-learner') {
          ok(members !== null, 'members is not null');
          ok(step.peerURL === input.self.peerURL, 'step.peerURL === input.self.peerURL');
          ok(input.strategy !== JoinStrategy.PREPARE, 'input.strategy !== JoinStrategy.PREPARE');
          ok(
            byPeer(members!, input.self.peerURL) === undefined,
            'byPeer(members!, input.self.peerURL) is undefined',
          );
          ok(joining(members!).length === 0, 'no other learner or unstarted member on add');
          ok(members!.length < input.sizeCap, 'add only below the size cap');
          // voters unchanged by a learner add; the quorum check is made for the future voter
          ok(keepsQuorum(members!, input.health), 'keepsQuorum(members!, input.health)');
          const single = members!.length === 1 && workingVoters(members!, input.health) === 1;
          ok(
            workingVoters(members!, input.health) >= majority(voterCount(members!) + 1) || single,
            'add only if the future quorum holds (or single-node growth)',
          );
        }
        if (step.kind === 'wipe-data') {
          // never wipe the data of a current member, nor when no cluster is reachable (unless etcd said removed)
          if (input.dataDir !== DataDirState.REMOVED_MEMBER) {
            ok(input.dataDir === DataDirState.HAS_DATA, 'input.dataDir === DataDirState.HAS_DATA');
            ok(members !== null, 'members is not null');
            ok(
              byPeer(members!, input.self.peerURL) === undefined,
              'byPeer(members!, input.self.peerURL) is undefined',
            );
          }
        }
        if (step.kind === 'reuse-unstarted') {
          const own = byPeer(members!, input.self.peerURL)!;
          ok(own.id === step.memberId, 'own.id === step.memberId');
          ok(!started(own), 'not started(own)');
          expect(step.initialCluster.map((e) => e.peerURL).sort()).toEqual(
            members!.flatMap((m) => m.peerURLs).sort(),
          );
        }
        if (step.kind === 'reuse-unstarted') {
          ok(input.dataDir !== DataDirState.REMOVED_MEMBER, 'never reuse with removed-member data');
        }
        if (step.kind === 'start-existing') {
          ok(input.dataDir === DataDirState.HAS_DATA, 'input.dataDir === DataDirState.HAS_DATA');
        }
      }),
      RUNS,
    );
    // planJoin has no `refuse` path (the variant is the agent's terminal failure).
    expectEveryKind(kinds, RUNS.numRuns, ['refuse']);
  });

  it('is deterministic and independent of the order of the group listing', () => {
    fc.assert(
      fc.property(joinArb, fc.func(fc.integer()), (input, order) => {
        const shuffled = [...input.instances].sort((a, b) => order(a.instanceId) - order(b.instanceId));
        const a = planJoin(input);
        expect(planJoin(structuredClone(input) as JoinInput)).toEqual(a);
        const b = planJoin({ ...input, instances: shuffled });
        ok(b.kind === a.kind, 'b.kind === a.kind');
        ok(
          ('memberId' in a ? a.memberId : undefined) === ('memberId' in b ? b.memberId : undefined),
          'same member id whatever the listing order',
        );
        if (a.kind === 'bootstrap-new' && b.kind === 'bootstrap-new') {
          ok(b.token === a.token, 'b.token === a.token');
          expect(b.initialCluster).toEqual(a.initialCluster);
        }
      }),
      { numRuns: 10000 },
    );
  });
});

const terminationArb = fc
  .tuple(stateArb, fc.constantFrom(...IPS))
  .map(([st, ip]) => ({ ...st, peerURL: peer(ip), peerPort: PEER_PORT, scheme: 'http' as const }));

describe('planTermination properties', () => {
  it('never removes a voter unsafely; dead-first makes the removal safe', () => {
    const kinds: Record<TerminationStep['kind'], number> = {
      remove: 0,
      'remove-dead-first': 0,
      absent: 0,
      unsafe: 0,
    };
    fc.assert(
      fc.property(terminationArb, (input) => {
        const step = planTermination(input);
        kinds[step.kind]++;
        const target = byPeer(input.members, input.peerURL);
        if (step.kind === 'absent') ok(target === undefined, 'target is undefined');
        if (step.kind === 'remove') {
          ok(step.memberId === target!.id, 'step.memberId === target!.id');
          if (!target!.isLearner && started(target!)) {
            ok(
              keepsQuorum(without(input.members, target!.id), input.health),
              'keepsQuorum(without(input.members, target!.id), input.health)',
            );
          }
        }
        if (step.kind === 'remove-dead-first') {
          const first = input.members.find((m) => m.id === step.memberId)!;
          ok(first.id !== target!.id, 'first.id !== target!.id');
          ok(dead(first, input.health), 'dead(first, input.health)');
          ok(
            removable(input.members, input.health, first.id),
            'removable(input.members, input.health, first.id)',
          );
          const after = without(input.members, first.id);
          ok(removable(after, input.health, target!.id), 'removable(after, input.health, target!.id)');
          ok(
            !removable(input.members, input.health, target!.id),
            'not removable(input.members, input.health, target!.id)',
          );
        }
        if (step.kind === 'unsafe') {
          ok(!(target!.isLearner || !started(target!)), 'not target!.isLearner || !started(target!)');
          ok(
            !removable(input.members, input.health, target!.id),
            'not removable(input.members, input.health, target!.id)',
          );
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});

const reconcileArb = fc
  .tuple(
    stateArb,
    fc.constantFrom(JoinStrategy.PREPARE, JoinStrategy.ADD, JoinStrategy.REPLACE, JoinStrategy.PRUNE),
    fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 7, maxLength: 7 }),
  )
  .map(([st, strategy, ages]) => ({
    ...st,
    strategy,
    peerPort: PEER_PORT,
    scheme: 'http' as const,
    unstartedAgeSeconds: Object.fromEntries(st.members.map((m, i) => [m.id, ages[i]])),
    unstartedGraceSeconds: 600,
  }));

describe('planReconcile properties', () => {
  it('never removes a healthy member or one of a healthy live instance; cumulative removals keep quorum', () => {
    const kinds: Record<ReconcileStep['kind'], number> = { remove: 0, report: 0, noop: 0 };
    fc.assert(
      fc.property(reconcileArb, (input) => {
        const steps = planReconcile(input);
        for (const k of new Set(steps.map((x) => x.kind))) kinds[k]++;
        ok(steps.length > 0, 'steps.length > 0');
        if (steps.some((s) => s.kind === 'noop')) ok(steps.length === 1, 'steps has length 1');
        let current: Member[] = [...input.members];
        const removed = new Set<string>();
        for (const s of steps) {
          if (s.kind !== 'remove') continue;
          const m = current.find((x) => x.id === s.memberId)!;
          ok(m !== undefined, 'm is defined');
          ok(!removed.has(m.id), 'not removed.has(m.id)');
          ok(!(started(m) && healthy(m, input.health)), 'not started(m) && healthy(m, input.health)');
          ok(
            !(liveInstanceOf(m, input.instances, input.health) && !dead(m, input.health)),
            'not liveInstanceOf(m, input.instances, input.health) && !dead(m, input.health)',
          );
          if (input.strategy === JoinStrategy.PREPARE && liveInstanceOf(m, input.instances, input.health)) {
            ok(
              dead(m, input.health) && !liveInstanceOf(m, input.instances, input.health),
              'dead(m, input.health) && !liveInstanceOf(m, input.instances, input.health)',
            );
          }
          ok(keepsQuorum(current, input.health), 'keepsQuorum(current, input.health)');
          current = without(current, m.id);
          removed.add(m.id);
          ok(keepsQuorum(current, input.health), 'keepsQuorum(current, input.health)');
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});

const promoteArb = fc.tuple(stateArb, fc.constantFrom(...IPS)).map(([st, ip]) => ({
  members: st.members,
  health: st.health,
  self: { instanceId: 'i-self', privateIp: ip, name: 'i-self', peerURL: peer(ip), clientURL: client(ip) },
}));

describe('planPromote properties', () => {
  it('promotes only its own started, healthy learner, and only when the quorum holds after the promotion', () => {
    const kinds: Record<PromoteStep['kind'], number> = { promote: 0, done: 0, wait: 0, refuse: 0 };
    fc.assert(
      fc.property(promoteArb, (input) => {
        const step = planPromote(input);
        kinds[step.kind]++;
        const own = byPeer(input.members, input.self.peerURL);
        if (step.kind === 'refuse') ok(own === undefined, 'refuse only when the own entry is gone');
        if (step.kind === 'promote' || step.kind === 'done') {
          ok(own !== undefined && own.id === step.memberId, 'own member id');
          ok(started(own!) && healthy(own!, input.health), 'own entry started and healthy');
          ok(own!.isLearner === (step.kind === 'promote'), 'promote learners, done for voters');
        }
        if (step.kind === 'promote') {
          const promoted = input.members.map((m) => (m.id === own!.id ? { ...m, isLearner: false } : m));
          ok(keepsQuorum(promoted, input.health), 'healthy started voters >= quorum after the promotion');
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});
