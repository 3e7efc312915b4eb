#!/usr/bin/env node
/*
 * `npm run bench` (after `npm run build`): the fleet measured against baselines taken in the same run.
 *   replace            etcd-fleet terminate (1 of 3) → replacement promoted, fleet converged
 *                      vs the manual runbook on a plain static 3-member etcd (lib/etcd-static.ts)
 *   bootstrap3/5       etcd-fleet up --size N vs a static --initial-cluster start: to the first leader and
 *                      to all-healthy, compared over first-round elections on both sides (lib/bootstrap.ts)
 *   agentOverheadMs    join agent: main() start → settings written, for joins into a running cluster
 *   lambda             lifecycle bundle size; cold process: require + first (foreign) event answered
 *   replaceByKeyspace  replace with 0 / 10 / 100 MB in the keyspace, each against its floor
 *   synth              cdk synth of the example app vs a minimal one-ASG app
 *   defrag             longest write gap of a steady writer while every member of 3 with 100 MB of data is
 *                      defragmented, leader in place and after a leadership move, vs no defragmentation
 *                      (lib/defrag.ts)
 *   roll               longest write gap while the leader's instance is terminated, Lambda's leader handoff
 *                      on vs off; longest gap, total time and lost writes of `etcd-fleet roll` of 3 and of 5
 *                      (lib/roll.ts)
 * Writes bench/results.json (or --out FILE) and prints a table. Options: --quick (fewer repetitions, no
 * 100 MB), --only a,b (sections: lambda, synth, bootstrap, bootstrap3, bootstrap5, replace, keyspace,
 * defrag, roll),
 * --reps N (bootstrap repetitions), --keyspace-mb a,b (the keyspace sizes of `keyspace`), --replace-log S
 * (the replace fleets' incremental backup log, `up --incremental-seconds S`; default 10 as the construct's;
 * 0: off, and every removal takes its pre-removal snapshot). Definitions and the latest results: bench/README.md.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { intOption, parseOptions } from './lib/args';
import { benchBootstrap } from './lib/bootstrap';
import { benchDefrag } from './lib/defrag';
import { killAll } from './lib/etcd-static';
import { downAllSync, joins } from './lib/fleet';
import { benchLambda } from './lib/lambda';
import { benchReplace, joinsFleet } from './lib/replace';
import { benchRoll } from './lib/roll';
import { agentOverhead, Results, table, targets } from './lib/report';
import { benchSynth } from './lib/synth';
import { log, onExitCleanup, r2, ROOT, runMain } from './lib/util';

const SECTIONS = [
  'lambda',
  'synth',
  'bootstrap',
  'bootstrap3',
  'bootstrap5',
  'replace',
  'keyspace',
  'defrag',
  'roll',
];

function options(argv: string[]) {
  const values = parseOptions(argv, {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    reps: { type: 'string' },
    'keyspace-mb': { type: 'string' },
    'replace-log': { type: 'string', default: '10' },
    out: { type: 'string', default: path.join(__dirname, 'results.json') },
  });
  const only = values.only ? new Set(String(values.only).split(',')) : null;
  for (const s of only ?? [])
    if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`);
  const reps = values.quick
    ? { boot: 1, replace: 2, keyspace: 1, joins: 6, lambda: 5, synth: 1, defrag: 1, roll: 1 }
    : { boot: 5, replace: 6, keyspace: 2, joins: 20, lambda: 10, synth: 3, defrag: 3, roll: 3 };
  if (values.reps !== undefined) reps.boot = intOption(values.reps, 'reps', 1);
  return {
    quick: Boolean(values.quick),
    out: path.resolve(String(values.out)),
    reps,
    keyspaceMB: values['keyspace-mb']
      ? String(values['keyspace-mb'])
          .split(',')
          .map((v) => intOption(v, 'keyspace-mb', 0))
      : values.quick
        ? [0, 10]
        : [0, 10, 100],
    // The replace fleets' incremental backup log (seconds; 0 = off): the construct's default, 10 s, is on,
    // and with it the pre-removal snapshot is skipped while the log is current.
    replaceLogSeconds: intOption(String(values['replace-log']), 'replace-log', 0),
    want: (s: string) => !only || only.has(s),
  };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  for (const f of ['build/lambda/index.js', 'build/agent/agent.js', 'build/fleet/cli.js'])
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
  const started = Date.now();
  let etcdVersion = '';
  try {
    etcdVersion =
      /etcd Version: (\S+)/.exec(execFileSync('etcd', ['--version'], { encoding: 'utf8' }))?.[1] ?? '';
  } catch {
    throw new Error('etcd not found on PATH');
  }
  const machine: Record<string, unknown> = {
    nproc: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    etcd: etcdVersion,
    loadavgAtStart: os.loadavg().map(r2),
  };
  const args = process.argv.slice(2).join(' ');
  const res: Results = { command: `npm run bench${args ? ` -- ${args}` : ''}`, quick: o.quick, machine };
  res.startedAt = new Date(started).toISOString();
  if (o.want('lambda')) {
    log('lambda');
    res.lambda = await benchLambda(o.reps.lambda);
  }
  for (const n of [3, 5]) {
    if (!o.want('bootstrap') && !o.want(`bootstrap${n}`)) continue;
    log(`bootstrap${n}`);
    res[`bootstrap${n}`] = await benchBootstrap(n, o.reps.boot);
  }
  if (o.want('replace') || o.want('keyspace')) {
    const byKeyspace: Record<string, Awaited<ReturnType<typeof benchReplace>>> = {};
    res.replaceByKeyspace = byKeyspace;
    const extraJoins = o.reps.joins - o.reps.keyspace * (o.keyspaceMB.length - 1);
    for (const mb of o.want('keyspace') ? o.keyspaceMB : [0]) {
      log(`replace with ${mb} MB`);
      const r = await benchReplace(
        o.replaceLogSeconds,
        mb,
        mb === 0 ? o.reps.replace : o.reps.keyspace,
        mb === 0 ? extraJoins : 0,
      );
      byKeyspace[String(mb)] = r;
      if (mb === 0) res.replace = r;
    }
    // Replacements of the keyspace runs added joins too; top up if still short.
    if (joins.size < o.reps.joins && byKeyspace['0']) {
      log(`agent joins: ${joins.size} < ${o.reps.joins}, topping up`);
      await joinsFleet(o.reps.joins);
    }
    if (byKeyspace['0']) res.agentOverheadMs = agentOverhead([...joins.values()]);
  }
  if (o.want('defrag')) {
    log('defrag');
    res.defrag = await benchDefrag(o.quick ? 30 : 100, o.reps.defrag);
  }
  if (o.want('roll')) {
    log('roll');
    res.roll = await benchRoll(o.reps.roll);
  }
  if (o.want('synth')) {
    log('synth');
    res.synth = await benchSynth(o.reps.synth);
  }
  res.targets = targets(res);
  res.durationSeconds = Math.round((Date.now() - started) / 1000);
  machine.loadavgAtEnd = os.loadavg().map(r2);
  fs.writeFileSync(o.out, JSON.stringify(res, null, 2) + '\n');
  console.log(table(res));
  console.log(
    `\nmachine: ${machine.nproc} cpu, ${machine.memGiB} GiB, node ${machine.node}, etcd ${machine.etcd}; ${res.durationSeconds} s; ${o.out} written`,
  );
}

runMain('bench', main, onExitCleanup('bench', [killAll, downAllSync]));
