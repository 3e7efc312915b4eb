/* Tables of restore drills, the pure part (lambda/core/drill.ts, issue 16). */
import {
  DrillResult,
  judgeDrill,
  lastVerifiedRestoreAgeSeconds,
  SnapshotInfo,
  snapshotKey,
  withoutFailedDrills,
} from '../../lambda/core';

const s = (rev: number): SnapshotInfo => ({
  key: snapshotKey('', rev * 1000, rev, 'abc'),
  time: rev * 1000,
  revision: rev,
  clusterId: 'abc',
  sha256: 'a'.repeat(64),
});

describe('judgeDrill', () => {
  it.each<[string, number, string, string | undefined, boolean]>([
    ['at the recorded revision, no recorded digest', 100, 'a', undefined, true],
    ['above it (writes between the revision read and the snapshot)', 103, 'a', undefined, true],
    ['below the recorded revision', 99, 'a', undefined, false],
    ['the recorded digest', 100, 'b', 'b', true],
    ['another digest', 100, 'a', 'b', false],
  ])('%s', (_name, restoredRevision, contentSha256, recorded, ok) => {
    expect(
      judgeDrill({ revision: 100, contentSha256: recorded }, { restoredRevision, contentSha256 }).ok,
    ).toBe(ok);
  });
  it('says why', () => {
    expect(judgeDrill({ revision: 100 }, { restoredRevision: 99, contentSha256: 'a' }).reason).toBe(
      'the restore holds revision 99, below the expected revision 100',
    );
    expect(
      judgeDrill(
        { revision: 100, contentSha256: 'b', source: 'the live cluster' },
        { restoredRevision: 100, contentSha256: 'a' },
      ).reason,
    ).toBe("the restored keyspace's sha256 at revision 100 is a, not b (the live cluster)");
  });
});

describe('lastVerifiedRestoreAgeSeconds and withoutFailedDrills', () => {
  const d = (rev: number, at: number, ok: boolean): DrillResult => ({ key: s(rev).key, at, ok, reason: '' });
  it.each<[string, DrillResult[], number | undefined]>([
    ['no drill', [], undefined],
    ['only failures', [d(1, 5000, false)], undefined],
    [
      'the newest success counts, not a newer failure',
      [d(1, 4000, true), d(2, 9000, false), d(3, 6000, true)],
      4,
    ],
  ])('age: %s', (_name, drills, age) => {
    expect(lastVerifiedRestoreAgeSeconds(drills, 10_000)).toBe(age);
  });
  it('a snapshot whose newest drill failed is never a candidate; one never drilled, or passed later, is', () => {
    const drills = [d(1, 1, false), d(2, 1, false), d(2, 2, true), d(3, 1, true)];
    expect(withoutFailedDrills([s(1), s(2), s(3), s(4)], drills).map((x) => x.revision)).toEqual([2, 3, 4]);
  });
});
