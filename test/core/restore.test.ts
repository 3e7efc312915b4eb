/* Table tests of the pure backup / restore decisions (lambda/core/restore.ts). */
import {
  buildRestoreRecord,
  chooseSeed,
  chooseSnapshot,
  classifyQuorum,
  dataLossBound,
  newestSnapshotAgeSeconds,
  parseRestoreRecordKey,
  parseSnapshotKey,
  planRestoreRole,
  planRestoreTrigger,
  QuorumVerdict,
  RESTORE_SETTLE_SECONDS,
  RestorePolicy,
  restoreCandidates,
  restoreRecordKey,
  SnapshotInfo,
  snapshotKey,
} from '../../lambda/core';
import { cluster, D, inst, PEER_PORT, SHA, snap, V } from './fixtures';

describe('snapshot keys', () => {
  it('round-trip time, revision and cluster id, and sort by time', () => {
    const t = Date.UTC(2026, 10, 21, 20, 15, 0, 123);
    const key = snapshotKey('c1/', t, 1234, 'b3b4532f9b949b87');
    expect(key).toBe('c1/snapshots/20261121T201500123Z-r00000000000000001234-b3b4532f9b949b87.db');
    expect(parseSnapshotKey(key)).toEqual({ key, time: t, revision: 1234, clusterId: 'b3b4532f9b949b87' });
    const keys = [t + 1000, t, t + 86_400_000, t - 1].map((x) => snapshotKey('', x, 5, 'a'));
    expect([...keys].sort()).toEqual([keys[3], keys[1], keys[0], keys[2]]);
  });
  it.each([
    ['c1/snapshots/x.db'],
    ['c1/snapshots/20261121T201500123Z-r12-abc.db'],
    ['restores/g0000000001.json'],
  ])('rejects %s', (key) => expect(parseSnapshotKey(key)).toBeUndefined());
  it('refuses a bad revision or cluster id', () => {
    expect(() => snapshotKey('', 0, -1, 'a')).toThrow(/revision/);
    expect(() => snapshotKey('', 0, 1, 'XYZ')).toThrow(/cluster id/);
  });
  it('restore record keys sort by generation', () => {
    expect(restoreRecordKey('p/', 42)).toBe('p/restores/g0000000042.json');
    expect(parseRestoreRecordKey('p/restores/g0000000042.json')).toBe(42);
    expect(parseRestoreRecordKey('p/restores/x.json')).toBeUndefined();
  });
});

describe('candidates and choice', () => {
  const a = snap(1000, 10, SHA('a'));
  const b = snap(2000, 20, SHA('b'));
  const c = snap(3000, 30, SHA('c'));
  const partial = snap(4000, 40); // no sha256: an interrupted backup
  const badSha = snap(5000, 50, 'nothex');
  it.each([
    ['newest first', [a, c, b], {}, c],
    ['never one without a sha256', [a, partial], {}, a],
    ['never one with a malformed sha256', [a, badSha], {}, a],
    ['the previous one when the newest was refused', [a, b, c], { [c.key]: 'corrupt' }, b],
    ['none when every one was refused', [a], { [a.key]: 'corrupt' }, undefined],
    ['none without snapshots', [], {}, undefined],
  ] as Array<[string, SnapshotInfo[], Record<string, string>, SnapshotInfo | undefined]>)(
    '%s',
    (_name, list, refused, expected) => expect(chooseSnapshot(list, refused)).toEqual(expected),
  );
  it('same time: the higher revision first', () => {
    const x = snap(1000, 11, SHA('d'));
    expect(restoreCandidates([a, x])[0]).toBe(x);
  });
  it('newest snapshot age counts only complete snapshots', () => {
    expect(newestSnapshotAgeSeconds([a, b, partial], 12_000)).toBe(10);
    expect(newestSnapshotAgeSeconds([partial], 12_000)).toBeUndefined();
  });
});

