/*
 * The shipper's pure decisions (lambda/core/ship.ts): where an elected shipper starts, how watched events
 * become the log's revisions (and a jump a gap), when the buffer is flushed.
 */
import { chunkKey, ChunkInfo, parseChunkKey } from '../../lambda/core/incremental';
import {
  CHUNK_MAX_BYTES,
  CHUNK_MAX_REVISIONS,
  flushDeadline,
  flushDue,
  flushReason,
  groupRevisions,
  planShipStart,
  WatchedEvent,
} from '../../lambda/core/ship';

const SHA = 'a'.repeat(64);
const T0 = Date.parse('2026-12-01T01:00:00.000Z');
const chunk = (first: number, last: number, clusterId = 'c1'): ChunkInfo =>
  parseChunkKey(chunkKey('', { clusterId, first, last, time: T0 + last, sha256: SHA }))!;
const snap = (revision: number, clusterId = 'c1') => ({
  key: `snapshots/x-r${revision}-${clusterId}.db`,
  revision,
  clusterId,
});

describe('planShipStart', () => {
  test.each([
    ['empty bucket: a snapshot first', [], [], { kind: 'snapshot' }, /no complete snapshot of cluster c1/],
    [
      "only another cluster's snapshot and chunks: a snapshot",
      [snap(100, 'c2')],
      [chunk(101, 200, 'c2')],
      { kind: 'snapshot' },
      /no complete snapshot of cluster c1/,
    ],
    [
      'a snapshot, no chunk: resume at its revision',
      [snap(100)],
      [],
      { kind: 'resume', revision: 100, chunks: 0 },
      /no chunk extends snapshot/,
    ],
    [
      'chunks continue the newest snapshot: resume at their end',
      [snap(50), snap(100)],
      [chunk(60, 110), chunk(111, 150), chunk(151, 151)],
      { kind: 'resume', revision: 151, chunks: 3 },
      /3 chunk\(s\) extend snapshot .* up to revision 151/,
    ],
    [
      'overlapping chunks (a retried upload, a takeover): the furthest end',
      [snap(100)],
      [chunk(101, 120), chunk(101, 130), chunk(125, 140)],
      { kind: 'resume', revision: 140 },
      /up to revision 140/,
    ],
    [
      'a newer snapshot than the log end: resume at the snapshot',
      [snap(100), snap(300)],
      [chunk(101, 250)],
      { kind: 'resume', revision: 300, chunks: 0 },
      /no chunk extends snapshot/,
    ],
    [
      'a hole after the newest snapshot: a snapshot, naming the hole',
      [snap(100)],
      [chunk(101, 120), chunk(131, 150)],
      { kind: 'snapshot', gap: { from: 121, to: 130 } },
      /has a hole: revisions 121\.\.130 are missing/,
    ],
    [
      'chunks that start after the snapshot revision + 1: a hole',
      [snap(100)],
      [chunk(105, 150)],
      { kind: 'snapshot', gap: { from: 101, to: 104 } },
      /revisions 101\.\.104 are missing/,
    ],
  ])('%s', (_name, snapshots, chunks, expected, reason) => {
    const start = planShipStart({ clusterId: 'c1', chunks, snapshots });
    expect(start).toMatchObject(expected);
    expect(start.reason).toMatch(reason);
  });
});

const enc = (s: string) => new TextEncoder().encode(s);
const put = (revision: number, k: string): WatchedEvent => ({
  revision,
  kind: 'put',
  key: enc(k),
  value: enc(`v${revision}`),
});
const del = (revision: number, k: string): WatchedEvent => ({ revision, kind: 'delete', key: enc(k) });

