/* planJoin with a reachable cluster or data in the data dir (the bootstrap plans: bootstrap.test.ts). */
import { DataDirState, JoinStrategy, planJoin, renderInitialCluster } from '../../lambda/core';
import { D, L, LD, U, UL, V, cluster, inst, joinInput, peer, self } from './fixtures';
import { expectPlan, Row, S, healthy3 } from './join-fixtures';

const { HAS_DATA, REMOVED_MEMBER } = DataDirState;
const { PREPARE, ADD, PRUNE } = JoinStrategy;

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
  it.each(rows)('$name', expectPlan);

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
});
