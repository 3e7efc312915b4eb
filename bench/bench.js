#!/usr/bin/env node
/*
 * `npm run bench` (after `npm run build`): the fleet measured against baselines taken in the same run.
 *   replace            etcd-fleet terminate (1 of 3) → replacement promoted, fleet converged
 *                      vs the manual runbook on a plain static 3-member etcd (bench/lib/etcd-static.js)
 *   bootstrap3/5       etcd-fleet up --size N → converged  vs  static --initial-cluster start → all healthy
 *   agentOverheadMs    join agent: main() start → settings written, for joins into a running cluster
 *   lambda             lifecycle bundle size; cold process: require + first (foreign) event answered
 *   replaceByKeyspace  replace with 0 / 10 / 100 MB in the keyspace, each against its floor
 *   synth              cdk synth of the example app vs a minimal one-ASG app
 * Writes bench/results.json and prints a table. Options: --quick (fewer repetitions, no 100 MB),
 * --only a,b (sections: lambda,synth,bootstrap,replace,keyspace).
 * Definitions and the latest results: bench/README.md.
 */
'use strict';
const { execFile, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const F = require('./lib/fleet');
const S = require('./lib/etcd-static');

const ROOT = F.ROOT;
const QUICK = process.argv.includes('--quick');
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? new Set(process.argv[onlyArg + 1].split(',')) : null;
const want = (s) => !ONLY || ONLY.has(s);

const REPS = QUICK
  ? { boot: 1, replace: 2, keyspace: 1, joins: 6, lambda: 5, synth: 1 }
  : { boot: 5, replace: 6, keyspace: 2, joins: 20, lambda: 10, synth: 3 };
const KEYSPACE_MB = QUICK ? [0, 10] : [0, 10, 100];
const VALUE_BYTES = 100 * 1024;
/**
 * Untimed pause before each replacement (fleet and floor alike): etcd's strict reconfig check refuses a
 * member remove until the remaining members have been connected for 5 s, so back-to-back replacements
 * would measure that guard, not the replacement. Every replacement starts from a settled cluster.
 */
const SETTLE_MS = 6000;

const tempDirs = new Set();
function tempDir(tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${tag}-`));
  tempDirs.add(d);
  return d;
}
function rmTemp(d) {
  fs.rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

let cleaned = false;
function cleanupSync() {
  if (cleaned) return;
  cleaned = true;
  S.killAll();
  F.downAllSync();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    console.error(`bench: ${sig}, cleaning up`);
    cleanupSync();
    process.exit(130);
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))];
};
const r2 = (x) => (x === null || x === undefined ? null : Math.round(x * 100) / 100);
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const medianOfKeys = (objs) => {
  const out = {};
  for (const k of Object.keys(objs[0] ?? {})) {
    const v = objs.map((o) => o[k]).filter((x) => typeof x === 'number');
    if (v.length) out[k] = Math.round(median(v));
  }
  return out;
};
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------------------------------------- joins

/** Joins into a running cluster seen in any fleet of this run, by instance id. */
const joins = new Map();
function collectJoins(dir) {
  for (const a of F.agentLogs(dir)) {
    if (joins.has(a.id)) continue;
    const j = F.joinOf(a.lines);
    if (j) joins.set(a.id, j);
  }
}

// ---------------------------------------------------------------------------------------------- lambda

async function benchLambda() {
  const bundle = path.join(ROOT, 'build', 'lambda', 'index.js');
  const bundleBytes = fs.statSync(bundle).size;
  const child = `
    const t0 = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle)});
    const t1 = process.hrtime.bigint();
    mod.handler({ source: 'bench.foreign', 'detail-type': 'not a lifecycle action', detail: {} }).then((r) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.stdout.write('\\nBENCH ' + JSON.stringify({ ms, requireMs: Number(t1 - t0) / 1e6, processMs: performance.now(), outcome: r && r.outcome }) + '\\n');
    });`;
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    GROUP_NAME: 'bench-group',
    STRATEGY: 'replace',
  };
  const runs = [];
  for (let i = 0; i < REPS.lambda; i++) {
    const out = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', child], { env, encoding: 'utf8', timeout: 30_000 }, (err, so) =>
        err ? reject(err) : resolve(so),
      ),
    );
    const line = out.split('\n').find((l) => l.startsWith('BENCH '));
    if (!line) throw new Error(`lambda child gave no answer: ${out.slice(0, 500)}`);
    runs.push(JSON.parse(line.slice(6)));
  }
  const empty = [];
  for (let i = 0; i < REPS.lambda; i++) {
    const out = await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ['-e', 'process.stdout.write(String(performance.now()))'],
        { env, encoding: 'utf8' },
        (err, so) => (err ? reject(err) : resolve(so)),
      ),
    );
    empty.push(Number(out));
  }
  if (runs.some((r) => r.outcome !== 'ignored'))
    throw new Error(`lambda: unexpected outcome ${JSON.stringify(runs)}`);
  return {
    bundleBytes,
    initMs: r2(median(runs.map((r) => r.ms))),
    requireMs: r2(median(runs.map((r) => r.requireMs))),
    processMs: r2(median(runs.map((r) => r.processMs))),
    // Same-run reference for the machine's load: a cold node that requires nothing (process start → script).
    emptyProcessMs: r2(median(empty)),
    n: runs.length,
  };
}

// ---------------------------------------------------------------------------------------------- synth

const BASELINE_APP = `
import { App, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
const app = new App();
const stack = new Stack(app, 'BaselineAsgStack');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
new autoscaling.AutoScalingGroup(stack, 'Asg', {
  vpc,
  instanceType: new ec2.InstanceType('t3.small'),
  machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-00000000000000000', 'eu-west-1': 'ami-00000000000000000' }),
  minCapacity: 3,
  maxCapacity: 3,
});
app.synth();
`;

function timedCmd(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20, ...opts },
      (err, so, se) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${se || err.message}`));
        else resolve(Number(process.hrtime.bigint() - t) / 1e9);
      },
    );
  });
}

