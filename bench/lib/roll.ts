/*
 * The `roll` figures (issue 15), under the harness's steady writer (one put every 20 ms, one attempt each with
 * a 1.5 s deadline, round robin over the voters, an endpoint that failed skipped for 3 s):
 *   leaderTerminate  the longest write gap while the leader's instance is terminated through the terminate
 *                    hook (`etcd-fleet terminate`, from the call to converged again), with the Lambda's leader
 *                    handoff (`up`) vs without (`up --no-leader-handoff`), alternated; the writer writes to
 *                    the members that stay, so the gap is the cluster's (the election, or the handoff), not a
 *                    client's failover from the member going away
 *   roll3 / roll5    `etcd-fleet roll --etcd <copy of the etcd binary>` of 3, then (after `scale 5`) of 5
 *                    members: the longest write gap from the call to its return, the total time, the steps,
 *                    and the acknowledged writes read back (linearizable) and compared by value
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  outLines,
  outOffset,
  readBack,
  StatusJson,
  TestFleet,
  Writer,
  WriterSource,
} from '../../test/fleet/harness';
import { down, newFleet } from './fleet';
import { log, median, r2, sleep, tempDir } from './util';

/** etcd refuses a removal until the remaining members were connected for 5 s: not part of the figure. */
const SETTLE_MS = 6000;

export interface LeaderTerminateFigure {
  /** Medians (ms) of the longest gap per termination, and every run. */
  withHandoffMs: number | null;
  withoutHandoffMs: number | null;
  /** with / without. */
  ratio: number | null;
  withRuns: number[];
  withoutRuns: number[];
  /** The Lambda's 'leader handoff' decision of each run with the handoff (decision: reason). */
  withDecisions: string[];
}

export interface RollFigure {
  members: number;
  longestGapMs: number;
  totalSeconds: number;
  /** The roll's own steps (seconds each: converged → terminated → replacement signalled → converged). */
  stepSeconds: number[];
  acked: number;
  lost: number;
  failedPuts: number;
}

export interface RollBench {
  leaderTerminate: LeaderTerminateFigure;
  roll3: RollFigure;
  roll5: RollFigure;
  definition: string;
}

/** The longest interval without an acknowledged write in [from, to] (ms). */
export function longestGapMs(ackTimes: readonly number[], from: number, to: number): number {
  const t = [from, ...ackTimes.filter((x) => x > from && x < to), to];
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  return gap;
}

/** A writer's view of the fleet without one instance (it writes only to the members that stay). */
function without(f: TestFleet, id: string): WriterSource {
  return {
    status: async (): Promise<StatusJson> => {
      const s = await f.status();
      const gone = s.instances.find((i) => i.id === id);
      return {
        ...s,
        instances: s.instances.filter((i) => i.id !== id),
        endpoints: s.endpoints.filter((e) => !gone || new URL(e).hostname !== gone.ip),
      };
    },
  };
}

async function terminateLeader(f: TestFleet, tag: string): Promise<{ gapMs: number; decision: string }> {
  const s = await f.status();
  const leader = s.instances.find((i) => i.leader);
  if (!leader) throw new Error('roll bench: no leader');
  const writer = new Writer(without(f, leader.id), `bench-leader-${tag}`, { maxWrites: 100_000 });
  writer.start();
  await sleep(2000); // the writer's poller and clients are up
  const offset = outOffset(f);
  const from = Date.now();
  await f.ok('terminate', leader.id, '--json');
  const to = Date.now();
  await writer.stop();
  if (writer.acked.length < 20)
    throw new Error(`roll bench: only ${writer.acked.length} writes acknowledged`);
  const decision = outLines(f, offset)
    .filter((l) => l.message === 'leader handoff')
    .map((l) => `${String(l.decision)}: ${String(l.reason)}`)
    .join('; ');
  return { gapMs: longestGapMs(writer.ackTimes, from, to), decision: decision || 'no leader handoff line' };
}

async function rollOnce(f: TestFleet, members: number, bin: string): Promise<RollFigure> {
  const writer = new Writer(f, `bench-roll${members}`, { maxWrites: 100_000 });
  writer.start();
  await sleep(2000);
  const from = Date.now();
  const summary = JSON.parse(await f.ok('roll', '--etcd', bin)) as {
    ok: boolean;
    totalSeconds: number;
    replaced: { seconds: number }[];
    status: StatusJson;
  };
  const to = Date.now();
  await sleep(500);
  await writer.stop();
  if (!summary.ok || summary.replaced.length !== members)
    throw new Error(`roll bench: roll of ${members} replaced ${summary.replaced.length}`);
  const back = await readBack(summary.status.endpoints, writer.expected());
  return {
    members,
    longestGapMs: longestGapMs(writer.ackTimes, from, to),
    totalSeconds: r2((to - from) / 1000)!,
    stepSeconds: summary.replaced.map((x) => x.seconds),
    acked: writer.acked.length,
    lost: back.missingCount,
    failedPuts: writer.failures.length,
  };
}

export async function benchRoll(reps: number): Promise<RollBench> {
  const withHandoff = newFleet('roll');
  const noHandoff = newFleet('roll-nohandoff');
  const bin = tempDir('roll-etcd');
  const original = execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim();
  const next = path.join(bin, 'etcd-next');
  fs.copyFileSync(original, next);
  fs.chmodSync(next, 0o755);
  try {
    await withHandoff.up('--size', '3');
    await noHandoff.up('--size', '3', '--no-leader-handoff');
    const withRuns: number[] = [];
    const withoutRuns: number[] = [];
    const withDecisions: string[] = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const [f, runs, what] of [
        [withHandoff, withRuns, 'with'],
        [noHandoff, withoutRuns, 'without'],
      ] as const) {
        await sleep(SETTLE_MS);
        const run = await terminateLeader(f, `${what}-${rep}`);
        runs.push(run.gapMs);
        if (what === 'with') withDecisions.push(run.decision);
        log(
          `roll: leader terminated ${what} handoff, rep ${rep + 1}/${reps}: longest write gap ${run.gapMs} ms (${run.decision.slice(0, 200)})`,
        );
      }
    }
    await down(noHandoff);
    await sleep(SETTLE_MS);
    log('roll: roll of 3');
    const roll3 = await rollOnce(withHandoff, 3, next);
    log(
      `roll: 3 members in ${roll3.totalSeconds} s, longest gap ${roll3.longestGapMs} ms, ${roll3.lost} lost`,
    );
    await withHandoff.ok('scale', '5');
    await sleep(SETTLE_MS);
    log('roll: roll of 5');
    const roll5 = await rollOnce(withHandoff, 5, original);
    log(
      `roll: 5 members in ${roll5.totalSeconds} s, longest gap ${roll5.longestGapMs} ms, ${roll5.lost} lost`,
    );
    const w = median(withRuns);
    const wo = median(withoutRuns);
    return {
      leaderTerminate: {
        withHandoffMs: w,
        withoutHandoffMs: wo,
        ratio: w !== null && wo ? r2(w / wo) : null,
        withRuns,
        withoutRuns,
        withDecisions,
      },
      roll3,
      roll5,
      definition:
        'longest interval without an acknowledged put of the steady writer (20 ms interval, 1.5 s deadline, one ' +
        'attempt per put, round robin over the voters; for the leader termination only over the members that stay) ' +
        'from the etcd-fleet call to its return (converged again); lost: acknowledged puts not read back with their value',
    };
  } finally {
    await down(noHandoff);
    await down(withHandoff);
  }
}
