import { PromoteStep, planPromote } from '../../lambda/core';
import { Cluster, D, L, LD, U, UL, V, cluster, promoteInput } from './fixtures';

const S = '10.0.2.15';

const rows: { name: string; c: Cluster; kind: PromoteStep['kind']; memberId?: string }[] = [
  {
    name: 'started healthy learner: promote',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), L('9', S)),
    kind: 'promote',
    memberId: '9',
  },
  {
    name: 'started healthy voter: done',
    c: cluster(V('1', '10.0.2.1'), V('9', S)),
    kind: 'done',
    memberId: '9',
  },
  {
    name: 'own entry missing: refuse (removed)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')),
    kind: 'refuse',
  },
  {
    name: 'only 10.0.2.150 present: refuse (15 is not 150)',
    c: cluster(V('1', '10.0.2.150'), L('2', '10.0.2.2')),
    kind: 'refuse',
  },
  { name: 'unstarted learner: wait', c: cluster(V('1', '10.0.2.1'), UL('9', S)), kind: 'wait' },
  { name: 'unstarted voter: wait', c: cluster(V('1', '10.0.2.1'), U('9', S)), kind: 'wait' },
  { name: 'unhealthy learner: wait', c: cluster(V('1', '10.0.2.1'), LD('9', S)), kind: 'wait' },
  { name: 'unhealthy voter: wait', c: cluster(V('1', '10.0.2.1'), D('9', S)), kind: 'wait' },
  {
    name: 'learner next to 10.0.2.150 voter: promote own id',
    c: cluster(V('150', '10.0.2.150'), V('2', '10.0.2.2'), L('15', S)),
    kind: 'promote',
    memberId: '15',
  },
  {
    name: 'promotion would leave started voters under quorum: wait',
    c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2'), D('3', '10.0.2.3'), D('4', '10.0.2.4'), L('9', S)),
    kind: 'wait',
  },
  {
    name: 'single voter + learner: promote (1 -> 2)',
    c: cluster(V('1', '10.0.2.1'), L('9', S)),
    kind: 'promote',
    memberId: '9',
  },
];

describe('planPromote', () => {
  it.each(rows)('$name', ({ c, kind, memberId }) => {
    const step = planPromote(promoteInput(c));
    expect(step.kind).toBe(kind);
    if (memberId !== undefined) expect(step).toHaveProperty('memberId', memberId);
  });
});
