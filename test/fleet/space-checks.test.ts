/*
 * The checks of the space tests can fail (no etcd here): the defragmentation order check on hand-made
 * decision lines and leader samples, and the overwrite load's read-back rule on hand-made reads.
 */
import { LeaderSample, orderViolations, OverwriteLoad, sha } from './harness';

const line = (offset: number, step: string, fields: Record<string, unknown> = {}) => ({
  offset,
  message: `maintenance: ${step}`,
  step,
  ...fields,
});

/** Leader samples: [offset, leader] pairs. */
const sampled = (pairs: [number, string][]) => {
  const samples: LeaderSample[] = pairs.map(([offset, leader]) => ({ offset, at: 0, leader }));
  return {
    leaderAfter: (o: number) => samples.find((s) => s.offset > o && s.leader)?.leader,
    leaderBefore: (o: number) => samples.filter((s) => s.offset <= o && s.leader).at(-1)?.leader,
  };
};

describe('orderViolations', () => {
  const followersThenLeader = [
    line(100, 'defragment', { memberId: 'B' }),
    line(200, 'defragment', { memberId: 'C' }),
    line(300, 'move-leader', { from: 'A', to: 'B' }),
    line(400, 'defragment', { memberId: 'A' }),
    line(500, 'idle'),
  ];

  it('followers first, the leader after a move: none', () => {
    const leaders = sampled([
      [150, 'A'],
      [250, 'A'],
      [350, 'B'],
      [450, 'B'],
    ]);
    expect(orderViolations(followersThenLeader, leaders)).toEqual([]);
  });

  it('the leader defragmented while it led (the move did not happen): one', () => {
    const leaders = sampled([
      [150, 'A'],
      [250, 'A'],
      [350, 'A'],
      [450, 'A'],
    ]);
    expect(orderViolations(followersThenLeader, leaders)).toEqual(['defragment A while it led']);
  });

  it('a member an election made leader during its defragmentation (a follower right before): none', () => {
    const leaders = sampled([
      [150, 'A'],
      [250, 'A'],
      [350, 'B'],
      [390, 'B'],
      [450, 'A'],
    ]);
    const lines = [line(100, 'defragment', { memberId: 'B' }), line(400, 'defragment', { memberId: 'A' })];
    // B led right after its line, but A led right before it: an election, not the maintenance's choice. A
    // was a follower right before its line (B led) and led after it: the same.
    expect(
      orderViolations(
        lines.slice(0, 1),
        sampled([
          [50, 'A'],
          [150, 'B'],
        ]),
      ),
    ).toEqual([]);
    expect(orderViolations(lines.slice(1), leaders)).toEqual([]);
  });

  it('a move followed by the defragmentation of the new leader: one; of another follower, or idle: none', () => {
    const lines = [
      line(100, 'move-leader', { from: 'A', to: 'B' }),
      line(200, 'defragment', { memberId: 'B' }),
      line(300, 'move-leader', { from: 'B', to: 'A' }),
      line(400, 'defragment', { memberId: 'C' }),
      line(500, 'move-leader', { from: 'A', to: 'C' }),
      line(600, 'idle'),
    ];
    const leaders = sampled([
      [150, 'B'],
      [250, 'C'],
      [350, 'A'],
      [450, 'A'],
      [550, 'C'],
    ]);
    expect(orderViolations(lines, leaders)).toEqual([
      'move-leader to B followed by defragment B, the new leader',
    ]);
  });

  it('no leader sample after a defragment line: reported, not passed', () => {
    expect(orderViolations([line(100, 'defragment', { memberId: 'B' })], sampled([[50, 'A']]))).toEqual([
      'defragment B: no leader sample after it',
    ]);
  });
});

describe('OverwriteLoad.wrongValues', () => {
  const load = new OverwriteLoad([], { prefix: 'p', totalBytes: 0 });
  const acked = Buffer.from('acked');
  const later = Buffer.from('failed but applied');
  load.lastAcked.set('p/000', sha(acked));
  load.lastAcked.set('p/001', sha(acked));
  load.unsure.set('p/001', new Set([sha(later)]));

  it('the last acknowledged value, or a later attempted one: right', () => {
    expect(
      load.wrongValues(
        new Map([
          ['p/000', acked],
          ['p/001', later],
        ]),
      ),
    ).toEqual([]);
  });

  it('a missing key, another value: wrong', () => {
    expect(load.wrongValues(new Map([['p/000', later]]))).toEqual(['p/000: another value', 'p/001: missing']);
  });
});
