/*
 * planMaintenance (lambda/core/maintenance.ts): table tests of the defragmentation and NOSPACE plan.
 */
import {
  MaintenanceInput,
  MaintenanceStep,
  MemberStatus,
  planMaintenance,
} from '../../lambda/core/maintenance';
import { Member } from '../../lambda/core/types';

const MiB = 1024 * 1024;

const member = (id: string, over: Partial<Member> = {}): Member => ({
  id,
  name: `i-${id}`,
  peerURLs: [`http://10.0.0.${id}:2380`],
  clientURLs: [`http://10.0.0.${id}:2379`],
  isLearner: false,
  ...over,
});

/** A status with `size` MiB allocated, `inUse` MiB in use, leader 1, raft index 1000. */
const st = (size: number, inUse: number, over: Partial<MemberStatus> = {}): MemberStatus => ({
  dbSize: size * MiB,
  dbSizeInUse: inUse * MiB,
  raftIndex: 1000,
  leader: '1',
  ...over,
});

/** Three healthy caught-up voters (1 the leader), 100 MiB allocated, 90 in use each. */
function input(over: Partial<MaintenanceInput> = {}): MaintenanceInput {
  return {
    members: ['1', '2', '3'].map((id) => member(id)),
    health: { 1: true, 2: true, 3: true },
    status: { 1: st(100, 90), 2: st(100, 90), 3: st(100, 90) },
    alarms: [],
    desiredCapacity: 3,
    changeInProgress: false,
    thresholds: { reclaimRatio: 0.5, reclaimMinBytes: 64 * MiB, maxLagEntries: 100 },
    progress: { compacted: false, defragmented: [] },
    ...over,
  };
}

type Expect = Partial<Record<keyof Extract<MaintenanceStep, { kind: 'move-leader' }>, unknown>> &
  Partial<Record<'memberId' | 'memberIds' | 'alarm', unknown>> & {
    kind: MaintenanceStep['kind'];
    reason?: RegExp;
  };

