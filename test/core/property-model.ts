/*
 * The model of the property tests (properties*.test.ts): generators of membership states (members 0..7 with
 * mixed health / learner / unstarted, group instances that share IP prefixes such as 10.0.2.15 / 10.0.2.150:
 * FAILURE-SCENARIOS 10), the oracle (etcd's rules written out again), and the step-kind census.
 */
import fc from 'fast-check';
import { DataDirState, GroupInstance, JoinInput, JoinStrategy, Member } from '../../lambda/core';
import { CLIENT_PORT, PEER_PORT, client, peer } from './fixtures';

export const RUNS = { numRuns: 10000 };

export const IPS = [
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
export const stateArb: fc.Arbitrary<State> = fc
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

export const joinArb: fc.Arbitrary<JoinInput> = fc
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
export const started = (m: Member): boolean => m.name !== '' && m.clientURLs.length > 0;
export const healthy = (m: Member, h: Record<string, boolean>): boolean =>
  Object.prototype.hasOwnProperty.call(h, m.id) && h[m.id] === true;
export const dead = (m: Member, h: Record<string, boolean>): boolean => !started(m) || !healthy(m, h);
export const majority = (n: number): number => Math.floor(n / 2) + 1;
export const voterCount = (ms: readonly Member[]): number => ms.filter((m) => !m.isLearner).length;
export const workingVoters = (ms: readonly Member[], h: Record<string, boolean>): number =>
  ms.filter((m) => !m.isLearner && started(m) && healthy(m, h)).length;
/** Healthy started voters >= a majority of all voters (started or not). */
export const keepsQuorum = (ms: readonly Member[], h: Record<string, boolean>): boolean =>
  workingVoters(ms, h) >= majority(voterCount(ms));
export const without = (ms: readonly Member[], id: string): Member[] => ms.filter((m) => m.id !== id);
/** Removing a learner or an unstarted member never costs quorum; a started voter only if the rest keeps it. */
export const removable = (ms: readonly Member[], h: Record<string, boolean>, id: string): boolean => {
  const t = ms.find((m) => m.id === id);
  return t !== undefined && (t.isLearner || !started(t) || keepsQuorum(without(ms, id), h));
};
export const joining = (ms: readonly Member[]): Member[] => ms.filter((m) => m.isLearner || !started(m));
const trimSlash = (u: string): string => u.replace(/\/+$/, '');
/** Exact peer URL (a trailing slash aside): 10.0.2.15 never matches 10.0.2.150. */
export const byPeer = (ms: readonly Member[], url: string): Member | undefined =>
  ms.find((m) => m.peerURLs.some((u) => trimSlash(u) === trimSlash(url)));
/** An instance that owns the member and is not gone (a terminating one only while its member is healthy). */
export const liveInstanceOf = (
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
export function expectEveryKind<K extends string>(
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
export function ok(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invariant violated: ${what}`);
}
