import { GroupInstance, JoinStrategy, ReconcileInput, ReconcileStep, planReconcile } from '../../lambda/core';
import { Cluster, D, L, LD, U, UL, V, cluster, inst, reconcileInput } from './fixtures';

const live3 = [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3')];

const rows: {
  name: string;
  c: Cluster;
  instances: GroupInstance[];
  over?: Partial<ReconcileInput>;
  removes: string[];
  reports?: string[];
}[] = [
  {
    name: 'converged: noop',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
    instances: live3,
    removes: [],
  },
  {
    name: 'dead member whose instance vanished: remove',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('4', '10.0.2.4')),
    instances: live3,
    removes: ['4'],
  },
  {
    name: 'dead member named i-0aaaaaaaaaaaaaaaa whose address a new instance i-0bbbbbbbbbbbbbbbb got: remove (scenario 10)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), {
      ...D('3', '10.0.2.3'),
      name: 'i-0aaaaaaaaaaaaaaaa',
    }),
    instances: [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3', 'Pending:Wait', 'i-0bbbbbbbbbbbbbbbb')],
    removes: ['3'],
  },
  {
    name: 'dead member named after the instance that still has its address: reported, not removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), {
      ...D('3', '10.0.2.3'),
      name: 'i-0aaaaaaaaaaaaaaaa',
    }),
    instances: [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3', 'InService', 'i-0aaaaaaaaaaaaaaaa')],
    removes: [],
    reports: ['3'],
  },
  {
    name: 'dead member at 10.0.2.150 while 10.0.2.15 is live: remove 150 only',
    c: cluster(V('1', '10.0.2.1'), V('15', '10.0.2.15'), D('150', '10.0.2.150')),
    instances: [inst('10.0.2.1'), inst('10.0.2.15')],
    removes: ['150'],
  },
  {
    name: 'dead member at 10.0.2.15 while 10.0.2.150 is live: remove 15 only',
    c: cluster(V('1', '10.0.2.1'), D('15', '10.0.2.15'), V('150', '10.0.2.150')),
    instances: [inst('10.0.2.1'), inst('10.0.2.150')],
    removes: ['15'],
  },
  {
    name: 'instance Terminated: its dead member is removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    instances: [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3', 'Terminated')],
    removes: ['3'],
  },
  {
    name: 'instance Terminating with an unhealthy member: removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    instances: [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3', 'Terminating:Wait')],
    removes: ['3'],
  },
  {
    name: 'instance Terminating with a healthy member: left to the hook',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
    instances: [inst('10.0.2.1'), inst('10.0.2.2'), inst('10.0.2.3', 'Terminating:Wait')],
    removes: [],
  },
  {
    name: 'healthy member without instance: reported, never removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('9', '10.0.2.9')),
    instances: live3.slice(0, 2),
    removes: [],
    reports: ['9'],
  },
  {
    name: 'dead voter of a live instance: reported, not removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    instances: live3,
    removes: [],
    reports: ['3'],
  },
  {
    name: 'unstarted past grace (replace): removed',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), UL('3', '10.0.2.3')),
    instances: live3,
    over: { unstartedAgeSeconds: { '3': 900 } },
    removes: ['3'],
  },
  {
    name: 'unstarted within grace with a live instance: left alone',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), UL('3', '10.0.2.3')),
    instances: live3,
    over: { unstartedAgeSeconds: { '3': 30 } },
    removes: [],
  },
  {
    name: 'unstarted past grace under prepare: reported (operator entry)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), U('3', '10.0.2.3')),
    instances: live3,
    over: { strategy: JoinStrategy.PREPARE, unstartedAgeSeconds: { '3': 900 } },
    removes: [],
    reports: ['3'],
  },
  {
    name: 'unstarted without instance under prepare: removed (instance gone)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), U('4', '10.0.2.4')),
    instances: live3,
    over: { strategy: JoinStrategy.PREPARE },
    removes: ['4'],
  },
  {
    name: 'started healthy learner: reported as unpromoted',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), L('3', '10.0.2.3')),
    instances: live3,
    removes: [],
    reports: ['3'],
  },
  {
    name: 'two dead members gone from 5: both removed in order',
    c: cluster(
      V('1', '10.0.2.1'),
      V('2', '10.0.2.2'),
      V('3', '10.0.2.3'),
      D('4', '10.0.2.4'),
      D('5', '10.0.2.5'),
    ),
    instances: live3,
    removes: ['4', '5'],
  },
  {
    name: 'no working quorum: nothing removed, reported',
    c: cluster(V('1', '10.0.2.1'), D('4', '10.0.2.4'), D('5', '10.0.2.5')),
    instances: live3,
    removes: [],
    reports: ['4', '5'],
  },
  {
    name: 'dead learner and unstarted member gone: removed before voters',
    c: cluster(
      V('1', '10.0.2.1'),
      V('2', '10.0.2.2'),
      V('3', '10.0.2.3'),
      D('8', '10.0.2.8'),
      LD('7', '10.0.2.7'),
      U('6', '10.0.2.6'),
    ),
    instances: live3,
    removes: ['6', '7', '8'],
  },
];

describe('planReconcile', () => {
  it.each(rows)('$name', ({ c, instances, over, removes, reports }) => {
    const steps = planReconcile(reconcileInput(c, instances, over));
    const ids = (k: ReconcileStep['kind']) =>
      steps.filter((s) => s.kind === k).map((s) => (s as { memberId: string }).memberId);
    expect(ids('remove')).toEqual(removes);
    if (reports) expect(ids('report').sort()).toEqual([...reports].sort());
    if (removes.length === 0 && !reports) expect(steps).toEqual([expect.objectContaining({ kind: 'noop' })]);
  });
});