// FAILURE-SCENARIOS 14: the verdict counts a voter as able to come back only through its own live instance.
describe('classifyQuorum', () => {
  const base = { peerPort: PEER_PORT, scheme: 'http' as const, desiredCapacity: 3 };
  const live3 = [inst('10.0.0.1'), inst('10.0.0.2'), inst('10.0.0.3')];
  it.each<
    [string, ReturnType<typeof cluster> | null, ReturnType<typeof inst>[], number, QuorumVerdict['kind']]
  >([
    [
      '3 healthy voters',
      cluster(V('1', '10.0.0.1'), V('2', '10.0.0.2'), V('3', '10.0.0.3')),
      live3,
      3,
      'quorum',
    ],
    ['1 of 3 dead', cluster(V('1', '10.0.0.1'), V('2', '10.0.0.2'), D('3', '10.0.0.3')), live3, 3, 'quorum'],
    [
      '2 of 3 dead, their instances still running (reboot, frozen): may come back',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      live3,
      3,
      'degraded',
    ],
    [
      '2 of 3 dead, their instances gone (replaced at other addresses)',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [inst('10.0.0.1'), inst('10.0.0.4', 'Pending:Wait'), inst('10.0.0.5', 'Pending:Wait')],
      3,
      'lost',
    ],
    [
      '2 of 3 dead, one instance retained (terminating, out of the group)',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [inst('10.0.0.1'), inst('10.0.0.2', 'Terminating:Retained'), inst('10.0.0.3', 'Terminating:Wait')],
      3,
      'lost',
    ],
    [
      '2 of 3 dead, both instances retained, one survivor: retained never come back as those members',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [
        inst('10.0.0.1'),
        inst('10.0.0.2', 'Terminating:Retained'),
        inst('10.0.0.3', 'Terminating:Retained'),
        inst('10.0.0.4', 'Pending:Wait'),
      ],
      3,
      'lost',
    ],
    [
      '2 of 3 dead, replacements got their addresses (new instances, empty volumes): lost',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [inst('10.0.0.1'), inst('10.0.0.2', 'Pending:Wait', 'i-new2'), inst('10.0.0.3', 'InService', 'i-new3')],
      3,
      'lost',
    ],
    [
      '2 of 3 dead, one rebooting (same instance), the other retained: 2 may come back = quorum',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [inst('10.0.0.1'), inst('10.0.0.2', 'InService'), inst('10.0.0.3', 'Terminating:Retained')],
      3,
      'degraded',
    ],
    [
      '2 of 3 dead, one of them on a standby instance (kept with its volume)',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), D('3', '10.0.0.3')),
      [inst('10.0.0.1'), inst('10.0.0.2', 'Standby'), inst('10.0.0.3', 'Terminated')],
      3,
      'degraded',
    ],
    [
      'an unstarted voter (no name): its address on a live instance may still start it',
      cluster(V('1', '10.0.0.1'), D('2', '10.0.0.2'), { id: '3', ip: '10.0.0.3', kind: 'u' }),
      [inst('10.0.0.1'), inst('10.0.0.3', 'Pending:Wait', 'i-whatever')],
      3,
      'degraded',
    ],
    [
      '3 of 5 dead, one of them still on a live instance: 3 recoverable = quorum',
      cluster(
        V('1', '10.0.0.1'),
        V('2', '10.0.0.2'),
        D('3', '10.0.0.3'),
        D('4', '10.0.0.4'),
        D('5', '10.0.0.5'),
      ),
      [inst('10.0.0.1'), inst('10.0.0.2'), inst('10.0.0.3')],
      5,
      'degraded',
    ],
    ['nothing answers, live instances', null, [inst('10.0.0.7', 'Pending:Wait')], 3, 'lost'],
    ['nothing answers, no live instance yet', null, [], 3, 'degraded'],
    ['nothing answers, group scaled to 0', null, [inst('10.0.0.7')], 0, 'degraded'],
  ])('%s', (_name, c, instances, desiredCapacity, kind) => {
    const v = classifyQuorum({
      ...base,
      desiredCapacity,
      members: c ? c.members : null,
      health: c ? c.health : {},
      instances,
    });
    expect(v.kind).toBe(kind);
  });
});

describe('planRestoreTrigger', () => {
  const lost: QuorumVerdict = { kind: 'lost', reason: 'quorum lost for good' };
  const degraded: QuorumVerdict = { kind: 'degraded', reason: 'may come back' };
  const quorumV: QuorumVerdict = { kind: 'quorum', reason: 'fine' };
  const now = 1_000_000;
  const t = (
    policy: RestorePolicy,
    manual: boolean,
    verdict: QuorumVerdict,
    lostSince?: number,
    lastRestoreAt?: number,
  ) => planRestoreTrigger({ policy, manual, verdict, lostSince, now, boundSeconds: 30, lastRestoreAt }).kind;
  it.each<[string, ReturnType<typeof t>, 'restore' | 'none']>([
    [
      'manual policy, lost for long, no trigger',
      t(RestorePolicy.MANUAL, false, lost, now - 3_600_000),
      'none',
    ],
    ['manual policy, triggered, lost', t(RestorePolicy.MANUAL, true, lost, now), 'restore'],
    ['manual trigger refused with a quorum', t(RestorePolicy.MANUAL, true, quorumV), 'none'],
    ['manual trigger refused while voters may come back', t(RestorePolicy.MANUAL, true, degraded), 'none'],
    ['automatic, lost just now', t(RestorePolicy.AUTOMATIC, false, lost, now), 'none'],
    ['automatic, lost 29 s', t(RestorePolicy.AUTOMATIC, false, lost, now - 29_000), 'none'],
    ['automatic, lost 30 s', t(RestorePolicy.AUTOMATIC, false, lost, now - 30_000), 'restore'],
    ['automatic, degraded for long', t(RestorePolicy.AUTOMATIC, false, degraded, now - 3_600_000), 'none'],
    [
      'automatic, a restore started recently',
      t(RestorePolicy.AUTOMATIC, false, lost, now - 3_600_000, now - (RESTORE_SETTLE_SECONDS - 1) * 1000),
      'none',
    ],
    [
      'manual trigger while a restore is coming up',
      t(RestorePolicy.MANUAL, true, lost, now, now - 1000),
      'none',
    ],
    [
      'automatic, the last restore long ago',
      t(RestorePolicy.AUTOMATIC, false, lost, now - 60_000, now - 3_600_000),
      'restore',
    ],
  ])('%s', (_name, got, expected) => expect(got).toBe(expected));
  it('says how to recover under the manual policy', () => {
    const r = planRestoreTrigger({
      policy: RestorePolicy.MANUAL,
      manual: false,
      verdict: lost,
      now,
      boundSeconds: 30,
    });
    expect(r.reason).toMatch(/restore policy is manual: invoke the restore trigger/);
  });
});

