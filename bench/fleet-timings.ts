#!/usr/bin/env node
/*
 * Fleet timings quoted in the issue notes (a first step towards `npm run bench`):
 *   bootstrap3 / bootstrap5   `etcd-fleet up --size N` until converged (wall time of the command)
 *   agentJoinMs               join agent start → settings written, for joins into a running cluster
 *   terminateToRemovedMs      terminate → the lifecycle Lambda removed the member and completed CONTINUE
 *   terminateToPromotedMs     terminate → the replacement's agent promoted it to voter
 * Usage: npm run timings -- [--joins 20] [--terminations 10] [--settle 6]   (after npm run build)
 * --settle S waits S seconds before each termination: etcd refuses a member removal ("unhealthy cluster")
 * until every member has been connected for 5 s, so back-to-back churn (--settle 0) measures that guard.
 */
import * as os from 'os';
import type { TestFleet } from '../test/fleet/harness';
import { intOption, parseOptions } from './lib/args';
import { agentLines, down, downAllSync, joinOf, newFleet } from './lib/fleet';
import { median, onExitCleanup, pct, runMain, sleep } from './lib/util';

function options(argv: string[]) {
  const v = parseOptions(argv, {
    joins: { type: 'string', default: '20' },
    terminations: { type: 'string', default: '10' },
    settle: { type: 'string', default: '6' },
  });
  return {
    joins: intOption(v.joins, 'joins', 0),
    terminations: intOption(v.terminations, 'terminations', 0),
    settle: intOption(v.settle, 'settle', 0),
  };
}

/** Wall ms of `up --size N` in a fresh fleet. */
async function bootstrap(size: number): Promise<number> {
  const f = newFleet(`timings-boot${size}`);
  try {
    const t = Date.now();
    await f.up('--size', String(size));
    return Date.now() - t;
  } finally {
    await down(f);
  }
}

/** Terminates a non-leader; returns [removed ms, promoted ms] from the logs (undefined when not found). */
async function terminateOne(f: TestFleet): Promise<[number | undefined, number | undefined]> {
  const s = await f.status();
  const victim = s.instances.find((x) => !x.leader && x.lifecycleState === 'InService');
  if (!victim) throw new Error('no non-leader InService instance');
  const before = new Set(s.instances.map((x) => x.id));
  const t0 = Date.now();
  await f.ok('terminate', victim.id);
  const done = f
    .supervisorLines()
    .filter((l) => l.message === 'terminate lifecycle action completed' && l.id === victim.id)
    .pop();
  const heir = (await f.status()).instances.find((x) => !before.has(x.id));
  const promoted = agentLines(f)
    .find((a) => a.id === heir?.id)
    ?.lines.find((l) => l.message === 'promoted to voter');
  return [done?.result === 'CONTINUE' ? Number(done.ms) : undefined, promoted?.t && promoted.t - t0];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const out: Record<string, unknown> = {
    machine: `${os.cpus().length} cpu, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  };
  for (const size of [3, 5]) out[`bootstrap${size}Ms`] = await bootstrap(size);

  const f = newFleet('timings-churn');
  const joinMs = new Map<string, number>();
  const removedMs: number[] = [];
  const promotedMs: number[] = [];
  const collect = () => {
    for (const a of agentLines(f)) {
      const j = joinOf(a.lines);
      if (j && !joinMs.has(a.id)) joinMs.set(a.id, j.joinMs);
    }
  };
  try {
    await f.up('--size', '3');
    for (let i = 0; i < o.terminations; i++) {
      await sleep(o.settle * 1000);
      const [removed, promoted] = await terminateOne(f);
      if (removed !== undefined) removedMs.push(removed);
      if (promoted !== undefined) promotedMs.push(promoted);
      collect();
    }
    for (let k = 0; joinMs.size < o.joins && k < 40; k++) {
      await f.ok('scale', '5');
      collect();
      await f.ok('scale', '3');
    }
  } finally {
    await down(f);
  }
  const joins = [...joinMs.values()];
  out.agentJoinMs = { n: joins.length, p50: median(joins), p95: pct(joins, 0.95) };
  out.settleSeconds = o.settle;
  out.terminateToRemovedMs = { n: removedMs.length, median: median(removedMs) };
  out.terminateToPromotedMs = { n: promotedMs.length, median: median(promotedMs) };
  console.log(JSON.stringify(out, null, 2));
}

runMain('timings', main, onExitCleanup('timings', [downAllSync]));
