/*
 * planHandoff (lambda/core/leader.ts): whether a planned removal hands leadership over first. Table tests.
 */
import { LeaderView, MAX_HANDOFF_LAG, planHandoff } from '../../lambda/core/leader';
import { Member } from '../../lambda/core/types';
import { voter, learner } from './members';

const V = voter;
const L = learner;
const healthy = (...ids: string[]) => Object.fromEntries(ids.map((id) => [id, true]));
/** Every listed member reports `leader`, with its raft index. */
const st = (leader: string, idx: Record<string, number>): Record<string, LeaderView> =>
  Object.fromEntries(Object.entries(idx).map(([id, raftIndex]) => [id, { leader, raftIndex }]));

const three = [V('1'), V('2'), V('3')];

const cases: Array<
  [
    string,
    Member[],
    string,
    Record<string, boolean>,
    Record<string, LeaderView | undefined>,
    string,
    string | undefined,
  ]
> = [
  [
    'the leader is removed: move to the most caught-up voter',
    three,
    '1',
    healthy('1', '2', '3'),
    st('1', { 1: 100, 2: 98, 3: 99 }),
    'move',
    '3',
  ],
  [
    'a follower is removed: no handoff',
    three,
    '2',
    healthy('1', '2', '3'),
    st('1', { 1: 100, 2: 99, 3: 99 }),
    'not-leader',
    undefined,
  ],
  [
    'the leader is the one most members name (a stale view loses)',
    three,
    '1',
    healthy('1', '2', '3'),
    { ...st('1', { 1: 100, 2: 99 }), 3: { leader: '3', raftIndex: 99 } },
    'move',
    '2',
  ],
  [
    'nobody names a leader',
    three,
    '1',
    healthy('1', '2', '3'),
    st('0', { 1: 100, 2: 99, 3: 99 }),
    'no-leader-known',
    undefined,
  ],
  ['no status at all', three, '1', healthy('1', '2', '3'), {}, 'no-leader-known', undefined],
  [
    'the leader named by the others does not answer (dead): no handoff',
    three,
    '1',
    healthy('2', '3'),
    st('1', { 2: 99, 3: 99 }),
    'leader-unreachable',
    undefined,
  ],
  [
    'the leader answers status but is not healthy',
    three,
    '1',
    healthy('2', '3'),
    st('1', { 1: 100, 2: 99, 3: 99 }),
    'leader-unreachable',
    undefined,
  ],
  [
    'the only other voters are unhealthy',
    three,
    '1',
    healthy('1'),
    st('1', { 1: 100, 2: 99, 3: 99 }),
    'no-target',
    undefined,
  ],
  [
    'a learner is never a target',
    [V('1'), L('2')],
    '1',
    healthy('1', '2'),
    st('1', { 1: 100, 2: 100 }),
    'no-target',
    undefined,
  ],
  [
    `a voter more than ${MAX_HANDOFF_LAG} entries behind is not caught up`,
    three,
    '1',
    healthy('1', '2', '3'),
    st('1', { 1: 5000, 2: 3999, 3: 100 }),
    'no-target',
    undefined,
  ],
  [
    `exactly ${MAX_HANDOFF_LAG} entries behind still counts`,
    three,
    '1',
    healthy('1', '2', '3'),
    st('1', { 1: 5000, 2: 4000, 3: 100 }),
    'move',
    '2',
  ],
  [
    'a follower without a status is skipped',
    three,
    '1',
    healthy('1', '2', '3'),
    st('1', { 1: 100, 3: 90 }),
    'move',
    '3',
  ],
];

test.each(cases)('%s', (_name, members, removing, health, status, kind, to) => {
  const plan = planHandoff(members, removing, health, status);
  expect(plan.kind).toBe(kind);
  expect(plan.reason.length).toBeGreaterThan(10);
  if (plan.kind === 'move') {
    expect(plan).toMatchObject({ from: removing, to });
  } else {
    expect(to).toBeUndefined();
  }
});

test('reasons name the members concerned', () => {
  expect(planHandoff(three, '2', healthy('1', '2', '3'), st('1', { 1: 1, 2: 1, 3: 1 })).reason).toBe(
    '2 is not the leader (1 is): no handoff needed',
  );
  expect(planHandoff(three, '1', healthy('1', '2', '3'), st('1', { 1: 100, 2: 98, 3: 99 })).reason).toMatch(
    /^the leader 1 is to be removed: 3 is the most caught-up healthy voter \(raft index 99\), 1 entries behind$/,
  );
});