async function benchSynth() {
  const env = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
  delete env.CDK_DEFAULT_ACCOUNT;
  delete env.CDK_DEFAULT_REGION;
  const base = tempDir('synth-baseline');
  fs.writeFileSync(path.join(base, 'app.ts'), BASELINE_APP);
  // The repo's compiler options (ts-node --transpile-only reads them as it does for bin/app.ts).
  fs.writeFileSync(
    path.join(base, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'commonjs',
        moduleResolution: 'node',
        lib: ['ES2022'],
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
      },
    }),
  );
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'));
  const example = [];
  const baseline = [];
  try {
    for (let i = 0; i < REPS.synth; i++) {
      const o1 = tempDir('synth-out');
      const o2 = tempDir('synth-out');
      try {
        example.push(
          await timedCmd('npx', ['cdk', 'synth', '--quiet', '--no-notices', '-o', o1], { cwd: ROOT, env }),
        );
        baseline.push(
          await timedCmd(
            'npx',
            [
              'cdk',
              'synth',
              '--quiet',
              '--no-notices',
              '-a',
              'npx ts-node --transpile-only app.ts',
              '-o',
              o2,
            ],
            { cwd: base, env },
          ),
        );
        if (!fs.readdirSync(o1).some((f) => f.endsWith('.template.json')))
          throw new Error('example synth wrote no template');
        if (!fs.existsSync(path.join(o2, 'BaselineAsgStack.template.json')))
          throw new Error('baseline synth wrote no template');
      } finally {
        rmTemp(o1);
        rmTemp(o2);
      }
      log(`synth ${i + 1}: example ${example[i].toFixed(1)} s, baseline ${baseline[i].toFixed(1)} s`);
    }
  } finally {
    rmTemp(base);
  }
  const s = median(example);
  const b = median(baseline);
  return {
    seconds: r2(s),
    baselineSeconds: r2(b),
    ratio: r2(s / b),
    runs: example.map(r2),
    baselineRuns: baseline.map(r2),
  };
}