describe('restore record and roles', () => {
  const snaps = [snap(1000, 10, SHA('a')), snap(2000, 20, SHA('b')), snap(3000, 30)];
  it('the seed is the lowest live instance id with an address', () => {
    expect(
      chooseSeed([
        inst('10.0.0.3', 'InService', 'i-0c'),
        inst(undefined, 'Pending', 'i-0a'),
        inst('10.0.0.2', 'Terminating:Retained', 'i-0b'),
        inst('10.0.0.4', 'Pending:Wait', 'i-0d'),
      ])?.instanceId,
    ).toBe('i-0c');
    expect(chooseSeed([inst('10.0.0.2', 'Terminating:Wait')])).toBeUndefined();
  });
  it('the record is the next generation, with complete candidates newest first and a fresh token', () => {
    const r = buildRestoreRecord(4, inst('10.0.0.1', 'InService', 'i-01'), snaps, 99_000, 'why');
    expect(r.generation).toBe(5);
    expect(r.seedInstanceId).toBe('i-01');
    expect(r.snapshots.map((s) => s.revision)).toEqual([20, 10]);
    expect(r.clusterToken).toMatch(/^cdk-elastic-etcd-restore-5-/);
  });
  const record = buildRestoreRecord(2, inst('10.0.0.1', 'InService', 'i-seed'), snaps, 1, 'x');
  const fromSurvivor = buildRestoreRecord(2, inst('10.0.0.1', 'InService', 'i-seed'), snaps, 1, 'x', {
    kind: 'survivor',
    instanceId: 'i-seed',
    memberId: 'abc',
    revision: 42,
  });
  it('the record names its source', () => {
    expect(fromSurvivor.source).toEqual({
      kind: 'survivor',
      instanceId: 'i-seed',
      memberId: 'abc',
      revision: 42,
    });
    expect(record.source).toBeUndefined();
  });
  it.each<[string, string, Parameters<typeof planRestoreRole>[0]]>([
    ['no record', 'none', { instanceId: 'i-x', localGeneration: 0, hasData: true }],
    ['the seed', 'seed', { record, instanceId: 'i-seed', localGeneration: 0, hasData: true }],
    [
      'the seed of a survivor record, with its data: force-new-cluster',
      'seed-survivor',
      { record: fromSurvivor, instanceId: 'i-seed', localGeneration: 0, hasData: true },
    ],
    [
      'the seed of a survivor record after it acted (restart): never forced again',
      'none',
      { record: fromSurvivor, instanceId: 'i-seed', localGeneration: 3, hasData: true },
    ],
    [
      'the seed of a survivor record whose data is gone: the snapshot instead',
      'seed',
      { record: fromSurvivor, instanceId: 'i-seed', localGeneration: 0, hasData: false },
    ],
    [
      'another instance under a survivor record: wipes its old data',
      'wipe-and-join',
      { record: fromSurvivor, instanceId: 'i-x', localGeneration: 0, hasData: true },
    ],
    [
      'the seed after its restore (reboot)',
      'none',
      { record, instanceId: 'i-seed', localGeneration: 3, hasData: true },
    ],
    ['old data elsewhere', 'wipe-and-join', { record, instanceId: 'i-x', localGeneration: 2, hasData: true }],
    ['empty data dir elsewhere', 'join', { record, instanceId: 'i-x', localGeneration: 0, hasData: false }],
    [
      'a member of the restored cluster rebooting',
      'none',
      { record, instanceId: 'i-x', localGeneration: 3, hasData: true },
    ],
  ])('%s → %s', (_name, kind, input) => expect(planRestoreRole(input).kind).toBe(kind));
  it('states the data-loss bound', () => {
    expect(dataLossBound(snaps[1], 27, 12_000)).toEqual({
      restoredUpToRevision: 20,
      maxLostRevisions: 7,
      maxLostSeconds: 10,
    });
  });
});
