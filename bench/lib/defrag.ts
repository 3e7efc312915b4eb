/*
 * The `defrag` figure (issue 14): the longest write gap of a steady writer (the harness's Writer: one put
 * every 20 ms, round robin over the voters, an endpoint that failed skipped for 3 s; two deadlines, see
 * DEADLINES_MS) while every member of a 3-member fleet holding `mb` MB of data is defragmented one at a
 * time, followers first:
 *   inPlace   the leader last, defragmented while it leads
 *   moved     the leader last, after MoveLeader to the most caught-up follower (the Lambda's order)
 * against a baseline in the same fleet and process: the same writer for as long, no defragmentation.
 * The defragmentations are driven directly with the Lambda's adapter (lambda/adapters/etcd-maintenance.ts),
 * in the order the plan (lambda/core/maintenance.ts) gives; the fleet's own maintenance events are off.
 */
import { EtcdAdapter } from '../../lambda/adapters/etcd';
import { EtcdMaintenance } from '../../lambda/adapters/etcd-maintenance';
import type { Member } from '../../lambda/core/types';
import { fill, Writer } from '../../test/fleet/harness';
import { compare, Comparison } from './compare';
import { down, newFleet } from './fleet';
import { log, median, r2, sleep } from './util';

type Mode = 'baseline' | 'inPlace' | 'moved';

/** The figures of one writer deadline. */
export interface GapFigure {
  /** The writer's deadline of one put (ms). */
  deadlineMs: number;
  /** Longest write gap while defragmenting, leader in place, vs the baseline's (seconds). */
  inPlace: Comparison;
  /** ...with the leadership moved first. */
  moved: Comparison;
  /** moved / inPlace (medians). */
  movedVsInPlace: number | null;
}

/**
 * Two writers: the harness's default (1.5 s deadline: a put sent to the member being defragmented waits for
 * it, so the writer stalls whichever member that is) and one that fails over fast (250 ms deadline, then
 * another endpoint: only a defragmenting leader stalls it, since every write needs the leader).
 */
const DEADLINES_MS = [1500, 250];

export interface DefragFigure {
  /** One figure per writer deadline (DEADLINES_MS). */
  byDeadline: GapFigure[];
  /** Median seconds of one member's defragmentation, and of the leadership move. */
  defragSecondsP50: number | null;
  moveLeaderSecondsP50: number | null;
  /** The fill, and each member's dbSize before the first defragmentation (MB). */
  dataMB: number;
  dbSizeMB: number[];
  definition: string;
}

/** The longest interval without an acknowledged write in [from, to] (seconds). */
function longestGap(ackTimes: readonly number[], from: number, to: number): number {
  const t = [from, ...ackTimes.filter((x) => x > from && x < to), to];
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  return gap / 1000;
}

export async function benchDefrag(mb: number, reps: number): Promise<DefragFigure> {
  const f = newFleet('defrag');
  const etcd = new EtcdAdapter({ callTimeoutMs: 3000 });
  const maint = new EtcdMaintenance(etcd, { callTimeoutMs: 3000, defragTimeoutMs: 120_000 });
  const gaps = DEADLINES_MS.map((): Record<Mode, number[]> => ({ baseline: [], inPlace: [], moved: [] }));
  const defragSeconds: number[] = [];
  const moveSeconds: number[] = [];
  try {
    // No maintenance events: the bench drives every defragmentation itself.
    const s = await f.up('--size', '3', '--maintenance-interval', '0');
    log(`defrag: filling ${mb} MB`);
    await fill(s.endpoints, mb, { prefix: 'defrag' });
    const members = async (): Promise<{ list: Member[]; leader: string }> => {
      const listed = await etcd.memberList(s.endpoints, { withLeader: true });
      if (!listed?.leaderId) throw new Error('defrag bench: no leader');
      return { list: listed.members, leader: listed.leaderId };
    };
    const sizes = await maint.statusOf((await members()).list);
    const dbSizeMB = Object.values(sizes).map((x) => Math.round((x?.dbSize ?? 0) / 1e6));
    const defragment = async (m: Member) => {
      const t0 = Date.now();
      await maint.defragment(m);
      defragSeconds.push((Date.now() - t0) / 1000);
    };
    const round = async (mode: Exclude<Mode, 'baseline'>) => {
      const { list, leader } = await members();
      for (const m of list.filter((x) => x.id !== leader)) await defragment(m);
      const old = list.find((x) => x.id === leader)!;
      if (mode === 'moved') {
        const status = await maint.statusOf(list);
        const to = list
          .filter((x) => x.id !== leader)
          .sort((a, b) => (status[b.id]?.raftIndex ?? 0) - (status[a.id]?.raftIndex ?? 0))[0];
        const t0 = Date.now();
        await maint.moveLeader(old, to.id);
        moveSeconds.push((Date.now() - t0) / 1000);
      }
      await defragment(old);
    };
    let baselineMs = 10_000;
    for (let rep = 0; rep < reps; rep++) {
      for (const [d, deadlineMs] of DEADLINES_MS.entries())
        for (const mode of ['inPlace', 'moved', 'baseline'] as const) {
          const writer = new Writer(f, `defrag-writer-${rep}-${deadlineMs}-${mode}`, {
            maxWrites: 100_000,
            deadlineMs,
          });
          writer.start();
          await sleep(2000); // the writer's status poller and clients are up
          const from = Date.now();
          if (mode === 'baseline') await sleep(baselineMs);
          else await round(mode);
          const to = Date.now();
          if (mode !== 'baseline') baselineMs = Math.max(baselineMs, to - from);
          await sleep(500);
          await writer.stop();
          gaps[d][mode].push(longestGap(writer.ackTimes, from, to));
          log(
            `defrag rep ${rep + 1}/${reps} deadline ${deadlineMs} ms ${mode}: longest write gap ${r2(gaps[d][mode].at(-1)!)} s`,
          );
        }
    }
    return {
      byDeadline: DEADLINES_MS.map((deadlineMs, d) => {
        const inPlace = compare(gaps[d].inPlace, gaps[d].baseline);
        const moved = compare(gaps[d].moved, gaps[d].baseline);
        return {
          deadlineMs,
          inPlace,
          moved,
          movedVsInPlace: moved.seconds && inPlace.seconds ? r2(moved.seconds / inPlace.seconds) : null,
        };
      }),
      defragSecondsP50: r2(median(defragSeconds)),
      moveLeaderSecondsP50: r2(median(moveSeconds)),
      dataMB: mb,
      dbSizeMB,
      definition:
        'longest interval without an acknowledged put of a steady writer (20 ms interval, round robin over the ' +
        'voters, deadline 1.5 s or 250 ms, an endpoint that failed skipped for 3 s) while each member of 3 is defragmented in turn, followers first; baseline: the same writer, ' +
        'no defragmentation, as long as the longest round',
    };
  } finally {
    await down(f);
  }
}
