#!/usr/bin/env node
/*
 * Chaos run on the local fleet: a seeded sequence of faults, one per round, under a steady write load.
 *
 *   npm run chaos -- --rounds N --seed S [--dir DIR] [--report FILE] [--grace S]
 *                    [--converge-timeout S] [--max-minutes M] [--plan-only]        (after npm run build)
 *
 * The harness's steady writer (test/fleet/harness/writer.ts) puts sequential keys all the time against
 * the voters' endpoints from `etcd-fleet status --json` (polled about once a second, refreshed as
 * membership changes) and records every ACKNOWLEDGED write. Each round injects one fault drawn by a
 * seeded PRNG (chaos/plan.ts): terminate, kill, kill --wipe, freeze then thaw, reboot, scale to another of
 * 3/5/7, two terminations at once (only at size 5), a lost `member add` reply (then scale up by one or kill
 * one, so a new instance joins), a total loss restored from a backup, a retained termination. Targets are
 * indexes into the instance list sorted by IP, so a replay with the same seed injects the same faults on
 * the same positions (`--plan-only` prints it).
 *
 * After each round: `etcd-fleet wait` converged within --converge-timeout, one cluster id (the one from
 * `up`), and no write-refusal window longer than --grace while a quorum of the current voters was
 * running and not frozen (chaos/quorum.ts). At the end every acknowledged key is read back with
 * linearizable reads and its value compared. Exit 0 only if every check passed. Report: --report
 * (default bench/chaos-report.json). On a failed round, or one slower to converge than --slow S (default
 * 30), the fleet's logs are copied to an artifacts dir (printed, and in the report) before the next round
 * or `down` removes them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { blockFor } from '../fleet/addresses';
import {
  busyBlocks,
  readBack,
  StatusJson,
  StatusPoller,
  TestFleet,
  voterEndpoints,
  Writer,
} from '../test/fleet/harness';
import { chaosOptions } from './chaos/options';
import { describeStep, makePlan, planFingerprint, START_SIZE } from './chaos/plan';
import { judgeWindows, passed, ReadBackResult, roundLine, table, totalsOf } from './chaos/report';
import { newRow, RECONCILE_INTERVAL_S, RoundContext, runRound } from './chaos/round';
import type { ChaosOptions, Disruption, RoundRow } from './chaos/types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const UP_ARGS = [
  'up',
  ...[
    '--size',
    String(START_SIZE),
    '--reconcile-interval',
    String(RECONCILE_INTERVAL_S),
    '--terminate-timeout',
    '10',
  ],
  // total-loss rounds: the reconcile restores the newest snapshot 5 s after the loss
  ...['--restore', 'automatic', '--restore-after', '5', '--json'],
];

async function main(): Promise<number> {
  const o = chaosOptions(process.argv.slice(2));
  if (!o) return 0;
  const plan = makePlan(o.seed, o.rounds);
  const fingerprint = planFingerprint(plan);
  const log = (...a: unknown[]) => {
    if (!o.quiet) console.log(...a);
  };
  log(`chaos: seed ${o.seed}, ${o.rounds} rounds, plan fingerprint ${fingerprint}`);
  log(
    `plan: ${plan.map((s) => `${s.round}:${describeStep(s)}${s.targets.length ? `@${s.targets.join('+')}` : ''}`).join(' ')}`,
  );
  if (o.planOnly) return 0;

  const fleet = new TestFleet('chaos', o.dir || undefined, 60_000);
  if (o.dir && busyBlocks().has(blockFor(o.dir)))
    console.error(
      `chaos: warning: another fleet uses the loopback block 127.${blockFor(o.dir)}.x.x of ${o.dir}`,
    );
  const artifactsBase = path.join(os.tmpdir(), `chaos-artifacts-${o.seed}-${process.pid}`);
  const startedAt = Date.now();
  const onSignal = (sig: string) => {
    console.error(`chaos: ${sig}: tearing the fleet down`);
    fleet.downSync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rounds: RoundRow[] = [];
  const disruptions: Disruption[] = [];
  const report: Record<string, unknown> = {
    seed: o.seed,
    roundsRequested: o.rounds,
    planFingerprint: fingerprint,
    options: { grace: o.grace, convergeTimeout: o.convergeTimeout, maxMinutes: o.maxMinutes },
    machine: `${os.cpus().length} cpu, node ${process.version}`,
    startedAt: new Date(startedAt).toISOString(),
    plan,
    rounds,
  };
  let poller: StatusPoller | undefined;
  let writer: Writer | undefined;
  let fatal: string | undefined;
  let truncated = false;
  let readback: ReadBackResult | undefined;
  try {
    const up = JSON.parse(await fleet.okWithin(240_000, ...UP_ARGS)) as StatusJson;
    report.upSeconds = (Date.now() - startedAt) / 1000;
    log(`fleet up in ${(report.upSeconds as number).toFixed(1)} s: ${fleet.dir}, cluster ${up.clusterId}`);
    poller = new StatusPoller(fleet);
    poller.latest = up;
    poller.start();
    writer = new Writer(poller, `chaos/${o.seed}-${startedAt}`, { maxWrites: 2_000_000, intervalMs: 15 });
    writer.start();
    await sleep(1000);
    const ctx: RoundContext = { fleet, writer, o, disruptions, clusterId: up.clusterId };
    for (const step of plan) {
      if (o.maxMinutes > 0 && Date.now() - startedAt > o.maxMinutes * 60_000) {
        truncated = true;
        log(`chaos: --max-minutes ${o.maxMinutes} reached: stopping before round ${step.round}`);
        break;
      }
      const row = newRow(step);
      rounds.push(row);
      row.startMs = Date.now();
      const ackedBefore = writer.acked.length;
      const failedBefore = writer.failures.length;
      await runRound(ctx, step, row);
      row.endMs = Date.now();
      row.acked = writer.acked.length - ackedBefore;
      row.writeFailures = writer.failures.length - failedBefore;
      const slow = row.convergeSeconds !== null && row.convergeSeconds > o.slow;
      if (slow)
        row.notes.push(`slow: converged after ${row.convergeSeconds?.toFixed(1)} s (> --slow ${o.slow})`);
      if (row.problems.length > 0 || slow)
        row.artifacts = fleet.copyLogs(path.join(artifactsBase, `round-${step.round}`));
      log(roundLine(row));
      if (!row.converged) {
        fatal = `round ${step.round} did not converge: the next fault would overlap, stopping`;
        break;
      }
    }
  } catch (err) {
    fatal = String((err as Error)?.stack ?? err);
  } finally {
    readback = await finish(fleet, writer, poller);
    const anyProblem = rounds.some((r) => r.problems.length > 0);
    if ((fatal || anyProblem || readback?.missingCount !== 0) && fs.existsSync(fleet.dir))
      report.finalArtifacts = fleet.copyLogs(path.join(artifactsBase, 'final'));
    fleet.downSync();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  return conclude(o, report, rounds, writer, poller, disruptions, readback, startedAt, fatal, truncated);
}

/** Stops the writer and the poller, then reads every acknowledged key back. */
async function finish(
  fleet: TestFleet,
  writer?: Writer,
  poller?: StatusPoller,
): Promise<ReadBackResult | undefined> {
  await writer?.stop();
  await poller?.stop();
  if (!writer || !poller) return undefined;
  try {
    const st = await fleet.status().catch(() => poller.latest);
    return await readBack(st ? voterEndpoints(st) : [], writer.expected(), st?.tls);
  } catch (err) {
    return {
      error: String((err as Error).message ?? err),
      checked: writer.acked.length,
      present: 0,
      missingCount: -1,
    };
  }
}

