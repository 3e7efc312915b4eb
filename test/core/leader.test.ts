/*
 * handoffTarget (lambda/core/leader.ts): table tests.
 */
import { handoffTarget } from '../../lambda/core/leader';
import { Member } from '../../lambda/core/types';
import { voter, learner, unstarted } from './members';

const V = voter;
const L = learner;
const U = (id: string): Member => unstarted(id);

const healthy = (...ids: string[]) => Object.fromEntries(ids.map((id) => [id, true]));

const cases: Array<
  [string, Member[], Record<string, boolean>, Record<string, number | undefined>, string | undefined]
> = [
  [
    'the highest raft index wins',
    [V('1'), V('2'), V('3')],
    healthy('1', '2', '3'),
    { 1: 50, 2: 40, 3: 45 },
    '3',
  ],
  [
    'ties go to the lowest id',
    [V('1'), V('2'), V('3')],
    healthy('1', '2', '3'),
    { 1: 50, 2: 45, 3: 45 },
    '2',
  ],
  [
    'an unhealthy follower is skipped even when ahead',
    [V('1'), V('2'), V('3')],
    healthy('1', '3'),
    { 2: 60, 3: 45 },
    '3',
  ],
  ['a learner is never a target', [V('1'), L('2'), V('3')], healthy('1', '2', '3'), { 2: 60, 3: 45 }, '3'],
  [
    'an unstarted member is never a target',
    [V('1'), U('2'), V('3')],
    healthy('1', '2', '3'),
    { 2: 60, 3: 45 },
    '3',
  ],
  [
    'a member without a raft index is skipped',
    [V('1'), V('2'), V('3')],
    healthy('1', '2', '3'),
    { 2: undefined, 3: 45 },
    '3',
  ],
  ['no candidate: none', [V('1'), V('2')], healthy('1'), { 1: 50, 2: 49 }, undefined],
  ['a single member: none', [V('1')], healthy('1'), { 1: 50 }, undefined],
];

test.each(cases)('%s', (_name, members, health, raftIndex, expected) => {
  const t = handoffTarget(members, '1', health, raftIndex);
  if (expected === undefined) {
    expect(t).toMatchObject({
      kind: 'none',
      reason: expect.stringMatching(/no healthy started voter besides the leader 1/),
    });
  } else {
    expect(t).toMatchObject({ kind: 'to', memberId: expected });
    expect(t.reason).toMatch(
      new RegExp(`^${expected} is the most caught-up healthy voter \\(raft index ${raftIndex[expected]}\\)`),
    );
  }
});