// ---------------------------------------------------------------------------------------------- bootstrap

function bootPhases(dir, t0, t1) {
  const sup = F.supervisorLog(dir);
  const first = (m) => sup.find((l) => l.message === m);
  const last = (m) => sup.filter((l) => l.message === m).pop();
  const agents = F.agentLogs(dir).map((a) => a.lines);
  const written = agents.map((ls) => ls.find((l) => l.message === 'settings written')).filter(Boolean);
  const started = first('fleet started');
  const launched = first('launched');
  const mainStarts = written.map((w) => w.t - w.ms);
  // identity → first plan line, per agent: the first observation (describe group, member list, health)
  const firstObserve = agents.map((ls) => {
    const id = ls.find((l) => l.message === 'identity');
    const p = ls.find((l) => l.message === 'plan');
    return id && p ? p.t - id.t : 0;
  });
  const planWaits = agents.reduce(
    (n, ls) => n + ls.filter((l) => l.message === 'plan' && l.step === 'wait').length,
    0,
  );
  const lastWritten = Math.max(...written.map((w) => w.t));
  const lastEtcd = last('etcd started');
  const lastInService = last('launch completed: InService');
  return {
    cliToSupervisorReady: started && started.t - t0,
    supervisorToFirstLaunch: started && launched && launched.t - started.t,
    launchToAgentMain: launched && Math.min(...mainStarts) - launched.t,
    agentJoinsDone: lastWritten - Math.min(...mainStarts),
    toLastEtcdStarted: lastEtcd && lastEtcd.t - lastWritten,
    etcdToAllInService: lastEtcd && lastInService && lastInService.t - lastEtcd.t,
    inServiceToCliReturn: lastInService && t1 - lastInService.t,
    slowestFirstObserve: Math.max(...firstObserve),
    planWaits,
  };
}

async function benchBootstrap(size) {
  const fleetS = [];
  const staticS = [];
  const phases = [];
  for (let i = 0; i < REPS.boot; i++) {
    const dir = F.newFleetDir(`boot${size}`);
    try {
      const t0 = Date.now();
      await F.fleetAsync(dir, ['up', '--size', String(size), '--json']);
      const t1 = Date.now();
      fleetS.push((t1 - t0) / 1000);
      phases.push(bootPhases(dir, t0, t1));
    } finally {
      await F.down(dir);
    }
    const sdir = tempDir(`static${size}`);
    const c = new S.StaticCluster(size, sdir);
    try {
      const t0 = Date.now();
      await c.start();
      staticS.push((Date.now() - t0) / 1000);
    } finally {
      await c.stop();
      rmTemp(sdir);
    }
    log(`bootstrap${size} ${i + 1}: fleet ${fleetS[i].toFixed(2)} s, static ${staticS[i].toFixed(2)} s`);
  }
  const s = median(fleetS);
  const f = median(staticS);
  return {
    seconds: r2(s),
    floorSeconds: r2(f),
    ratio: r2(s / f),
    runs: fleetS.map(r2),
    floorRuns: staticS.map(r3),
    phasesMs: medianOfKeys(phases),
  };
}

// ---------------------------------------------------------------------------------------------- replace

async function fill(endpoints, mb) {
  if (!mb) return 0;
  const { Etcd3 } = require(path.join(ROOT, 'node_modules', 'etcd3'));
  const client = new Etcd3({ hosts: endpoints });
  const n = Math.round((mb * 1024 * 1024) / VALUE_BYTES);
  const t0 = Date.now();
  try {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await client.put(`bench/fill/${String(i).padStart(6, '0')}`).value(crypto.randomBytes(VALUE_BYTES));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  } finally {
    client.close();
  }
  return Date.now() - t0;
}