const cases: Array<[string, Partial<MaintenanceInput>, Expect]> = [
  [
    'nothing reclaimable: idle, naming the most reclaimable member',
    {},
    { kind: 'idle', reason: /most reclaimable: 1 with 10\.0 MiB of 100\.0 MiB/ },
  ],
  [
    'ratio met but under the absolute threshold: idle',
    { status: { 1: st(100, 90), 2: st(100, 40), 3: st(100, 90) } },
    { kind: 'idle', reason: /most reclaimable: 2 with 60\.0 MiB/ },
  ],
  [
    'absolute met but under the ratio: idle',
    { status: { 1: st(1000, 900), 2: st(1000, 800), 3: st(1000, 900) } },
    { kind: 'idle', reason: /most reclaimable: 2 with 200\.0 MiB of 1000\.0 MiB/ },
  ],
  [
    'one follower over both thresholds: defragment it',
    { status: { 1: st(100, 90), 2: st(100, 90), 3: st(200, 20) } },
    { kind: 'defragment', memberId: '3', reason: /follower 3: 180\.0 MiB reclaimable of 200\.0 MiB/ },
  ],
  [
    'two followers: the most reclaimable first',
    { status: { 1: st(100, 90), 2: st(200, 50), 3: st(300, 20) } },
    { kind: 'defragment', memberId: '3' },
  ],
  [
    'two followers equally reclaimable: the lower id first',
    { status: { 1: st(100, 90), 2: st(300, 20), 3: st(300, 20) } },
    { kind: 'defragment', memberId: '2' },
  ],
  [
    'leader and a follower over the thresholds: the follower first',
    { status: { 1: st(500, 10), 2: st(200, 20), 3: st(100, 90) } },
    { kind: 'defragment', memberId: '2' },
  ],
  [
    'only the leader left: move leadership to the most caught-up follower first',
    {
      status: {
        1: st(500, 10, { raftIndex: 1010 }),
        2: st(100, 90, { raftIndex: 1000 }),
        3: st(100, 90, { raftIndex: 1009 }),
      },
    },
    {
      kind: 'move-leader',
      from: '1',
      to: '3',
      reason:
        /leader 1 is next .*moving leadership first; 3 is the most caught-up healthy voter \(raft index 1009\)/,
    },
  ],
  [
    'followers done this run, leader left: move leadership (ties by id)',
    {
      status: { 1: st(500, 10), 2: st(300, 10), 3: st(300, 10) },
      progress: { compacted: false, defragmented: ['2', '3'] },
    },
    { kind: 'move-leader', from: '1', to: '2' },
  ],
  [
    'leadership moved: the former leader is a follower now and is defragmented',
    {
      status: {
        1: st(500, 10, { leader: '3' }),
        2: st(100, 90, { leader: '3' }),
        3: st(100, 90, { leader: '3' }),
      },
    },
    { kind: 'defragment', memberId: '1' },
  ],
  [
    'a single member: defragmented in place (nobody to hand leadership to)',
    { members: [member('1')], health: { 1: true }, status: { 1: st(500, 10) }, desiredCapacity: 1 },
    { kind: 'defragment', memberId: '1', reason: /single member 1/ },
  ],
  [
    'every member already defragmented this run: idle',
    {
      status: { 1: st(500, 10), 2: st(500, 10), 3: st(500, 10) },
      progress: { compacted: false, defragmented: ['1', '2', '3'] },
    },
    { kind: 'idle' },
  ],
  // Waiting: nothing runs unless every member is a healthy, caught-up voter and nothing else is changing.
  [
    'a membership change in progress: wait',
    { changeInProgress: true, status: { 1: st(500, 10), 2: st(500, 10), 3: st(500, 10) } },
    { kind: 'wait', reason: /membership change or restore/ },
  ],
  [
    'a learner: wait',
    { members: [member('1'), member('2'), member('3', { isLearner: true })] },
    { kind: 'wait', reason: /member 3 is a learner or unstarted/ },
  ],
  [
    'an unstarted member: wait',
    { members: [member('1'), member('2'), member('3', { name: '', clientURLs: [] })] },
    { kind: 'wait', reason: /member 3 is a learner or unstarted/ },
  ],
  [
    'an unhealthy member: wait',
    { health: { 1: true, 2: false, 3: true } },
    { kind: 'wait', reason: /member 2 is not healthy/ },
  ],
  [
    'a member missing from the health map: wait',
    { health: { 1: true, 3: true } },
    { kind: 'wait', reason: /member 2 is not healthy/ },
  ],
  [
    'no status from a member: wait',
    { status: { 1: st(100, 90), 3: st(100, 90) } },
    { kind: 'wait', reason: /no status from member 2/ },
  ],
  [
    'voters fewer than desired: wait',
    { members: [member('1'), member('2')], desiredCapacity: 3 },
    { kind: 'wait', reason: /2 voters, fewer than the desired capacity 3/ },
  ],
  [
    'members disagree on the leader: wait',
    { status: { 1: st(500, 10), 2: st(100, 90, { leader: '2' }), 3: st(100, 90) } },
    { kind: 'wait', reason: /do not agree on a leader among them \(1, 2\)/ },
  ],
  [
    'the leader is not a member (or none known): wait',
    {
      status: {
        1: st(500, 10, { leader: '0' }),
        2: st(100, 90, { leader: '0' }),
        3: st(100, 90, { leader: '0' }),
      },
    },
    { kind: 'wait', reason: /do not agree on a leader among them \(0\)/ },
  ],
  [
    'a follower behind the leader: wait',
    {
      status: {
        1: st(500, 10, { raftIndex: 5000 }),
        2: st(100, 90, { raftIndex: 4000 }),
        3: st(100, 90, { raftIndex: 5000 }),
      },
    },
    { kind: 'wait', reason: /member 2 is 1000 entries behind the leader \(more than 100\)/ },
  ],
  // NOSPACE: compact once, defragment every member (thresholds ignored), then disarm.
  [
    'NOSPACE: compact first',
    { alarms: [{ memberId: '2', alarm: 'NOSPACE' }] },
    { kind: 'compact', reason: /NOSPACE/ },
  ],
  [
    'NOSPACE, compacted: defragment every member, followers first, under the thresholds too',
    { alarms: [{ memberId: '2', alarm: 'NOSPACE' }], progress: { compacted: true, defragmented: [] } },
    { kind: 'defragment', memberId: '2', reason: /NOSPACE recovery/ },
  ],
  [
    'NOSPACE, followers done: move leadership',
    {
      alarms: [{ memberId: '2', alarm: 'NOSPACE' }],
      progress: { compacted: true, defragmented: ['2', '3'] },
    },
    { kind: 'move-leader', from: '1' },
  ],
  [
    'NOSPACE, every member done: disarm',
    {
      alarms: [{ memberId: '2', alarm: 'NOSPACE' }],
      progress: { compacted: true, defragmented: ['1', '2', '3'] },
    },
    { kind: 'disarm', alarm: 'NOSPACE' },
  ],
  [
    'NOSPACE with an unhealthy member: wait, no compaction',
    { alarms: [{ memberId: '2', alarm: 'NOSPACE' }], health: { 1: true, 2: true, 3: false } },
    { kind: 'wait' },
  ],
  // CORRUPT: never maintained, never disarmed, whatever else is true.
  [
    'CORRUPT: stop, naming the members',
    {
      alarms: [
        { memberId: '3', alarm: 'CORRUPT' },
        { memberId: '2', alarm: 'CORRUPT' },
        { memberId: '2', alarm: 'NOSPACE' },
      ],
    },
    { kind: 'corrupt', memberIds: ['2', '3'], reason: /never disarmed automatically/ },
  ],
  [
    'CORRUPT beside a change in progress and a learner: still corrupt first',
    { alarms: [{ memberId: '1', alarm: 'CORRUPT' }], changeInProgress: true },
    { kind: 'corrupt', memberIds: ['1'] },
  ],
];

test.each(cases)('%s', (_name, over, expected) => {
  const step = planMaintenance(input(over));
  const { reason, ...fields } = expected;
  expect(step).toMatchObject(fields);
  expect(step.reason).toMatch(reason ?? /./);
});

test('a full routine run, step by step, touches each over-threshold member once and the leader last', () => {
  let state = input({ status: { 1: st(500, 10), 2: st(300, 10), 3: st(100, 90) } });
  const steps: string[] = [];
  for (let i = 0; i < 10; i++) {
    const step = planMaintenance(state);
    if (step.kind === 'idle') break;
    if (step.kind === 'defragment') {
      steps.push(`defragment ${step.memberId}`);
      const s = state.status[step.memberId]!;
      state = {
        ...state,
        status: { ...state.status, [step.memberId]: { ...s, dbSize: s.dbSizeInUse } },
        progress: { ...state.progress, defragmented: [...state.progress.defragmented, step.memberId] },
      };
    } else if (step.kind === 'move-leader') {
      steps.push(`move-leader ${step.from}->${step.to}`);
      const status = Object.fromEntries(
        Object.entries(state.status).map(([id, s]) => [id, { ...s!, leader: step.to }]),
      );
      state = { ...state, status };
    } else {
      throw new Error(`unexpected step ${JSON.stringify(step)}`);
    }
  }
  expect(steps).toEqual(['defragment 2', 'move-leader 1->2', 'defragment 1']);
});
