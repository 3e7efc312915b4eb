/* Table tests of what seeds a restored cluster: a survivor's data or a snapshot (lambda/core/restore-source.ts). */
import {
  ChunkInfo,
  chunkKey,
  chooseRestoreSource,
  parseChunkKey,
  PointInTime,
  SnapshotInfo,
} from '../../lambda/core';
import { cluster, D, inst, SHA, snap, V } from './fixtures';

describe('chooseRestoreSource (FAILURE-SCENARIOS 14)', () => {
  const c = cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3'));
  const group = [
    inst('10.0.0.1'),
    inst('10.0.0.2', 'Terminating:Retained'),
    inst('10.0.0.3', 'Terminating:Retained'),
    inst('10.0.0.4', 'Pending:Wait', 'i-0a-replacement'),
  ];
  const s100 = snap(1000, 100, SHA('a'));
  const s90 = snap(900, 90, SHA('b'));
  const s120partial = snap(2000, 120); // no sha256: never a candidate
  type Row = [
    string,
    {
      members?: ReturnType<typeof cluster>['members'] | null;
      revisions: Record<string, number | undefined>;
      instances?: ReturnType<typeof inst>[];
      snapshots: SnapshotInfo[];
    },
    string, // expected: 'survivor <instance>' | 'snapshot <revision> seed <instance>' | 'none'
  ];
  const show = (r: ReturnType<typeof chooseRestoreSource>) =>
    r.kind === 'none'
      ? 'none'
      : r.source.kind === 'survivor'
        ? `survivor ${r.source.instanceId}`
        : `snapshot ${r.source.revision} seed ${r.seed.instanceId}`;
  it.each<Row>([
    [
      'survivor newer than the snapshot',
      { revisions: { '1': 150 }, snapshots: [s100] },
      'survivor i-10.0.0.1',
    ],
    [
      'a tie prefers the survivor (no download)',
      { revisions: { '1': 100 }, snapshots: [s100] },
      'survivor i-10.0.0.1',
    ],
    [
      'snapshot newer than the survivor: the snapshot, seeded by the lowest live instance id',
      { revisions: { '1': 99 }, snapshots: [s100, s90] },
      'snapshot 100 seed i-0a-replacement',
    ],
    [
      'the newest snapshot is the candidate, not the highest revision of an older one',
      { revisions: { '1': 95 }, snapshots: [snap(3000, 90, SHA('c')), snap(1000, 100, SHA('d'))] },
      'survivor i-10.0.0.1',
    ],
    [
      'a snapshot without its sha256 is no candidate',
      { revisions: { '1': 101 }, snapshots: [s100, s120partial] },
      'survivor i-10.0.0.1',
    ],
    ['no snapshot at all: the survivor', { revisions: { '1': 7 }, snapshots: [] }, 'survivor i-10.0.0.1'],
    [
      'no member answered Status: the snapshot',
      { revisions: {}, snapshots: [s100] },
      'snapshot 100 seed i-0a-replacement',
    ],
    [
      'no member list at all: the snapshot',
      { members: null, revisions: {}, snapshots: [s100] },
      'snapshot 100 seed i-0a-replacement',
    ],
    ['nothing to restore from', { revisions: {}, snapshots: [] }, 'none'],
    [
      'two survivors: the higher revision',
      {
        members: cluster(
          V('1', '10.0.0.1'),
          V('2', '10.0.0.2'),
          D('3', '10.0.0.3'),
          D('4', '10.0.0.4'),
          D('5', '10.0.0.5'),
        ).members,
        revisions: { '1': 200, '2': 201 },
        instances: [inst('10.0.0.1'), inst('10.0.0.2')],
        snapshots: [s100],
      },
      'survivor i-10.0.0.2',
    ],
    [
      'two survivors at the same revision: the lowest instance id',
      {
        members: cluster(
          V('1', '10.0.0.1'),
          V('2', '10.0.0.2'),
          D('3', '10.0.0.3'),
          D('4', '10.0.0.4'),
          D('5', '10.0.0.5'),
        ).members,
        revisions: { '1': 200, '2': 200 },
        instances: [inst('10.0.0.2'), inst('10.0.0.1')],
        snapshots: [],
      },
      'survivor i-10.0.0.1',
    ],
    [
      'a learner never seeds (force-new-cluster needs a voter): the snapshot',
      {
        members: cluster(D('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3'), {
          id: '4',
          ip: '10.0.0.4',
          kind: 'l',
        }).members,
        revisions: { '4': 500 },
        instances: [inst('10.0.0.4')],
        snapshots: [s100],
      },
      'snapshot 100 seed i-10.0.0.4',
    ],
    [
      'a member whose instance is retained never seeds (it is not rebooted, it is on its way out)',
      {
        revisions: { '1': 500 },
        instances: [inst('10.0.0.1', 'Terminating:Retained'), inst('10.0.0.9', 'Pending:Wait')],
        snapshots: [s100],
      },
      'snapshot 100 seed i-10.0.0.9',
    ],
    [
      'a member whose address another instance took never seeds',
      { revisions: { '1': 500 }, instances: [inst('10.0.0.1', 'InService', 'i-other')], snapshots: [] },
      'none',
    ],
    [
      'a snapshot but no live instance to seed it',
      { revisions: {}, instances: [inst('10.0.0.2', 'Terminating:Retained')], snapshots: [s100] },
      'none',
    ],
  ])('%s → %s', (_name, row, expected) => {
    const r = chooseRestoreSource({
      members: row.members === undefined ? c.members : row.members,
      revisions: row.revisions,
      instances: row.instances ?? group,
      snapshots: row.snapshots,
    });
    expect(show(r)).toBe(expected);
  });
  it('says why, with every candidate and its revision', () => {
    const r = chooseRestoreSource({
      members: cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), { id: '4', ip: '10.0.0.4', kind: 'l' })
        .members,
      revisions: { '1': 150, '4': 140 },
      instances: [inst('10.0.0.1'), inst('10.0.0.4')],
      snapshots: [s100],
    });
    expect(r.kind).toBe('chosen');
    expect(r.reason).toBe(
      'the survivor i-10.0.0.1 is at revision 150, newer than the newest snapshot (revision 100)',
    );
    expect(r.candidates).toEqual([
      { source: 'member 1 on i-10.0.0.1', revision: 150 },
      {
        source: 'member 4 on i-10.0.0.4',
        revision: 140,
        excluded: 'a learner (force-new-cluster needs a voter)',
      },
      { source: s100.key, revision: 100 },
    ]);
    expect(r.kind === 'chosen' && r.source).toEqual({
      kind: 'survivor',
      instanceId: 'i-10.0.0.1',
      memberId: '1',
      revision: 150,
    });
  });
});