/** Per-phase ms of one fleet replacement, from the supervisor's and the heir's logs. */
function replacePhases(dir, victim, heir, t0, t1) {
  const sup = F.supervisorLog(dir);
  const at = (m, id) => sup.find((l) => l.message === m && l.id === id)?.t;
  const heirLines = F.agentLogs(dir).find((a) => a.id === heir)?.lines ?? [];
  const j = F.joinOf(heirLines);
  const promoted = heirLines.find((l) => l.message === 'promoted to voter')?.t;
  const marks = [
    ['cliToTerminating', at('terminating', victim)],
    ['lambdaRemove', at('terminate lifecycle action completed', victim)],
    ['stopOldEtcd', at('terminated', victim)],
    ['launchTick', at('launched', heir)],
    ['agentNodeStartup', j?.mainStart],
    ['agentJoin', j && j.mainStart + j.joinMs],
    ['etcdSpawn', at('etcd started', heir)],
    ['etcdStartToPromoted', promoted],
    ['promotedToInService', at('launch completed: InService', heir)],
    ['inServiceToConverged', t1],
  ];
  const out = {};
  let prev = t0;
  for (const [name, t] of marks) {
    if (typeof t !== 'number') {
      out[name] = null;
      continue;
    }
    out[name] = t - prev;
    prev = t;
  }
  if (j) {
    out.agentResolve = j.resolveMs;
    out.agentIdentityToAdded = j.identityToAddedMs;
    out.agentPlanWaits = j.waits.length;
  }
  return out;
}

async function fleetReplaces(dir, reps) {
  const runs = [];
  for (let i = 0; i < reps; i++) {
    await sleep(SETTLE_MS);
    const s = JSON.parse(await F.fleetAsync(dir, ['status', '--json']));
    const victim = s.instances.find((x) => !x.leader && x.lifecycleState === 'InService');
    if (!victim) throw new Error(`no non-leader InService instance: ${JSON.stringify(s)}`);
    const before = new Set(s.instances.map((x) => x.id));
    const t0 = Date.now();
    const out = JSON.parse(await F.fleetAsync(dir, ['terminate', victim.id, '--json']));
    const t1 = Date.now();
    if (out.result !== 'terminated' || !out.converged) throw new Error(`terminate: ${JSON.stringify(out)}`);
    const heir = out.instances.find((x) => !before.has(x.id));
    const phases = replacePhases(dir, victim.id, heir?.id, t0, t1);
    runs.push({
      seconds: (t1 - t0) / 1000,
      toInService: (t1 - t0 - (phases.inServiceToConverged ?? 0)) / 1000,
      phases,
    });
    collectJoins(dir);
  }
  return runs;
}

async function floorReplaces(c, reps) {
  const runs = [];
  for (let i = 0; i < reps; i++) {
    await sleep(SETTLE_MS);
    const leader = await c.leaderName();
    const victim = c.members.find((m) => m.name !== leader);
    const t0 = Date.now();
    const steps = await c.replace(victim);
    runs.push({ seconds: (Date.now() - t0) / 1000, steps });
  }
  return runs;
}

