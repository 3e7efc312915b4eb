/*
 * gaugesOf (lambda/core/gauges.ts): table tests of what every reconcile publishes.
 */
import { gaugesOf, GaugeInput, Gauges } from '../../lambda/core/gauges';
import type { MemberStatus } from '../../lambda/core/maintenance';
import { Member } from '../../lambda/core/types';
import { voter, learner, unstarted } from './members';

const V = voter;
const L = learner;
const U = (id: string): Member => unstarted(id, true);
const MiB = 1024 * 1024;
const st = (dbMiB: number, inUseMiB: number, leader = '1'): MemberStatus => ({
  dbSize: dbMiB * MiB,
  dbSizeInUse: inUseMiB * MiB,
  raftIndex: 100,
  leader,
});
const base: GaugeInput = {
  members: [V('1'), V('2'), V('3')],
  health: { 1: true, 2: true, 3: true },
  status: { 1: st(10, 5), 2: st(40, 8), 3: st(20, 30) },
  alarms: [],
  desiredCapacity: 3,
  quotaBackendBytes: 100 * MiB,
  previousLeader: '1',
};

const cases: Array<[string, Partial<GaugeInput>, Partial<Gauges>]> = [
  [
    'healthy cluster: largest sizes of any member, quota of the largest dbSize, no leader change',
    {},
    {
      healthyVoters: 3,
      desiredCapacity: 3,
      learners: 0,
      unstartedMembers: 0,
      dbSizeBytes: 40 * MiB,
      dbSizeInUseBytes: 30 * MiB,
      quotaUsedPercent: 40,
      leaderChanges: 0,
      leader: '1',
      activeAlarms: 0,
      corruptAlarms: 0,
    },
  ],
  ['an unhealthy voter is not counted', { health: { 1: true, 2: false, 3: true } }, { healthyVoters: 2 }],
  [
    'a started learner and an unstarted member: neither is a healthy voter',
    {
      members: [V('1'), V('2'), L('4'), U('5')],
      health: { 1: true, 2: true, 4: true },
      desiredCapacity: 4,
    },
    { healthyVoters: 2, learners: 2, unstartedMembers: 1, desiredCapacity: 4 },
  ],
  [
    'etcd unreachable: 0 healthy voters, no size gauges, no alarm count',
    { members: null, health: {}, status: {}, alarms: undefined },
    { healthyVoters: 0, learners: 0, unstartedMembers: 0, leaderChanges: 0 },
  ],
  [
    'a new leader since the previous reconcile',
    { status: { 1: st(10, 5, '2'), 2: st(10, 5, '2'), 3: st(10, 5, '2') } },
    { leaderChanges: 1, leader: '2' },
  ],
  ['no previous record: no change counted', { previousLeader: undefined }, { leaderChanges: 0, leader: '1' }],
  [
    'members disagree on the leader (an election): no leader, no change counted',
    { status: { 1: st(10, 5, '2'), 2: st(10, 5, '3'), 3: st(10, 5, '0') } },
    { leaderChanges: 0, leader: undefined },
  ],
  [
    'alarms: NOSPACE on two members and a CORRUPT',
    {
      alarms: [
        { memberId: '1', alarm: 'NOSPACE' },
        { memberId: '2', alarm: 'NOSPACE' },
        { memberId: '3', alarm: 'CORRUPT' },
      ],
    },
    { activeAlarms: 3, corruptAlarms: 1 },
  ],
  [
    'quota percentage to one decimal',
    { status: { 1: st(33.3333, 1) }, quotaBackendBytes: 48 * MiB },
    { quotaUsedPercent: 69.4, dbSizeBytes: 33.3333 * MiB },
  ],
];

describe('gaugesOf', () => {
  test.each(cases)('%s', (_name, over, expected) => {
    const g = gaugesOf({ ...base, ...over });
    for (const [k, v] of Object.entries(expected)) {
      expect({ [k]: g[k as keyof Gauges] }).toEqual({ [k]: v });
    }
  });

  test('no status from any member: the size gauges are absent, not zero', () => {
    const g = gaugesOf({ ...base, status: {} });
    expect(g).not.toHaveProperty('dbSizeBytes');
    expect(g).not.toHaveProperty('quotaUsedPercent');
    expect(g.healthyVoters).toBe(3);
  });
});
