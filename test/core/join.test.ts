import {
  DataDirState,
  JoinInput,
  JoinStep,
  JoinStrategy,
  planJoin,
  renderInitialCluster,
} from '../../lambda/core';
import { D, L, LD, U, UL, V, cluster, inst, joinInput, peer, self } from './fixtures';

const { HAS_DATA, REMOVED_MEMBER } = DataDirState;
const { PREPARE, ADD, PRUNE } = JoinStrategy;
const S = '10.0.2.15';

/** Cold-start group: self plus two more instances, all Pending:Wait. */
const coldGroup = [
  inst('10.0.2.20', 'Pending:Wait', 'i-b'),
  inst(S, 'Pending:Wait', 'i-a'),
  inst('10.0.2.150', 'Pending', 'i-c'),
];
const selfA = self(S, 'i-a');

interface Row {
  readonly name: string;
  readonly input: JoinInput;
  readonly kind: JoinStep['kind'];
  readonly memberId?: string;
}

const healthy3 = cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3'));

const rows: Row[] = [
  // data dir
  {
    name: 'removed-member data is wiped',
    input: joinInput({ c: healthy3, dataDir: REMOVED_MEMBER }),
    kind: 'wipe-data',
  },
  {
    name: 'removed-member data is wiped without a cluster',
    input: joinInput({ c: null, dataDir: REMOVED_MEMBER }),
    kind: 'wipe-data',
  },
  {
    name: 'reboot with data, own started voter: start-existing (scenario 4)',
    input: joinInput({ c: cluster(V('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), dataDir: HAS_DATA }),
    kind: 'start-existing',
    memberId: '1',
  },
  {
    name: 'reboot with data, own started (dead) voter: start-existing',
    input: joinInput({ c: cluster(D('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), dataDir: HAS_DATA }),
    kind: 'start-existing',
    memberId: '1',
  },
  {
    name: 'reboot with data, own started learner: start-existing',
    input: joinInput({ c: cluster(LD('9', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), dataDir: HAS_DATA }),
    kind: 'start-existing',
    memberId: '9',
  },
  {
    name: 'data, own entry unstarted: reuse-unstarted keeping the data (never wipe a maybe-voter)',
    input: joinInput({ c: cluster(U('9', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), dataDir: HAS_DATA }),
    kind: 'reuse-unstarted',
    memberId: '9',
  },
  {
    name: 'data of a removed member, healthy cluster without own entry: wipe (scenario 5)',
    input: joinInput({ c: healthy3, dataDir: HAS_DATA }),
    kind: 'wipe-data',
  },
  {
    name: 'data, no own entry, but only 10.0.2.150 in the list: wipe (15 is not 150)',
    input: joinInput({
      c: cluster(V('1', '10.0.2.150'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
      dataDir: HAS_DATA,
    }),
    kind: 'wipe-data',
  },
  {
    name: 'data, no own entry, cluster without quorum: wait (list may be stale)',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2'), D('3', '10.0.2.3')),
      dataDir: HAS_DATA,
    }),
    kind: 'wait',
  },
  {
    name: 'data, no cluster reachable: start-existing with empty id (scenario 9)',
    input: joinInput({ c: null, dataDir: HAS_DATA, instances: [inst(S, 'InService')] }),
    kind: 'start-existing',
    memberId: '',
  },
  // bootstrap
  {
    name: 'cold start, group full, all pending: bootstrap',
    input: joinInput({ c: null, self: selfA, instances: coldGroup }),
    kind: 'bootstrap-new',
  },
  {
    name: 'cold start, terminating and warmed instances do not count',
    input: joinInput({
      c: null,
      self: selfA,
      instances: [
        ...coldGroup,
        inst('10.0.2.9', 'Terminating:Wait', 'i-x'),
        inst('10.0.2.8', 'Warmed:Stopped', 'i-w'),
      ],
    }),
    kind: 'bootstrap-new',
  },
  {
    name: 'cold start, 2 of 3 instances: wait',
    input: joinInput({ c: null, self: selfA, instances: coldGroup.slice(0, 2) }),
    kind: 'wait',
  },
  {
    name: 'cold start, 4 active instances for desired 3: wait',
    input: joinInput({ c: null, self: selfA, instances: [...coldGroup, inst('10.0.2.9', 'Pending', 'i-d')] }),
    kind: 'wait',
  },
  {
    name: 'cold start, one instance without IP: wait',
    input: joinInput({
      c: null,
      self: selfA,
      instances: [...coldGroup.slice(0, 2), inst(undefined, 'Pending', 'i-c')],
    }),
    kind: 'wait',
  },
  {
    name: 'no cluster reachable, an instance InService: wait, never a second cluster',
    input: joinInput({
      c: null,
      self: selfA,
      instances: [coldGroup[0], coldGroup[1], inst('10.0.2.150', 'InService', 'i-c')],
    }),
    kind: 'wait',
  },
  {
    name: 'no cluster reachable, self not in the listing: wait',
    input: joinInput({ c: null, self: selfA, instances: [coldGroup[0], coldGroup[2]], desiredCapacity: 2 }),
    kind: 'wait',
  },
  {
    name: 'no cluster reachable, listing shows another IP for self: wait',
    input: joinInput({ c: null, self: self('10.0.2.16', 'i-a'), instances: coldGroup }),
    kind: 'wait',
  },
  // own entry, empty data dir
  {
    name: 'own unstarted entry: reuse it (scenario 3, lost add reply)',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), UL('9', S)) }),
    kind: 'reuse-unstarted',
    memberId: '9',
  },
  {
    name: 'own unstarted entry next to 10.0.2.150: reuse own id, not 150',
    input: joinInput({ c: cluster(V('1', '10.0.2.150'), V('2', '10.0.2.2'), UL('9', S)) }),
    kind: 'reuse-unstarted',
    memberId: '9',
  },
  {
    name: 'own unstarted entry under prepare (operator entry): reuse it',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), U('9', S)), strategy: PREPARE }),
    kind: 'reuse-unstarted',
    memberId: '9',
  },
  {
    name: 'own started dead voter, empty data, replace: remove own entry',
    input: joinInput({ c: cluster(D('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')) }),
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'own started dead voter, empty data, prune: remove own entry',
    input: joinInput({ c: cluster(D('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), strategy: PRUNE }),
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'own started dead voter, empty data, add: wait (add never removes)',
    input: joinInput({ c: cluster(D('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')), strategy: ADD }),
    kind: 'wait',
  },
  {
    name: 'own started dead voter, removal unsafe: wait',
    input: joinInput({ c: cluster(D('1', S), V('2', '10.0.2.2'), D('3', '10.0.2.3'), V('4', '10.0.2.4')) }),
    kind: 'wait',
  },
  {
    name: 'own started entry answers healthy with empty data: wait, never remove a healthy member',
    input: joinInput({ c: cluster(V('1', S), V('2', '10.0.2.2'), V('3', '10.0.2.3')) }),
    kind: 'wait',
  },
  // no own entry, empty data dir
  {
    name: 'prepare without entry: wait',
    input: joinInput({ c: cluster(V('1', '10.0.2.1')), strategy: PREPARE }),
    kind: 'wait',
  },
  {
    name: 'prepare never removes a dead member at cap',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
      strategy: PREPARE,
    }),
    kind: 'wait',
  },
  {
    name: 'add below cap, quorum safe: add-learner',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')), strategy: ADD }),
    kind: 'add-learner',
  },
  {
    name: 'add next to 10.0.2.150 (not own): add-learner',
    input: joinInput({ c: cluster(V('1', '10.0.2.150'), V('2', '10.0.2.2')), strategy: ADD }),
    kind: 'add-learner',
  },
  { name: 'add at cap: wait (cluster full)', input: joinInput({ c: healthy3, strategy: ADD }), kind: 'wait' },
  {
    name: 'add at cap with a dead member: wait, never remove',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
      strategy: ADD,
    }),
    kind: 'wait',
  },
  {
    name: 'add below cap but future quorum at risk: wait',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
      strategy: ADD,
      sizeCap: 5,
    }),
    kind: 'wait',
  },
  {
    name: 'single healthy voter may grow (etcd single-node exception)',
    input: joinInput({ c: cluster(V('1', '10.0.2.1')), strategy: ADD }),
    kind: 'add-learner',
  },
  {
    name: 'replace at cap with a dead voter: remove it first (scenario 7)',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')) }),
    kind: 'remove',
    memberId: '3',
  },
  {
    name: 'replace after the removal: add-learner',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')) }),
    kind: 'add-learner',
  },
  {
    name: 'replace at cap prefers the dead member whose instance is gone',
    input: joinInput({
      c: cluster(
        D('1', '10.0.2.1'),
        V('2', '10.0.2.2'),
        V('3', '10.0.2.3'),
        V('4', '10.0.2.4'),
        D('5', '10.0.2.150'),
      ),
      sizeCap: 5,
      instances: [
        inst(S, 'Pending:Wait'),
        inst('10.0.2.1'),
        inst('10.0.2.2'),
        inst('10.0.2.3'),
        inst('10.0.2.4'),
      ],
    }),
    kind: 'remove',
    memberId: '5',
  },
  {
    name: 'replace at cap: a dead member at 10.0.2.150 is gone although 10.0.2.15 is live',
    input: joinInput({
      c: cluster(
        V('2', '10.0.2.2'),
        V('3', '10.0.2.3'),
        V('4', '10.0.2.4'),
        D('5', '10.0.2.150'),
        D('6', '10.0.2.6'),
      ),
      sizeCap: 5,
      instances: [
        inst(S, 'Pending:Wait'),
        inst('10.0.2.6'),
        inst('10.0.2.2'),
        inst('10.0.2.3'),
        inst('10.0.2.4'),
      ],
    }),
    kind: 'remove',
    memberId: '5',
  },
  { name: 'replace at cap, nobody dead: wait', input: joinInput({ c: healthy3 }), kind: 'wait' },
  {
    name: 'replace at cap, two dead of five: remove one (the quorum holds)',
    input: joinInput({
      c: cluster(
        V('1', '10.0.2.1'),
        D('2', '10.0.2.2'),
        D('3', '10.0.2.3'),
        V('4', '10.0.2.4'),
        V('5', '10.0.2.5'),
      ),
      sizeCap: 5,
    }),
    kind: 'remove',
    memberId: '2',
  },
  {
    name: 'replace below cap: add like add',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3')), sizeCap: 5 }),
    kind: 'add-learner',
  },
  {
    name: 'replace below cap, add unsafe, dead member with gone instance: remove it',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')), sizeCap: 5 }),
    kind: 'remove',
    memberId: '3',
  },
  {
    name: 'replace below cap, add unsafe, dead member of a live instance: wait',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
      sizeCap: 5,
      instances: [inst(S, 'Pending'), inst('10.0.2.3')],
    }),
    kind: 'wait',
  },
  {
    name: 'prune below cap with a dead member: remove it first',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3'), D('4', '10.0.2.4')),
      strategy: PRUNE,
      sizeCap: 5,
    }),
    kind: 'remove',
    memberId: '4',
  },
  {
    name: 'prune without dead members: add-learner',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')), strategy: PRUNE }),
    kind: 'add-learner',
  },
  {
    name: 'prune removes a stale unstarted member whose instance is gone',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), UL('7', '10.0.2.7')),
      strategy: PRUNE,
      sizeCap: 5,
    }),
    kind: 'remove',
    memberId: '7',
  },
  {
    name: 'another learner is joining: wait (one learner at a time)',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3'), L('4', '10.0.2.4')),
      sizeCap: 5,
    }),
    kind: 'wait',
  },
  {
    name: 'another instance is mid-join (unstarted, instance alive): wait, never remove it',
    input: joinInput({
      c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3'), UL('4', '10.0.2.150')),
      strategy: PRUNE,
      sizeCap: 5,
      instances: [inst(S, 'Pending'), inst('10.0.2.150', 'Pending:Wait')],
    }),
    kind: 'wait',
  },
  {
    name: 'no working quorum: wait, never add into a broken cluster (scenario 8)',
    input: joinInput({ c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2'), D('3', '10.0.2.3')), sizeCap: 3 }),
    kind: 'wait',
  },
  {
    name: 'empty member list (no quorum to join): wait',
    input: joinInput({ c: cluster(), strategy: ADD }),
    kind: 'wait',
  },
];

describe('planJoin', () => {
  it.each(rows)('$name', ({ input, kind, memberId }) => {
    const step = planJoin(input);
    expect(step.kind).toBe(kind);
    expect(step.reason.length).toBeGreaterThan(0);
    if (memberId !== undefined) expect(step).toHaveProperty('memberId', memberId);
  });

  it('reuse-unstarted lists every member, own entry under its own name, unstarted ones by id', () => {
    const c = cluster({ ...V('1', '10.0.2.1'), name: 'i-one' }, V('2', '10.0.2.2'), UL('9', S));
    const step = planJoin(joinInput({ c, self: self(S, 'i-self') }));
    expect(step.kind).toBe('reuse-unstarted');
    if (step.kind !== 'reuse-unstarted') return;
    expect(renderInitialCluster(step.initialCluster)).toBe(
      `i-one=${peer('10.0.2.1')},i-10.0.2.2=${peer('10.0.2.2')},i-self=${peer(S)}`,
    );
  });

  it('add-learner carries the exact own peer URL', () => {
    const step = planJoin(joinInput({ c: cluster(V('1', '10.0.2.150')), strategy: ADD }));
    expect(step).toMatchObject({ kind: 'add-learner', peerURL: 'http://10.0.2.15:2380' });
  });

  it('bootstrap: sorted by instance id, names are instance ids, token from group name and hash', () => {
    const step = planJoin(joinInput({ c: null, self: selfA, instances: coldGroup }));
    expect(step.kind).toBe('bootstrap-new');
    if (step.kind !== 'bootstrap-new') return;
    expect(renderInitialCluster(step.initialCluster)).toBe(
      'i-a=http://10.0.2.15:2380,i-b=http://10.0.2.20:2380,i-c=http://10.0.2.150:2380',
    );
    expect(step.token).toMatch(/^etcd-asg-[0-9a-f]{8}$/);
  });

  it('bootstrap: every instance of the same listing computes the same cluster and token', () => {
    const views = [
      planJoin(joinInput({ c: null, self: self(S, 'i-a'), instances: coldGroup })),
      planJoin(joinInput({ c: null, self: self('10.0.2.20', 'i-b'), instances: [...coldGroup].reverse() })),
      planJoin(
        joinInput({
          c: null,
          self: self('10.0.2.150', 'i-c'),
          instances: [coldGroup[2], coldGroup[0], coldGroup[1]],
        }),
      ),
    ];
    for (const v of views) {
      expect(v.kind).toBe('bootstrap-new');
      expect(v).toEqual({ ...views[0], reason: v.reason });
    }
  });

  it('bootstrap: a differing view yields a different token', () => {
    const a = planJoin(joinInput({ c: null, self: selfA, instances: coldGroup }));
    const other = [coldGroup[0], coldGroup[1], inst('10.0.2.151', 'Pending', 'i-d')];
    const b = planJoin(joinInput({ c: null, self: selfA, instances: other }));
    expect(a.kind).toBe('bootstrap-new');
    expect(b.kind).toBe('bootstrap-new');
    if (a.kind === 'bootstrap-new' && b.kind === 'bootstrap-new') expect(a.token).not.toBe(b.token);
  });
});

/*
 * FAILURE-SCENARIOS 13 (issue 12): a total loss beside backups. The bootstrap decision gets what the backup
 * bucket says; before the fix it had no such input and planned `bootstrap-new` (an EMPTY cluster) for every
 * row below that now expects `await-restore`.
 */
describe('planJoin: the bootstrap guard beside backups (scenario 13)', () => {
  const snap = 'snapshots/20261130T120000000Z-r00000000000000000042-abc.db';
  const totalLoss = (backups: JoinInput['backups'], over: Partial<JoinInput> = {}) =>
    joinInput({ c: null, self: selfA, instances: coldGroup, ...(backups && { backups }), ...over });
  const guardRows: { name: string; input: JoinInput; kind: JoinStep['kind'] }[] = [
    {
      name: 'a complete snapshot, nothing reachable, group full and new: await-restore, never an empty cluster',
      input: totalLoss({ newestSnapshot: snap, restoreGeneration: 0, emptyStartAllowed: false }),
      kind: 'await-restore',
    },
    {
      name: 'a restore record only (its snapshots expired): await-restore',
      input: totalLoss({ restoreGeneration: 3, emptyStartAllowed: false }),
      kind: 'await-restore',
    },
    {
      name: 'the automatic policy: await-restore too (the reconcile restores)',
      input: totalLoss({
        newestSnapshot: snap,
        restoreGeneration: 0,
        emptyStartAllowed: false,
        restorePolicy: 'automatic',
      }),
      kind: 'await-restore',
    },
    {
      name: 'an empty start beside backups allowed explicitly: bootstrap',
      input: totalLoss({ newestSnapshot: snap, restoreGeneration: 2, emptyStartAllowed: true }),
      kind: 'bootstrap-new',
    },
    {
      name: 'an empty bucket (a first deploy): bootstrap',
      input: totalLoss({ restoreGeneration: 0, emptyStartAllowed: false }),
      kind: 'bootstrap-new',
    },
    {
      name: 'backups not configured: bootstrap (only the group listing guards it)',
      input: totalLoss(undefined),
      kind: 'bootstrap-new',
    },
    {
      name: 'beside backups, the group not full yet: wait (the group comes first)',
      input: totalLoss(
        { newestSnapshot: snap, restoreGeneration: 0, emptyStartAllowed: false },
        { instances: coldGroup.slice(0, 2) },
      ),
      kind: 'wait',
    },
    {
      name: 'beside backups, data in the data dir: start-existing (a full stop, scenario 9)',
      input: totalLoss(
        { newestSnapshot: snap, restoreGeneration: 0, emptyStartAllowed: false },
        { dataDir: HAS_DATA },
      ),
      kind: 'start-existing',
    },
    {
      name: 'beside backups, a reachable cluster: the normal join',
      input: totalLoss(
        { newestSnapshot: snap, restoreGeneration: 0, emptyStartAllowed: false },
        { members: healthy3.members, health: healthy3.health, strategy: ADD, sizeCap: 5, desiredCapacity: 5 },
      ),
      kind: 'add-learner',
    },
  ];
  it.each(guardRows)('$name', ({ input, kind }) => {
    const step = planJoin(input);
    expect(step.kind).toBe(kind);
    if (kind === 'await-restore')
      expect(step.reason).toMatch(/^total loss: .*never bootstrapping an empty cluster/);
  });
});

/*
 * FAILURE-SCENARIOS 15 (issue 12): a member of a retained instance (`Terminating:Retained`) is leaving; it
 * does not hold a slot of the cap. Before the fix the thawed member of the sequence, wiped and
 * joining, planned `wait` ("cluster full (3 of cap 3) and no dead member can be removed safely") forever.
 */
describe('planJoin: a retained instance does not hold a slot (scenario 15)', () => {
  const R = '10.0.2.30';
  const group = (extra: ReturnType<typeof inst>[] = []) => [
    inst('10.0.2.1', 'InService', 'i-d'),
    inst('10.0.2.2', 'InService', 'i-e'),
    inst(R, 'Terminating:Retained', 'i-r'),
    inst(S, 'InService', 'i-self'),
    ...extra,
  ];
  const me = self(S, 'i-self');
  const retainedRows: { name: string; input: JoinInput; kind: JoinStep['kind']; memberId?: string }[] = [
    {
      name: 'the thawed, wiped member: full only because of the retained member: join as a learner',
      input: joinInput({
        c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', R)),
        self: me,
        instances: group(),
      }),
      kind: 'add-learner',
    },
    {
      name: 'strategy add, same: join as a learner',
      input: joinInput({
        c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', R)),
        self: me,
        instances: group(),
        strategy: ADD,
      }),
      kind: 'add-learner',
    },
    {
      name: "the retained instance's replacement: a frozen member and the retained one fill the list: remove the frozen one",
      input: joinInput({
        c: cluster(D('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', R)),
        self: me,
        instances: group(),
      }),
      kind: 'remove',
      memberId: '1',
    },
    {
      name: 'the members that stay fill the cap: wait, as before',
      input: joinInput({
        c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('4', '10.0.2.4'), V('3', R)),
        self: me,
        instances: group([inst('10.0.2.4', 'InService', 'i-f')]),
      }),
      kind: 'wait',
    },
    {
      name: 'the quorum check still counts the retained voter: with a dead one beside it, no add',
      input: joinInput({
        c: cluster(D('1', '10.0.2.1'), V('3', R)),
        self: me,
        instances: group(),
        strategy: ADD,
      }),
      kind: 'wait',
    },
    {
      name: 'the retained instance itself (its member removed, etcd restarted): never joins',
      input: joinInput({
        c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')),
        self: self(R, 'i-r'),
        instances: group(),
      }),
      kind: 'wait',
    },
  ];
  it.each(retainedRows)('$name', ({ input, kind, memberId }) => {
    const step = planJoin(input);
    expect(step.kind).toBe(kind);
    if (memberId !== undefined) expect(step).toHaveProperty('memberId', memberId);
  });
});
