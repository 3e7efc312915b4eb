import {
  canAddVoterSafely,
  canRemove,
  fnv1a32,
  hasQuorum,
  instanceOfMember,
  isStarted,
  memberByPeerURL,
  peerURLFor,
  quorum,
  renderInitialCluster,
  sameURL,
} from '../../lambda/core';
import { D, L, U, UL, V, cluster, inst, peer } from './fixtures';

describe('quorum', () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('quorum(%i) = %i', (n, q) => expect(quorum(n)).toBe(q));
});

describe('canRemove / canAddVoterSafely / hasQuorum', () => {
  const rows: {
    name: string;
    c: ReturnType<typeof cluster>;
    id: string;
    remove: boolean;
    add: boolean;
    has: boolean;
  }[] = [
    {
      name: '3 healthy: remove one',
      c: cluster(V('1', 'a'), V('2', 'b'), V('3', 'c')),
      id: '1',
      remove: true,
      add: true,
      has: true,
    },
    {
      name: '3 with 1 dead: remove dead',
      c: cluster(V('1', 'a'), V('2', 'b'), D('3', 'c')),
      id: '3',
      remove: true,
      add: false,
      has: true,
    },
    {
      name: '3 with 1 dead: remove healthy unsafe',
      c: cluster(V('1', 'a'), V('2', 'b'), D('3', 'c')),
      id: '1',
      remove: false,
      add: false,
      has: true,
    },
    {
      name: '2 healthy: remove one',
      c: cluster(V('1', 'a'), V('2', 'b')),
      id: '1',
      remove: true,
      add: true,
      has: true,
    },
    {
      name: '1 healthy: remove last unsafe',
      c: cluster(V('1', 'a')),
      id: '1',
      remove: false,
      add: false,
      has: true,
    },
    {
      name: 'learner always removable',
      c: cluster(V('1', 'a'), D('2', 'b'), D('3', 'c'), L('4', 'd')),
      id: '4',
      remove: true,
      add: false,
      has: false,
    },
    {
      name: 'unstarted voter always removable',
      c: cluster(V('1', 'a'), V('2', 'b'), U('3', 'c')),
      id: '3',
      remove: true,
      add: false,
      has: true,
    },
    {
      name: 'unstarted learner removable',
      c: cluster(V('1', 'a'), V('2', 'b'), UL('3', 'c')),
      id: '3',
      remove: true,
      add: true,
      has: true,
    },
    {
      name: 'unknown id not removable',
      c: cluster(V('1', 'a'), V('2', 'b'), V('3', 'c')),
      id: '9',
      remove: false,
      add: true,
      has: true,
    },
    {
      name: '5 with 2 dead: add unsafe',
      c: cluster(V('1', 'a'), V('2', 'b'), V('3', 'c'), D('4', 'd'), D('5', 'e')),
      id: '4',
      remove: true,
      add: false,
      has: true,
    },
    {
      name: '4 healthy: add safe',
      c: cluster(V('1', 'a'), V('2', 'b'), V('3', 'c'), V('4', 'd')),
      id: '4',
      remove: true,
      add: true,
      has: true,
    },
  ];
  it.each(rows)('$name', ({ c, id, remove, add, has }) => {
    expect(canRemove(c.members, c.health, id)).toBe(remove);
    expect(canAddVoterSafely(c.members, c.health)).toBe(add);
    expect(hasQuorum(c.members, c.health)).toBe(has);
  });

  it('a member missing from the health map counts as unhealthy', () => {
    const c = cluster(V('1', 'a'), V('2', 'b'), V('3', 'c'));
    expect(canRemove(c.members, { '1': true, '2': true }, '1')).toBe(false);
  });
});

describe('URL matching', () => {
  it.each([
    ['http://10.0.2.15:2380', 'http://10.0.2.15:2380', true],
    ['http://10.0.2.15:2380/', 'http://10.0.2.15:2380', true],
    ['http://10.0.2.15:2380', 'http://10.0.2.150:2380', false],
    ['http://10.0.2.150:2380', 'http://10.0.2.15:2380', false],
    ['http://10.0.2.15:2380', 'https://10.0.2.15:2380', false],
    ['http://10.0.2.15:2380', 'http://10.0.2.15:23800', false],
    ['http://10.0.2.1:2380', 'http://10.0.2.15:2380', false],
  ])('sameURL(%s, %s) = %s', (a, b, same) => expect(sameURL(a, b)).toBe(same));

  it('memberByPeerURL matches 10.0.2.15 exactly, never 10.0.2.150', () => {
    const c = cluster(V('150', '10.0.2.150'), V('15', '10.0.2.15'), V('1', '10.0.2.1'));
    expect(memberByPeerURL(c.members, peerURLFor('10.0.2.15', 2380, 'http'))?.id).toBe('15');
    expect(memberByPeerURL(c.members, peerURLFor('10.0.2.150', 2380, 'http'))?.id).toBe('150');
    expect(memberByPeerURL(c.members, peerURLFor('10.0.2.1', 2380, 'http'))?.id).toBe('1');
    expect(memberByPeerURL(c.members, peerURLFor('10.0.2.151', 2380, 'http'))).toBeUndefined();
    expect(memberByPeerURL(cluster(V('150', '10.0.2.150')).members, peer('10.0.2.15'))).toBeUndefined();
  });

  it('instanceOfMember matches the exact IP', () => {
    const [m] = cluster(V('1', '10.0.2.15')).members;
    const insts = [inst('10.0.2.150', 'InService', 'i-150'), inst('10.0.2.15', 'InService', 'i-15')];
    expect(instanceOfMember(m, insts, 2380, 'http')?.instanceId).toBe('i-15');
    expect(instanceOfMember(m, insts.slice(0, 1), 2380, 'http')).toBeUndefined();
  });

  it('isStarted needs a name and a client URL', () => {
    const [v, u] = cluster(V('1', 'a'), U('2', 'b')).members;
    expect(isStarted(v)).toBe(true);
    expect(isStarted(u)).toBe(false);
    expect(isStarted({ ...v, clientURLs: [] })).toBe(false);
    expect(isStarted({ ...v, name: '' })).toBe(false);
  });
});

describe('render', () => {
  it('renderInitialCluster', () => {
    expect(renderInitialCluster([])).toBe('');
    expect(
      renderInitialCluster([
        { name: 'a', peerURL: 'http://10.0.2.15:2380' },
        { name: 'b', peerURL: 'http://10.0.2.150:2380' },
      ]),
    ).toBe('a=http://10.0.2.15:2380,b=http://10.0.2.150:2380');
  });

  it.each([
    ['', '811c9dc5'],
    ['a', 'e40c292c'],
    ['foobar', 'bf9cf968'],
  ])('fnv1a32(%j) = %s (published FNV-1a test vectors)', (s, h) => expect(fnv1a32(s)).toBe(h));
});