describe('groupRevisions', () => {
  test('events grouped by revision (a transaction stays one revision), stamped with the receipt time', () => {
    const g = groupRevisions(10, [put(10, 'a'), put(11, 'b'), del(11, 'a'), put(12, 'c')], T0);
    expect(g.jump).toBeUndefined();
    expect(g.next).toBe(13);
    expect(g.revisions.map((r) => [r.revision, r.time, r.ops.map((o) => o.kind)])).toEqual([
      [10, T0, ['put']],
      [11, T0, ['put', 'delete']],
      [12, T0, ['put']],
    ]);
  });

  test('a put with a lease stays marked as one (the replay gives it a short lease), a plain put does not', () => {
    const g = groupRevisions(10, [{ ...put(10, 'lock'), leased: true }, put(11, 'b')], T0);
    expect(g.revisions.map((r) => r.ops.map((o) => o.kind === 'put' && o.leased === true))).toEqual([
      [true],
      [false],
    ]);
  });

  test('no events: nothing, same next', () => {
    expect(groupRevisions(7, [], T0)).toEqual({ revisions: [], next: 7 });
  });

  test.each([
    ['the first event skips ahead', 10, [put(12, 'a')], { expected: 10, got: 12 }, []],
    ['a revision skipped in the middle', 10, [put(10, 'a'), put(12, 'b')], { expected: 11, got: 12 }, [10]],
    ['an old revision again', 10, [put(9, 'a')], { expected: 10, got: 9 }, []],
  ])('%s: a jump, the revisions before it kept', (_n, next, events, jump, kept) => {
    const g = groupRevisions(next, events, T0);
    expect(g.jump).toEqual(jump);
    expect(g.revisions.map((r) => r.revision)).toEqual(kept);
    expect(g.next).toBe(jump.expected);
  });
});

describe('flushReason', () => {
  const N = 10;
  test.each([
    ['empty buffer', { revisions: 0, bytes: 0 }, T0 + 60_000, undefined],
    [
      'young revisions, still arriving',
      { oldestTime: T0, newestTime: T0 + 8_500, revisions: 5, bytes: 100 },
      T0 + 8_999,
      undefined,
    ],
    [
      'about to be N s old (N - 1 s), still arriving',
      { oldestTime: T0, newestTime: T0 + 8_900, revisions: 5, bytes: 100 },
      T0 + 9_000,
      /9000 ms old/,
    ],
    [
      'past N s',
      { oldestTime: T0, newestTime: T0 + 11_900, revisions: 5, bytes: 100 },
      T0 + 12_000,
      /12000 ms old/,
    ],
    [
      'the writes paused for 999 ms: keep buffering',
      { oldestTime: T0, newestTime: T0 + 2_000, revisions: 5, bytes: 100 },
      T0 + 2_999,
      undefined,
    ],
    [
      'the writes paused for 1 s (a quarter of N, at most 1 s): flushed early',
      { oldestTime: T0, newestTime: T0 + 2_000, revisions: 5, bytes: 100 },
      T0 + 3_000,
      /no revision for 1000 ms \(the writes paused\): flushing the 5 buffered/,
    ],
    [
      'one revision, then quiet',
      { oldestTime: T0, newestTime: T0, revisions: 1, bytes: 10 },
      T0 + 1_000,
      /no revision for 1000 ms/,
    ],
    [
      'the size bound',
      { oldestTime: T0, revisions: 5, bytes: CHUNK_MAX_BYTES },
      T0,
      /bytes buffered \(the bound\)/,
    ],
    [
      'the revision bound',
      { oldestTime: T0, revisions: CHUNK_MAX_REVISIONS, bytes: 1 },
      T0,
      /revisions buffered \(the bound\)/,
    ],
  ])('%s', (_n, buffer, now, want) => {
    const r = flushReason(buffer, now, N);
    if (want === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(want);
  });

  test.each([
    ["writes still arriving: the oldest revision's deadline", { newestTime: T0 + 8_500 }, 10, T0 + 9_000],
    ['a pause after the newest: sooner', { newestTime: T0 + 2_000 }, 10, T0 + 3_000],
    ['N = 2 s, a pause: a quarter of N', { newestTime: T0 + 100 }, 2, T0 + 600],
    ['N = 2 s, still arriving', { newestTime: T0 + 1_400 }, 2, T0 + 1_500],
  ])('flushDue: %s', (_n, b, n, due) => {
    expect(flushDue({ oldestTime: T0, revisions: 3, bytes: 30, ...b }, n)).toBe(due);
  });
  test('flushDue: nothing buffered, nothing due', () => {
    expect(flushDue({ revisions: 0, bytes: 0 }, 10)).toBeUndefined();
  });

  test.each([
    [1, 750],
    [2, 1500],
    [4, 3000],
    [10, 9000],
    [300, 299_000],
  ])(
    'N = %i s: flushed %i ms after the oldest revision (a quarter of N for the upload, at most 1 s)',
    (n, at) => {
      expect(flushDeadline(T0, n) - T0).toBe(at);
    },
  );
});
