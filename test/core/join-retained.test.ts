/* planJoin beside a retained instance (FAILURE-SCENARIOS 15). */
import { JoinInput, JoinStep, JoinStrategy, planJoin } from '../../lambda/core';
import { D, V, cluster, inst, joinInput, self } from './fixtures';
import { S } from './join-fixtures';

const { ADD } = JoinStrategy;

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