async function benchReplace(mb, reps, topUpJoins) {
  const dir = F.newFleetDir(`replace${mb}`);
  let fleetRuns;
  let fillMs;
  try {
    await F.fleetAsync(dir, ['up', '--size', '3', '--json']);
    const st = JSON.parse(await F.fleetAsync(dir, ['status', '--json']));
    fillMs = await fill(st.endpoints, mb);
    fleetRuns = await fleetReplaces(dir, reps);
    // More joins for the agent figure: one instance at a time (3 → 4 → 3), so no join waits for another.
    for (let k = 0; topUpJoins && joins.size < topUpJoins && k < 40; k++) {
      await F.fleetAsync(dir, ['scale', '4', '--json']);
      collectJoins(dir);
      await F.fleetAsync(dir, ['scale', '3', '--json']);
    }
  } finally {
    await F.down(dir);
  }
  const sdir = tempDir(`floor${mb}`);
  const c = new S.StaticCluster(3, sdir);
  let floorRuns;
  try {
    await c.start();
    await fill(c.endpoints, mb);
    floorRuns = await floorReplaces(c, reps);
  } finally {
    await c.stop();
    rmTemp(sdir);
  }
  const s = median(fleetRuns.map((r) => r.seconds));
  const f = median(floorRuns.map((r) => r.seconds));
  log(
    `replace ${mb} MB: fleet ${fleetRuns.map((r) => r.seconds.toFixed(2)).join(' ')} | floor ${floorRuns.map((r) => r.seconds.toFixed(2)).join(' ')}`,
  );
  return {
    seconds: r2(s),
    floorSeconds: r2(f),
    ratio: r2(s / f),
    keyspaceMB: mb,
    fillMs,
    runs: fleetRuns.map((r) => r2(r.seconds)),
    // terminate → replacement InService (the fleet's convergence check, two observations 300 ms apart, excluded)
    secondsToInService: r2(median(fleetRuns.map((r) => r.toInService))),
    floorRuns: floorRuns.map((r) => r2(r.seconds)),
    phasesMs: medianOfKeys(fleetRuns.map((r) => r.phases)),
    floorStepsMs: medianOfKeys(floorRuns.map((r) => r.steps)),
  };
}

// ---------------------------------------------------------------------------------------------- report

function targets(res) {
  const t = [];
  const add = (name, value, limit, unit) =>
    t.push({
      name,
      value,
      target: `<= ${limit}${unit}`,
      met: value === null || value === undefined ? null : value <= limit,
    });
  if (res.replace) add('replace ratio', res.replace.ratio, 1.15, 'x');
  if (res.bootstrap3) add('bootstrap3 ratio', res.bootstrap3.ratio, 1.5, 'x');
  if (res.bootstrap5) add('bootstrap5 ratio', res.bootstrap5.ratio, 1.5, 'x');
  if (res.agentOverheadMs) add('agent overhead p50', res.agentOverheadMs.p50, 300, ' ms');
  if (res.lambda) add('lambda init', res.lambda.initMs, 250, ' ms');
  if (res.replaceByKeyspace?.['100'])
    add('replace @100 MB ratio', res.replaceByKeyspace['100'].ratio, 1.2, 'x');
  return t;
}

