/* The incremental backup log's pure part (lambda/core/incremental.ts): keys, the body format, the replay plan. */
import {
  ChunkFormatError,
  ChunkInfo,
  ChunkRevision,
  chunkKey,
  decodeChunk,
  encodeChunk,
  logLagSeconds,
  LogRetention,
  planLogCompaction,
  parseChunkKey,
  planReplay,
  replayUntil,
} from '../../lambda/core';

const CID = 'a1b2c3';
const T0 = Date.parse('2026-12-01T01:00:00.000Z');
const H = (n: number) => n.toString(16).padStart(64, '0');
/** A chunk first..last of cluster `cid`, its newest revision received at T0 + last seconds. */
const ch = (first: number, last: number, cid = CID): ChunkInfo => {
  const c = { clusterId: cid, first, last, time: T0 + last * 1000, sha256: H(first * 1000 + last) };
  return { key: chunkKey('p/', c), ...c };
};
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('chunk keys', () => {
  test('round trip, sortable by first revision, prefix and cluster in the path', () => {
    const c = ch(101, 140);
    expect(c.key).toBe(
      `p/incremental/${CID}/r00000000000000000101-r00000000000000000140-20261201T010220000Z-${H(101140)}.jsonl`,
    );
    expect(parseChunkKey(c.key)).toEqual(c);
    expect(ch(9, 9).key < ch(10, 12).key).toBe(true);
  });

  test.each([
    ['not a chunk', 'p/snapshots/20261201T010000000Z-r00000000000000000001-a1.db'],
    [
      'last before first',
      `p/incremental/${CID}/r00000000000000000009-r00000000000000000008-20261201T010220000Z-${H(1)}.jsonl`,
    ],
    [
      'short sha256',
      `p/incremental/${CID}/r00000000000000000001-r00000000000000000008-20261201T010220000Z-abc.jsonl`,
    ],
    [
      'revision 0',
      `p/incremental/${CID}/r00000000000000000000-r00000000000000000008-20261201T010220000Z-${H(1)}.jsonl`,
    ],
  ])('%s is not a chunk key', (_, key) => {
    expect(parseChunkKey(key)).toBeUndefined();
  });

  test.each([
    [{ first: 0, last: 3 }, /bad first revision 0/],
    [{ first: 5, last: 3 }, /last revision 3 < first 5/],
    [{ first: 1.5, last: 3 }, /bad first revision/],
  ])('chunkKey refuses %j', (r, msg) => {
    expect(() => chunkKey('', { clusterId: CID, time: T0, sha256: H(1), ...r })).toThrow(msg);
  });
});

