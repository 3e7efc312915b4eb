import {
  GroupInstance,
  RetainedInput,
  RetainedStep,
  TerminationStep,
  planRetainedTerminations,
  planTermination,
} from '../../lambda/core';
import { Cluster, D, L, U, UL, V, cluster, inst, terminationInput } from './fixtures';

const rows: {
  name: string;
  c: Cluster;
  ip: string;
  instances?: GroupInstance[];
  kind: TerminationStep['kind'];
  memberId?: string;
  desired?: number;
}[] = [
  {
    name: 'no member for the IP: absent',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')),
    ip: '10.0.2.9',
    kind: 'absent',
  },
  {
    name: 'terminating 10.0.2.15 with only 10.0.2.150 registered: absent',
    c: cluster(V('1', '10.0.2.150'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
    ip: '10.0.2.15',
    kind: 'absent',
  },
  {
    name: 'terminating 10.0.2.15 next to 10.0.2.150: removes 15 only',
    c: cluster(V('150', '10.0.2.150'), V('15', '10.0.2.15'), V('3', '10.0.2.3')),
    ip: '10.0.2.15',
    kind: 'remove',
    memberId: '15',
  },
  {
    name: 'learner: remove',
    c: cluster(V('1', '10.0.2.1'), L('9', '10.0.2.9')),
    ip: '10.0.2.9',
    kind: 'remove',
    memberId: '9',
  },
  {
    name: 'unstarted learner: remove',
    c: cluster(V('1', '10.0.2.1'), UL('9', '10.0.2.9')),
    ip: '10.0.2.9',
    kind: 'remove',
    memberId: '9',
  },
  {
    name: 'unstarted voter: remove',
    c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2'), U('9', '10.0.2.9')),
    ip: '10.0.2.9',
    kind: 'remove',
    memberId: '9',
  },
  {
    name: 'healthy voter of 3 healthy: remove (scenario 6)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
    ip: '10.0.2.1',
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'dead voter: remove',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    ip: '10.0.2.3',
    kind: 'remove',
    memberId: '3',
  },
  {
    name: 'healthy voter while another is dead: remove the dead one first',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    ip: '10.0.2.1',
    kind: 'remove-dead-first',
    memberId: '3',
  },
  {
    name: 'dead-first prefers a member whose instance is gone',
    c: cluster(
      V('1', '10.0.2.1'),
      V('2', '10.0.2.2'),
      V('3', '10.0.2.3'),
      D('4', '10.0.2.4'),
      D('5', '10.0.2.150'),
    ),
    ip: '10.0.2.1',
    instances: [
      inst('10.0.2.1', 'Terminating:Wait'),
      inst('10.0.2.2'),
      inst('10.0.2.3'),
      inst('10.0.2.4'),
      inst('10.0.2.15'),
    ],
    kind: 'remove-dead-first',
    memberId: '5',
  },
  {
    name: 'two of three dead: unsafe (keep the instance)',
    c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2'), D('3', '10.0.2.3')),
    ip: '10.0.2.1',
    kind: 'unsafe',
  },
  { name: 'last voter: unsafe', c: cluster(V('1', '10.0.2.1')), ip: '10.0.2.1', kind: 'unsafe' },
  {
    name: 'one of two healthy: remove',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')),
    ip: '10.0.2.1',
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'one of two, the other dead: unsafe (removing the dead one leaves the last voter)',
    c: cluster(V('1', '10.0.2.1'), D('2', '10.0.2.2')),
    ip: '10.0.2.1',
    kind: 'unsafe',
  },
  {
    name: 'desired 3, one of three dead, healthy voter terminating: unsafe (scenario 6 variant: retain)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', '10.0.2.3')),
    ip: '10.0.2.1',
    desired: 3,
    kind: 'unsafe',
  },
  {
    name: 'desired 3, three healthy: remove (the replacement restores three)',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3')),
    ip: '10.0.2.1',
    desired: 3,
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'desired 5, one of five dead: remove directly, three healthy voters remain',
    c: cluster(
      V('1', '10.0.2.1'),
      V('2', '10.0.2.2'),
      V('3', '10.0.2.3'),
      V('4', '10.0.2.4'),
      D('5', '10.0.2.5'),
    ),
    ip: '10.0.2.1',
    desired: 5,
    kind: 'remove',
    memberId: '1',
  },
  {
    name: 'desired 5, two of five dead: unsafe (two healthy voters would be below quorum of 5)',
    c: cluster(
      V('1', '10.0.2.1'),
      V('2', '10.0.2.2'),
      V('3', '10.0.2.3'),
      D('4', '10.0.2.4'),
      D('5', '10.0.2.5'),
    ),
    ip: '10.0.2.1',
    desired: 5,
    kind: 'unsafe',
  },
  {
    name: 'scale-in to 1 from two healthy: remove',
    c: cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2')),
    ip: '10.0.2.2',
    desired: 1,
    kind: 'remove',
    memberId: '2',
  },
  {
    name: 'scale to 0: the last voter is never removed',
    c: cluster(V('1', '10.0.2.1')),
    ip: '10.0.2.1',
    desired: 0,
    kind: 'unsafe',
  },
];