function table(res) {
  const rows = [['figure', 'fleet', 'baseline', 'ratio', 'target', 'met']];
  const tgt = Object.fromEntries(res.targets.map((x) => [x.name, x]));
  const row = (name, v, b, ratio, tname) => {
    const t = tgt[tname];
    rows.push([name, v, b, ratio, t ? t.target : '-', t ? (t.met ? 'met' : 'MISSED') : '-']);
  };
  if (res.replace)
    row(
      'replace (s)',
      res.replace.seconds,
      res.replace.floorSeconds,
      `${res.replace.ratio}x`,
      'replace ratio',
    );
  for (const n of [3, 5]) {
    const b = res[`bootstrap${n}`];
    if (b) row(`bootstrap${n} (s)`, b.seconds, b.floorSeconds, `${b.ratio}x`, `bootstrap${n} ratio`);
  }
  if (res.agentOverheadMs)
    row(
      `agent overhead p50 / p95 (ms, n=${res.agentOverheadMs.n})`,
      `${res.agentOverheadMs.p50} / ${res.agentOverheadMs.p95}`,
      '-',
      '-',
      'agent overhead p50',
    );
  if (res.lambda)
    row(
      `lambda init (ms; bundle ${(res.lambda.bundleBytes / 1e6).toFixed(2)} MB)`,
      res.lambda.initMs,
      '-',
      '-',
      'lambda init',
    );
  for (const [mb, r] of Object.entries(res.replaceByKeyspace ?? {}))
    row(
      `replace @${mb} MB (s)`,
      r.seconds,
      r.floorSeconds,
      `${r.ratio}x`,
      mb === '100' ? 'replace @100 MB ratio' : '',
    );
  if (res.synth) row('synth (s)', res.synth.seconds, res.synth.baselineSeconds, `${res.synth.ratio}x`, '');
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const fmt = (r) => '| ' + r.map((v, c) => String(v).padEnd(w[c])).join(' | ') + ' |';
  return [
    fmt(rows[0]),
    '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|',
    ...rows.slice(1).map(fmt),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
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
  const res = {
    command: `node bench/bench.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    quick: QUICK,
    machine: {
      nproc: os.cpus().length,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      etcd: etcdVersion,
      loadavgAtStart: os.loadavg().map(r2),
    },
    startedAt: new Date(started).toISOString(),
  };
  if (want('lambda')) {
    log('lambda');
    res.lambda = await benchLambda();
  }
  if (want('bootstrap')) {
    for (const n of [3, 5]) {
      log(`bootstrap${n}`);
      res[`bootstrap${n}`] = await benchBootstrap(n);
    }
  }
  if (want('replace') || want('keyspace')) {
    res.replaceByKeyspace = {};
    for (const mb of want('keyspace') ? KEYSPACE_MB : [0]) {
      log(`replace with ${mb} MB`);
      const r = await benchReplace(
        mb,
        mb === 0 ? REPS.replace : REPS.keyspace,
        mb === 0 ? REPS.joins - REPS.keyspace * (KEYSPACE_MB.length - 1) : 0,
      );
      res.replaceByKeyspace[String(mb)] = r;
      if (mb === 0) res.replace = r;
    }
    // Replacements of the keyspace runs added joins too; top up if still short.
    if (joins.size < REPS.joins) {
      log(`agent joins: ${joins.size} < ${REPS.joins}, topping up`);
      const dir = F.newFleetDir('joins');
      try {
        await F.fleetAsync(dir, ['up', '--size', '3', '--json']);
        for (let k = 0; joins.size < REPS.joins && k < 40; k++) {
          await F.fleetAsync(dir, ['scale', '4', '--json']);
          collectJoins(dir);
          await F.fleetAsync(dir, ['scale', '3', '--json']);
        }
      } finally {
        await F.down(dir);
      }
    }
    const js = [...joins.values()];
    res.agentOverheadMs = {
      p50: median(js.map((j) => j.joinMs)),
      p95: pct(
        js.map((j) => j.joinMs),
        0.95,
      ),
      n: js.length,
      definition: "agent main() start → 'settings written' (the line's ms field), joins that added a learner",
      resolveP50: median(js.map((j) => j.resolveMs)),
      identityToAddedP50: median(js.map((j) => j.identityToAddedMs)),
      identityToAddedP95: pct(
        js.map((j) => j.identityToAddedMs),
        0.95,
      ),
      addedToWrittenP50: median(js.map((j) => j.addedToWrittenMs)),
      withPlanWaits: js.filter((j) => j.waits.length).length,
      planWaitReasons: [...new Set(js.flatMap((j) => j.waits))].slice(0, 5),
    };
  }
  if (want('synth')) {
    log('synth');
    res.synth = await benchSynth();
  }
  res.targets = targets(res);
  res.durationSeconds = Math.round((Date.now() - started) / 1000);
  res.machine.loadavgAtEnd = os.loadavg().map(r2);
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(res, null, 2) + '\n');
  console.log(table(res));
  console.log(
    `\nmachine: ${res.machine.nproc} cpu, ${res.machine.memGiB} GiB, node ${res.machine.node}, etcd ${res.machine.etcd}; ${res.durationSeconds} s; bench/results.json written`,
  );
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (err) => {
    console.error(`bench failed: ${err.stack || err.message}`);
    cleanupSync();
    process.exit(1);
  },
);