describe('chooseRestoreSource with the incremental log (issue 16)', () => {
  const c = cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3'));
  const group = [inst('10.0.0.1'), inst('10.0.0.4', 'Pending:Wait', 'i-0a-replacement')];
  const s100 = snap(1000, 100, SHA('a'));
  const s90 = snap(900, 90, SHA('b'));
  /** A chunk of cluster 'abc' (the fixtures' snapshots) or another cluster. */
  const ch = (first: number, last: number, time = last * 10, clusterId = 'abc'): ChunkInfo =>
    parseChunkKey(chunkKey('p/', { clusterId, first, last, time, sha256: SHA('c') }))!;
  type Row = [
    string,
    {
      revisions: Record<string, number | undefined>;
      snapshots: SnapshotInfo[];
      chunks?: ChunkInfo[];
      pointInTime?: PointInTime;
    },
    string, // 'survivor <instance>' | 'snapshot <key revision>+log <target> (<chunks>)' | 'none'
  ];
  const show = (r: ReturnType<typeof chooseRestoreSource>) =>
    r.kind === 'none'
      ? 'none'
      : r.source.kind === 'survivor'
        ? `survivor ${r.source.instanceId}`
        : `snapshot ${r.source.snapshotRevision ?? r.source.revision}+log ${r.log?.targetRevision} (${r.log?.chunks})`;
  it.each<Row>([
    [
      'the survivor is newer than the snapshot, but not than the snapshot and its log: the snapshot',
      { revisions: { '1': 150 }, snapshots: [s100], chunks: [ch(101, 140), ch(141, 160)] },
      'snapshot 100+log 160 (2)',
    ],
    [
      'a tie with the snapshot and its log prefers the survivor',
      { revisions: { '1': 160 }, snapshots: [s100], chunks: [ch(101, 160)] },
      'survivor i-10.0.0.1',
    ],
    [
      'the survivor is newer than the log reaches',
      { revisions: { '1': 170 }, snapshots: [s100], chunks: [ch(101, 160)] },
      'survivor i-10.0.0.1',
    ],
    [
      'a hole in the log: the snapshot counts only up to it, the survivor wins',
      { revisions: { '1': 150 }, snapshots: [s100], chunks: [ch(101, 120), ch(131, 200)] },
      'survivor i-10.0.0.1',
    ],
    [
      "another cluster's log does not extend the snapshot",
      { revisions: { '1': 150 }, snapshots: [s100], chunks: [ch(101, 200, 2000, 'def')] },
      'survivor i-10.0.0.1',
    ],
    [
      'no chunk: the snapshot as before (and a log part that replays nothing)',
      { revisions: { '1': 90 }, snapshots: [s100], chunks: [] },
      'snapshot 100+log 100 (0)',
    ],
    [
      'point in time by revision: no survivor, even a newer one; the newest snapshot at or before it',
      {
        revisions: { '1': 500 },
        snapshots: [s100, s90],
        chunks: [ch(91, 140)],
        pointInTime: { untilRevision: 95 },
      },
      'snapshot 90+log 95 (1)',
    ],
    [
      'point in time by revision after the newest snapshot: that snapshot and its log up to it',
      {
        revisions: { '1': 500 },
        snapshots: [s100, s90],
        chunks: [ch(101, 140)],
        pointInTime: { untilRevision: 120 },
      },
      'snapshot 100+log 120 (1)',
    ],
    [
      'point in time by time: the snapshot started at or before it, the chunks that start before it (cut by time on replay)',
      {
        revisions: {},
        snapshots: [s100, s90],
        chunks: [ch(91, 99, 990), ch(100, 140, 1400)],
        pointInTime: { untilTime: 950 },
      },
      'snapshot 90+log 99 (1)',
    ],
    [
      'point in time before every snapshot: nothing to restore from',
      { revisions: { '1': 500 }, snapshots: [s100, s90], chunks: [], pointInTime: { untilRevision: 50 } },
      'none',
    ],
  ])('%s → %s', (_name, row, expected) => {
    const r = chooseRestoreSource({
      members: c.members,
      revisions: row.revisions,
      instances: group,
      snapshots: row.snapshots,
      ...(row.chunks && { chunks: row.chunks }),
      ...(row.pointInTime && { pointInTime: row.pointInTime }),
    });
    expect(show(r)).toBe(expected);
  });
  it('says why: the snapshot with its log, and the candidates with both revisions', () => {
    const r = chooseRestoreSource({
      members: c.members,
      revisions: { '1': 150 },
      instances: group,
      snapshots: [s100],
      chunks: [ch(101, 160)],
    });
    expect(r.reason).toBe(
      'the newest snapshot (revision 100) and its log (1 chunk(s), to revision 160: the log ends at revision 160) is newer than the best survivor i-10.0.0.1 (revision 150)',
    );
    expect(r.candidates).toEqual([
      { source: 'member 1 on i-10.0.0.1', revision: 150 },
      { source: s100.key, revision: 160, snapshotRevision: 100, logChunks: 1 },
    ]);
    expect(r.kind === 'chosen' && r.log).toEqual({
      clusterId: 'abc',
      targetRevision: 160,
      chunks: 1,
      reason: 'the log ends at revision 160',
    });
  });
  it('a point-in-time restore says why no survivor was taken', () => {
    const r = chooseRestoreSource({
      members: c.members,
      revisions: { '1': 150 },
      instances: group,
      snapshots: [s100],
      chunks: [],
      pointInTime: { untilTime: Date.parse('2026-12-01T00:00:00Z') },
    });
    expect(r.reason).toBe(
      'point-in-time restore to time 2026-12-01T00:00:00.000Z: the newest snapshot (revision 100)',
    );
    expect(r.candidates[0].excluded).toBe(
      'a point-in-time restore (to time 2026-12-01T00:00:00.000Z) starts from a snapshot and its log',
    );
    expect(r.kind === 'chosen' && r.log?.untilTime).toBe(Date.parse('2026-12-01T00:00:00Z'));
  });
});