function conclude(
  o: ChaosOptions,
  report: Record<string, unknown>,
  rounds: RoundRow[],
  writer: Writer | undefined,
  poller: StatusPoller | undefined,
  disruptions: Disruption[],
  readback: ReadBackResult | undefined,
  startedAt: number,
  fatal: string | undefined,
  truncated: boolean,
): number {
  // Refusal windows → rounds; a window longer than the grace with a quorum up counts against the automation.
  const judged = judgeWindows(rounds, writer, poller?.samples ?? [], disruptions, o.grace);
  const totals = totalsOf(rounds, writer, judged, readback, startedAt);
  const pass = passed(o, rounds, totals, fatal, truncated);
  Object.assign(report, {
    totals,
    readback,
    violations: judged.violations,
    fatal: fatal ?? null,
    truncated,
    pass,
  });
  report.windows = judged.windows
    .filter((w) => (w.to - w.from) / 1000 > 1)
    .map((w) => ({
      from: new Date(w.from).toISOString(),
      seconds: (w.to - w.from) / 1000,
      failures: w.failures,
      errors: w.errors,
    }));
  fs.mkdirSync(path.dirname(o.report), { recursive: true });
  fs.writeFileSync(o.report, JSON.stringify(report, null, 2) + '\n');

  console.log('\n' + table(rounds));
  console.log(
    `\nseed ${o.seed}  plan ${report.planFingerprint}  rounds ${rounds.length}/${o.rounds}  converged ${totals.roundsConverged}  ` +
      `acked ${totals.writesAcked}  write failures ${totals.writeFailures}  max refusal ${totals.maxRefusalWindowSeconds.toFixed(1)} s  ` +
      `quorum violations ${totals.quorumViolations}  lost writes ${totals.lostWrites}  ` +
      `max converge ${totals.maxConvergeSeconds.toFixed(1)} s  ${totals.durationSeconds.toFixed(0)} s`,
  );
  if (fatal) console.log(`fatal: ${fatal}`);
  if (report.finalArtifacts)
    console.log(`fleet logs copied to ${path.dirname(String(report.finalArtifacts))}`);
  console.log(`report: ${o.report}\n${pass ? 'PASS' : 'FAIL'}`);
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
