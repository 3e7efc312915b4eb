/* Table tests of what seeds a restored cluster: a survivor's data or a snapshot (lambda/core/restore-source.ts). */
import { chooseRestoreSource, SnapshotInfo } from '../../lambda/core';
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