describe('chunk bodies', () => {
  const revs: ChunkRevision[] = [
    { revision: 7, time: T0, ops: [{ kind: 'put', key: enc('a'), value: enc('1') }] },
    {
      revision: 8,
      time: T0 + 5,
      ops: [
        { kind: 'delete', key: enc('a') },
        { kind: 'put', key: new Uint8Array([0, 255, 10]), value: new Uint8Array([]) },
      ],
    },
  ];

  test('encode then decode gives the same revisions, bytes included (binary keys, empty values)', () => {
    const body = encodeChunk(CID, revs);
    expect(body.split('\n')[0]).toBe(JSON.stringify({ v: 1, clusterId: CID, first: 7, last: 8 }));
    const { header, revisions } = decodeChunk(body, { ...ch(7, 8) });
    expect(header).toEqual({ v: 1, clusterId: CID, first: 7, last: 8 });
    expect(revisions.map((r) => [r.revision, r.time, r.ops.length])).toEqual([
      [7, T0, 1],
      [8, T0 + 5, 2],
    ]);
    const [put] = revisions[0].ops;
    expect(put.kind === 'put' && [dec(put.key), dec(put.value)]).toEqual(['a', '1']);
    const [del, bin] = revisions[1].ops;
    expect(del).toEqual({ kind: 'delete', key: enc('a') });
    expect(bin.kind === 'put' && [Array.from(bin.key), bin.value.length]).toEqual([[0, 255, 10], 0]);
  });

  test.each([
    ['no revision', []],
    ['a hole', [revs[0], { ...revs[1], revision: 9 }]],
    ['an empty revision', [{ ...revs[0], ops: [] }]],
  ])('encode refuses %s', (_, r) => {
    expect(() => encodeChunk(CID, r as ChunkRevision[])).toThrow();
  });

  const good = encodeChunk(CID, revs);
  const lines = good.trim().split('\n');
  test.each([
    ['a cut-off body', lines.slice(0, 2).join('\n'), ch(7, 8), /revisions end at 7, the header says 8/],
    ['garbage', 'xx\n' + lines.slice(1).join('\n'), ch(7, 8), /line 1/],
    ['another cluster', good, ch(7, 8, 'ff'), /header clusterId a1b2c3 does not match the key's ff/],
    ['other revisions than the key', good, ch(7, 9), /header last 8 does not match the key's 9/],
    [
      'a revision out of order',
      [lines[0], lines[2], lines[1]].join('\n'),
      ch(7, 8),
      /revision 8, expected 7/,
    ],
    ['an unknown format', good.replace('"v":1', '"v":2'), ch(7, 8), /unknown chunk format 2/],
    ['an unknown op', good.replace('{"d":', '{"x":'), ch(7, 8), /unknown op/],
  ])('decode refuses %s with a ChunkFormatError naming it', (_, body, info, msg) => {
    expect(() => decodeChunk(body, info)).toThrow(ChunkFormatError);
    expect(() => decodeChunk(body, info)).toThrow(msg);
  });
});

describe('planReplay', () => {
  const keys = (p: { chunks: readonly ChunkInfo[] }) => p.chunks.map((c) => `${c.first}-${c.last}`);
  test.each<
    [string, number, ChunkInfo[], { until?: number; untilTime?: number }, string[], number, RegExp, unknown]
  >([
    ['no chunk', 100, [], {}, [], 100, /no chunk extends the snapshot's revision 100/, undefined],
    [
      'a continuous log',
      100,
      [ch(101, 110), ch(111, 120), ch(121, 121)],
      {},
      ['101-110', '111-120', '121-121'],
      121,
      /log ends at revision 121/,
      undefined,
    ],
    [
      'chunks partly inside the snapshot',
      105,
      [ch(90, 100), ch(101, 110), ch(111, 120)],
      {},
      ['101-110', '111-120'],
      120,
      /log ends at revision 120/,
      undefined,
    ],
    [
      'listing order does not matter',
      100,
      [ch(111, 120), ch(101, 110)],
      {},
      ['101-110', '111-120'],
      120,
      /log ends at revision 120/,
      undefined,
    ],
    [
      'a hole stops it and names the missing revisions',
      100,
      [ch(101, 110), ch(116, 120)],
      {},
      ['101-110'],
      110,
      /revisions 111\.\.115 are missing .* stops at revision 110/,
      { from: 111, to: 115 },
    ],
    [
      'a hole right after the snapshot',
      100,
      [ch(105, 120)],
      {},
      [],
      100,
      /revisions 101\.\.104 are missing/,
      { from: 101, to: 104 },
    ],
    [
      'overlapping chunks: the one that reaches further',
      100,
      [ch(101, 110), ch(101, 115), ch(108, 125), ch(116, 120)],
      {},
      ['101-115', '108-125'],
      125,
      /log ends at revision 125/,
      undefined,
    ],
    [
      "another cluster's chunks are ignored",
      100,
      [ch(101, 110), ch(111, 200, 'ff')],
      {},
      ['101-110'],
      110,
      /log ends at revision 110/,
      undefined,
    ],
    [
      'up to a requested revision inside a chunk',
      100,
      [ch(101, 110), ch(111, 120), ch(121, 130)],
      { until: 115 },
      ['101-110', '111-120'],
      115,
      /requested revision 115/,
      undefined,
    ],
    [
      'a requested revision the snapshot holds',
      100,
      [ch(101, 110)],
      { until: 90 },
      [],
      100,
      /requested revision 90/,
      undefined,
    ],
    [
      'up to a requested time: chunks until the one it falls in',
      100,
      [ch(101, 110), ch(111, 120), ch(121, 130)],
      { untilTime: T0 + 115_000 },
      ['101-110', '111-120'],
      120,
      /requested time/,
      undefined,
    ],
  ])('%s', (_, snapRev, chunks, opts, want, target, reason, gap) => {
    const p = planReplay({
      snapshotRevision: snapRev,
      clusterId: CID,
      chunks,
      untilRevision: opts.until,
      untilTime: opts.untilTime,
    });
    expect(keys(p)).toEqual(want);
    expect(p.targetRevision).toBe(target);
    expect(p.reason).toMatch(reason);
    expect(p.gap).toEqual(gap);
  });
});

describe('replayUntil', () => {
  const r = (revision: number, time = T0 + revision): ChunkRevision => ({
    revision,
    time,
    ops: [{ kind: 'delete', key: enc(String(revision)) }],
  });
  const revs = [r(5), r(6), r(7), r(8)];
  test.each([
    ['all above the store', 4, {}, [5, 6, 7, 8], false],
    ['the ones the store holds skipped', 6, {}, [7, 8], false],
    ['cut at a revision', 4, { untilRevision: 6 }, [5, 6], true],
    ['cut at a time', 4, { untilTime: T0 + 7 }, [5, 6, 7], true],
    ['nothing left', 8, {}, [], false],
  ])('%s', (_, after, limits, want, limited) => {
    const out = replayUntil(revs, after, limits);
    expect(out.revisions.map((x) => x.revision)).toEqual(want);
    expect(out.limited).toBe(limited);
  });
});

describe('logLagSeconds', () => {
  test.each([
    ['no chunk of this cluster', [ch(1, 10, 'ff')], 10, T0, undefined],
    ['holds the current revision', [ch(1, 10)], 10, T0 + 60_000, 0],
    ['behind: seconds since its newest revision', [ch(1, 10), ch(11, 20)], 25, T0 + 32_000, 12],
  ])('%s', (_, chunks, rev, now, want) => {
    expect(logLagSeconds(chunks, CID, rev, now)).toBe(want);
  });
});

describe('planLogCompaction', () => {
  // Chunks of CID: 1-10 received at T0+10 s, 11-20 at T0+20 s, 21-30 at T0+30 s (ch's times).
  const log = [ch(1, 10), ch(11, 20), ch(21, 30)];
  const at = (s: number) => T0 + s * 1000;
  const P = (seconds: number): LogRetention => ({ kind: 'periodic', seconds });
  const R = (count: number): LogRetention => ({ kind: 'revisions', count });
  test.each<[string, LogRetention, ChunkInfo[], number, number, unknown, RegExp]>([
    [
      'periodic: the newest chunk at least the retention old',
      P(15),
      log,
      30,
      at(36),
      { kind: 'compact', revision: 20, pastLog: false },
      /keep 15 s of revisions: compact to 20/,
    ],
    [
      'periodic: nothing old enough',
      P(60),
      log,
      30,
      at(36),
      { kind: 'none' },
      /no shipped revision is older than the retention \(60 s\)/,
    ],
    [
      'periodic: never past the log, even when the cluster is far ahead',
      P(5),
      log,
      500,
      at(36),
      { kind: 'compact', revision: 30, pastLog: false },
      /compact to 30/,
    ],
    [
      'periodic: a broken log holds compaction at its end and says so',
      P(5),
      log,
      500,
      at(400),
      { kind: 'compact', revision: 30, pastLog: false },
      /370 s behind \(more than 60 s, at revision 30\)/,
    ],
    [
      "periodic: another cluster's chunks do not count",
      P(5),
      [ch(1, 100, 'ff')],
      100,
      at(400),
      { kind: 'none' },
      /has shipped nothing for this cluster/,
    ],
    [
      'revisions: capped at the newest shipped',
      R(5),
      log,
      40,
      at(31),
      { kind: 'compact', revision: 30, pastLog: false },
      /not past the log's newest shipped revision 30/,
    ],
    [
      'revisions: the retention below the log',
      R(15),
      log,
      30,
      at(31),
      { kind: 'compact', revision: 15, pastLog: false },
      /keep the last 15 revisions \(the log has shipped up to 30\)/,
    ],
    ['revisions: a young cluster', R(100), log, 30, at(31), { kind: 'none' }, /fewer than 100 revisions/],
    [
      'revisions: nothing shipped yet, not broken',
      R(5),
      [],
      40,
      at(31),
      { kind: 'compact', revision: 35, pastLog: true },
      /shipped nothing for this cluster: compaction does not wait/,
    ],
    [
      'revisions: a log broken for longer than allowed no longer holds it back',
      R(5),
      log,
      400,
      at(200),
      { kind: 'compact', revision: 395, pastLog: true },
      /170 s behind \(more than 60 s, at revision 30\)/,
    ],
    [
      'revisions: a log behind but within the allowed lag still holds it',
      R(5),
      log,
      400,
      at(80),
      { kind: 'compact', revision: 30, pastLog: false },
      /not past the log's newest shipped revision 30/,
    ],
  ])('%s', (_, retention, chunks, current, now, want, reason) => {
    const p = planLogCompaction({
      retention,
      chunks,
      clusterId: CID,
      currentRevision: current,
      now,
      maxLagSeconds: 60,
    });
    expect(p).toMatchObject(want as object);
    expect(p.reason).toMatch(reason);
  });
});
