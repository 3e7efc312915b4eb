/* Tables of the incremental log's effect on backups (lambda/core/incremental-policy.ts, issue 16). */
import {
  ChunkInfo,
  chunkKey,
  LOG_CURRENT_SLACK_SECONDS,
  parseChunkKey,
  planChunkRetention,
  planPreRemovalSnapshot,
  PreRemovalInput,
  SnapshotInfo,
  snapshotKey,
} from '../../lambda/core';
import { SHA } from './fixtures';

const NOW = Date.parse('2026-12-01T01:00:00.000Z');
const snapOf = (
  clusterId: string,
  revision: number,
  time = NOW - 600_000,
  sha256: string | null = SHA('a'),
): SnapshotInfo => ({
  key: snapshotKey('p/', time, revision, clusterId),
  time,
  revision,
  clusterId,
  sha256: sha256 ?? undefined,
});
const ch = (clusterId: string, first: number, last: number, time = NOW): ChunkInfo =>
  parseChunkKey(chunkKey('p/', { clusterId, first, last, time, sha256: SHA('c') }))!;

describe('planPreRemovalSnapshot', () => {
  const base: PreRemovalInput = {
    incrementalBackupSeconds: 10,
    clusterId: 'abc',
    clusterRevision: 200,
    snapshots: [snapOf('abc', 100)],
    chunks: [ch('abc', 101, 150, NOW - 20_000), ch('abc', 151, 190, NOW - 3_000)],
    now: NOW,
  };
  it.each<[string, Partial<PreRemovalInput>, string]>([
    ['the log 3 s behind (bound 10 s): skip', {}, 'skip 3'],
    [
      `exactly at the bound + ${LOG_CURRENT_SLACK_SECONDS} s slack: skip`,
      { chunks: [ch('abc', 101, 190, NOW - 15_000)] },
      'skip 15',
    ],
    ['one second past the bound + slack: take', { chunks: [ch('abc', 101, 190, NOW - 16_000)] }, 'take 16'],
    [
      "the log holds the cluster's revision, however old its newest chunk: skip",
      { clusterRevision: 190, chunks: [ch('abc', 101, 190, NOW - 3_600_000)] },
      'skip 0',
    ],
    ['no incremental log configured: take', { incrementalBackupSeconds: undefined }, 'take'],
    ['no member answered (revision unknown): take', { clusterRevision: undefined }, 'take'],
    [
      'no complete snapshot of this cluster (another cluster, or no sidecar): take',
      { snapshots: [snapOf('def', 100), snapOf('abc', 120, NOW, null)] },
      'take',
    ],
    [
      'a hole between the snapshot and the newest chunk: take',
      { chunks: [ch('abc', 101, 140, NOW - 20_000), ch('abc', 151, 190, NOW - 3_000)] },
      'take',
    ],
    ['no chunk after the snapshot, the cluster newer: take', { chunks: [] }, 'take'],
    ["only another cluster's chunks: take", { chunks: [ch('def', 101, 199, NOW)] }, 'take'],
    ['the snapshot itself at the cluster revision: skip', { clusterRevision: 100, chunks: [] }, 'skip 0'],
  ])('%s', (_name, over, expected) => {
    const d = planPreRemovalSnapshot({ ...base, ...over });
    expect(`${d.kind}${d.lagSeconds !== undefined ? ` ${d.lagSeconds}` : ''}`).toBe(expected);
  });
  it('says why', () => {
    expect(planPreRemovalSnapshot(base).reason).toBe(
      'the incremental log is current: 3 s behind (at most 10 s + 5 s), continuous from the newest snapshot (revision 100) to revision 190',
    );
    expect(
      planPreRemovalSnapshot({ ...base, chunks: [ch('abc', 101, 140), ch('abc', 151, 190)] }).reason,
    ).toBe(
      'the log does not extend the newest snapshot (revision 100) without a hole: revisions 141..150 are missing from the log: the restore stops at revision 140',
    );
  });
});

describe('planChunkRetention', () => {
  it.each<[string, SnapshotInfo[], ChunkInfo[], string[]]>([
    [
      'chunks at or below the oldest retained snapshot of their cluster go; one that straddles it stays',
      [snapOf('abc', 100), snapOf('abc', 200)],
      [ch('abc', 1, 50), ch('abc', 51, 100), ch('abc', 91, 110), ch('abc', 101, 300)],
      ['abc 1-50', 'abc 51-100'],
    ],
    [
      'chunks of a cluster without a retained snapshot go (its snapshots expired)',
      [snapOf('abc', 100)],
      [ch('def', 1, 500), ch('abc', 101, 200)],
      ['def 1-500'],
    ],
    [
      'a snapshot without its sha256 is not retained for this purpose',
      [snapOf('abc', 10, NOW, null)],
      [ch('abc', 11, 20)],
      ['abc 11-20'],
    ],
    [
      'between two retained snapshots chunks stay (a point-in-time restore may need them)',
      [snapOf('abc', 100), snapOf('abc', 300)],
      [ch('abc', 101, 200), ch('abc', 201, 300)],
      [],
    ],
    ['no chunk: nothing', [snapOf('abc', 100)], [], []],
  ])('%s', (_name, snapshots, chunks, expected) => {
    expect(
      planChunkRetention(chunks, snapshots).delete.map((c) => `${c.clusterId} ${c.first}-${c.last}`),
    ).toEqual(expected);
  });
});