describe('planTermination', () => {
  it.each(rows)('$name', ({ c, ip, instances, kind, memberId, desired }) => {
    const step = planTermination(terminationInput(c, ip, instances, desired));
    expect(step.kind).toBe(kind);
    if (memberId !== undefined) expect(step).toHaveProperty('memberId', memberId);
  });
});

/*
 * FAILURE-SCENARIOS 15 (issue 12): the reconcile finishes a retained termination as soon as the terminate
 * hook's own rule says the removal is safe. Before the fix nothing planned this at all: the retained member
 * held its slot and the instance ran outside the group forever.
 */
describe('planRetainedTerminations', () => {
  const R = '10.0.2.30';
  const group = [
    inst('10.0.2.1', 'InService', 'i-d'),
    inst('10.0.2.2', 'InService', 'i-e'),
    inst(R, 'Terminating:Retained', 'i-r'),
  ];
  const input = (c: ReturnType<typeof cluster>, desired = 3): RetainedInput => ({
    members: c.members,
    health: c.health,
    instances: group,
    peerPort: 2380,
    scheme: 'http',
    desiredCapacity: desired,
  });
  const rows: { name: string; input: RetainedInput | null; kind: RetainedStep['kind']; memberId?: string }[] =
    [
      {
        name: 'the frozen member was replaced: removing the retained one is safe now: remove and terminate',
        input: input(cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', R))),
        kind: 'remove-and-terminate',
        memberId: '3',
      },
      {
        name: 'another member still dead (the reason it was retained): keep',
        input: input(cluster(D('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', R))),
        kind: 'keep',
      },
      {
        name: 'removal would leave fewer healthy voters than the quorum of the desired capacity: keep',
        input: input(cluster(V('2', '10.0.2.2'), V('3', R))),
        kind: 'keep',
      },
      {
        name: 'no member (removed already, or a restore replaced its cluster): terminate',
        input: input(cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'))),
        kind: 'terminate',
      },
      {
        name: 'a dead retained voter removable with quorum kept: remove and terminate',
        input: input(cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), D('3', R))),
        kind: 'remove-and-terminate',
        memberId: '3',
      },
      { name: 'no member list (no quorum): keep', input: null, kind: 'keep' },
    ];
  it.each(rows)('$name', ({ input: i, kind, memberId }) => {
    const steps = planRetainedTerminations(i, group);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ kind, instanceId: 'i-r' });
    if (memberId !== undefined) expect(steps[0]).toHaveProperty('memberId', memberId);
  });

  it('instances that are not retained are not its business', () => {
    const c = cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'));
    expect(planRetainedTerminations(input(c), group.slice(0, 2))).toEqual([]);
  });
});
