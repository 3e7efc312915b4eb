/* planJoin without a reachable cluster and with an empty data dir: the bootstrap, and its guard beside backups. */
import {
  DataDirState,
  JoinInput,
  JoinStep,
  JoinStrategy,
  planJoin,
  renderInitialCluster,
} from '../../lambda/core';
import { inst, joinInput, self } from './fixtures';
import { expectPlan, Row, S, coldGroup, healthy3, selfA } from './join-fixtures';

const { HAS_DATA } = DataDirState;
const { ADD } = JoinStrategy;

const rows: Row[] = [
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
];

describe('planJoin', () => {
  it.each(rows)('$name', expectPlan);

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
  /** A complete snapshot in the bucket, no restore yet, no empty start allowed. */
  const besideSnapshot = { newestSnapshot: snap, restoreGeneration: 0, emptyStartAllowed: false };
  const totalLoss = (backups: JoinInput['backups'], over: Partial<JoinInput> = {}) =>
    joinInput({ c: null, self: selfA, instances: coldGroup, ...(backups && { backups }), ...over });
  const guardRows: { name: string; input: JoinInput; kind: JoinStep['kind'] }[] = [
    {
      name: 'a complete snapshot, nothing reachable, group full and new: await-restore, never an empty cluster',
      input: totalLoss(besideSnapshot),
      kind: 'await-restore',
    },
    {
      name: 'a restore record only (its snapshots expired): await-restore',
      input: totalLoss({ restoreGeneration: 3, emptyStartAllowed: false }),
      kind: 'await-restore',
    },
    {
      name: 'the automatic policy: await-restore too (the reconcile restores)',
      input: totalLoss({ ...besideSnapshot, restorePolicy: 'automatic' }),
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
      input: totalLoss(besideSnapshot, { instances: coldGroup.slice(0, 2) }),
      kind: 'wait',
    },
    {
      name: 'beside backups, data in the data dir: start-existing (a full stop, scenario 9)',
      input: totalLoss(besideSnapshot, { dataDir: HAS_DATA }),
      kind: 'start-existing',
    },
    {
      name: 'beside backups, a reachable cluster: the normal join',
      input: totalLoss(besideSnapshot, {
        members: healthy3.members,
        health: healthy3.health,
        strategy: ADD,
        sizeCap: 5,
        desiredCapacity: 5,
      }),
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
