#!/usr/bin/env node
/*
 * Chaos run on the local fleet: a seeded sequence of faults, one per round, under a steady write load.
 *
 *   node bench/chaos.js --rounds N --seed S [--dir DIR] [--report FILE] [--grace S]
 *                       [--converge-timeout S] [--max-minutes M] [--plan-only]      (after npm run build)
 *
 * A writer puts sequential keys all the time (in-process etcd3 client against the voters' endpoints
 * from `etcd-fleet status --json`, refreshed as membership changes) and records every ACKNOWLEDGED
 * write. Each round injects one fault drawn by a seeded PRNG (mulberry32): terminate, kill, kill --wipe,
 * freeze then thaw, reboot, scale to another of 3/5/7, two terminations at once (only at size 5), a lost
 * `member add` reply (then scale up by one or kill one, so a new instance joins). The whole plan is a
 * pure function of (seed, rounds): targets are indexes into the instance list sorted by IP, so a replay
 * with the same seed injects the same faults on the same positions (`--plan-only` prints it).
 *
 * After each round: `etcd-fleet wait` converged within --converge-timeout, one cluster id (the one from
 * `up`), and no write-refusal window longer than --grace while a quorum of the current voters was
 * running and not frozen (what this script killed, froze, rebooted or terminated counts as down; after a
 * fault on the leader, and around any change of leader the status sampler saw, ELECTION_ALLOWANCE_MS
 * count as the election's, not as quorum up). At the
 * end every acknowledged key is read back with linearizable reads. Exit 0 only if every check passed.
 * Report: --report (default bench/chaos-report.json). On a failed round, or one slower to converge than
 * --slow S (default 30), the fleet's logs are copied to an artifacts dir (printed, and in the report)
 * before the next round or `down` removes them.
 */
'use strict';
const { execFile, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = path.join(__dirname, '..', 'bin', 'etcd-fleet.js');
const FAULTS = [
  'terminate',
  'kill',
  'kill-wipe',
  'freeze-thaw',
  'reboot',
  'scale',
  'terminate-two',
  'lose-add-reply',
  'total-loss',
  'retained-thaw',
];
const SIZES = [3, 5, 7];
const START_SIZE = 3;
const MAX_SIZE = 7;
/** Seconds between scheduled reconciles of the chaos fleet (`up --reconcile-interval`). */
const RECONCILE_INTERVAL_S = 3;

// ---------------------------------------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    rounds: 20,
    seed: 42,
    dir: '',
    report: path.join(__dirname, 'chaos-report.json'),
    grace: 3,
    convergeTimeout: 120,
    maxMinutes: 0,
    slow: 30,
    planOnly: false,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = (v, name, min) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
      return n;
    };
    if (a === '--rounds') o.rounds = int(val(), '--rounds', 1);
    else if (a === '--seed') o.seed = int(val(), '--seed', 0) >>> 0;
    else if (a === '--dir') o.dir = path.resolve(val());
    else if (a === '--report') o.report = path.resolve(val());
    else if (a === '--grace') o.grace = Number(val());
    else if (a === '--converge-timeout') o.convergeTimeout = int(val(), '--converge-timeout', 10);
    else if (a === '--max-minutes') o.maxMinutes = Number(val());
    else if (a === '--slow') o.slow = Number(val());
    else if (a === '--plan-only') o.planOnly = true;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node bench/chaos.js --rounds N --seed S [--dir DIR] [--report FILE] [--grace S] ' +
          '[--converge-timeout S] [--max-minutes M] [--slow S] [--plan-only] [--quiet]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(o.grace > 0)) throw new Error('--grace must be > 0');
  if (!(o.maxMinutes >= 0)) throw new Error('--max-minutes must be >= 0');
  return o;
}

// ------------------------------------------------------------------------------------------------- plan

/** mulberry32: a small deterministic PRNG, uniform in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The whole fault sequence, a pure function of (seed, rounds): the size the cluster has before each round
 * follows from the plan itself (only `scale` and the scale-up variant of `lose-add-reply` change it).
 * Every round draws the fault kind (again while it does not fit the size: `terminate-two` needs 5) and
 * then exactly three numbers, used or not, so one round's parameters never shift the next round's draws.
 */
function makePlan(seed, rounds) {
  const rand = mulberry32(seed);
  const plan = [];
  let size = START_SIZE;
  for (let r = 1; r <= rounds; r++) {
    let fault = 'kill';
    for (let tries = 0; tries < 64; tries++) {
      const f = FAULTS[Math.floor(rand() * FAULTS.length)];
      if (f === 'terminate-two' && size !== 5) continue;
      // FAILURE-SCENARIOS 13 and 15 are made for 3 members (a retained termination needs a frozen member
      // to make the removal unsafe, which 5 members absorb), and a restore of 7 takes long.
      if ((f === 'total-loss' || f === 'retained-thaw') && size !== 3) continue;
      fault = f;
      break;
    }
    const [r1, r2, r3] = [rand(), rand(), rand()];
    const step = { round: r, fault, size, targets: [], params: {} };
    const first = Math.floor(r1 * size);
    switch (fault) {
      case 'terminate':
      case 'kill':
      case 'kill-wipe':
      case 'reboot':
        step.targets = [first];
        break;
      case 'freeze-thaw':
        step.targets = [first];
        step.params.freezeSeconds = 2 + Math.floor(r2 * 4); // 2..5 s
        break;
      case 'scale': {
        const choices = SIZES.filter((s) => s !== size);
        step.params.toSize = choices[Math.floor(r2 * choices.length)];
        size = step.params.toSize;
        break;
      }
      case 'terminate-two':
      case 'retained-thaw': {
        // retained-thaw: the first is frozen, the second terminated (retained), then the first thawed
        const j = Math.floor(r2 * (size - 1));
        step.targets = [first, j >= first ? j + 1 : j];
        break;
      }
      case 'total-loss':
        step.targets = Array.from({ length: size }, (_, i) => i);
        break;
      case 'lose-add-reply':
        if (size < MAX_SIZE && r3 < 0.5) {
          step.params.then = 'scale-up';
          step.params.toSize = size + 1;
          size += 1;
        } else {
          step.params.then = 'kill';
          step.targets = [first];
        }
        break;
    }
    plan.push(step);
  }
  return plan;
}

function describeStep(s) {
  switch (s.fault) {
    case 'scale':
      return `scale ${s.size}->${s.params.toSize}`;
    case 'freeze-thaw':
      return `freeze ${s.params.freezeSeconds}s`;
    case 'lose-add-reply':
      return s.params.then === 'scale-up' ? `lose-add-reply+scale ${s.params.toSize}` : 'lose-add-reply+kill';
    default:
      return s.fault;
  }
}

const planFingerprint = (plan) =>
  crypto
    .createHash('sha256')
    .update(JSON.stringify(plan.map((s) => [s.fault, s.size, s.targets, s.params])))
    .digest('hex')
    .slice(0, 16);

// ------------------------------------------------------------------------------------------------ fleet

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cli(dir, args, timeoutMs) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--dir', dir],
      { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({
          code,
          stdout,
          stderr: stderr || (err && !stderr ? String(err.message) : ''),
          ms: Date.now() - t0,
        });
      },
    );
  });
}

async function cliJson(dir, args, timeoutMs) {
  const r = await cli(dir, args, timeoutMs);
  if (r.code !== 0) throw new Error(`etcd-fleet ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`etcd-fleet ${args.join(' ')}: no JSON: ${r.stdout.slice(0, 200)}`);
  }
}

/*
 * The fleet puts each dir on a 127.K.0.0/16 block, K from a hash of the dir's path (fleet/addresses.ts:
 * blockFor, mirrored here), with no check that another fleet on this machine already uses K. A collision
 * makes `up` hang (the instance listeners fail to bind), so a fresh dir is drawn until its block is free
 * of listeners and of running fleet supervisors.
 */
function fleetBlock(dir) {
  return 20 + (crypto.createHash('sha256').update(dir).digest().readUInt16BE(0) % 230);
}

function busyBlocks() {
  const busy = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = (line.trim().split(/\s+/)[1] || '').split(':')[0];
      const v4 = local.length === 32 ? local.slice(24) : local; // ::ffff:a.b.c.d in tcp6
      if (v4.length === 8 && v4.slice(6, 8).toUpperCase() === '7F') busy.add(parseInt(v4.slice(4, 6), 16));
    }
  }
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    /* no /proc */
  }
  for (const pid of pids) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.findIndex((a) => a.endsWith('supervisor-main.js'));
      if (i >= 0 && argv[i + 1]) busy.add(fleetBlock(JSON.parse(argv[i + 1]).dir));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return busy;
}

function freshFleetDir() {
  const busy = busyBlocks();
  let dir = '';
  for (let i = 0; i < 50; i++) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-fleet-'));
    if (!busy.has(fleetBlock(dir))) return dir;
    fs.rmdirSync(dir);
  }
  return dir;
}

const ipKey = (ip) =>
  ip
    .split('.')
    .map((x) => x.padStart(3, '0'))
    .join('.');
/** The instances a round can target: InService, sorted by IP (deterministic positions). */
const targetable = (s) =>
  s.instances
    .filter((i) => i.lifecycleState === 'InService')
    .sort((a, b) => (ipKey(a.ip) < ipKey(b.ip) ? -1 : ipKey(a.ip) > ipKey(b.ip) ? 1 : 0));
const voterEndpoints = (s) =>
  s.instances
    .filter((i) => i.role === 'voter' && i.lifecycleState === 'InService')
    .map((i) => `http://${i.ip}:2379`);

/** Polls `status --json` about once a second: the writer's endpoints and the voter timeline. */
class Poller {
  constructor(dir, maxSamples = 20_000) {
    this.dir = dir;
    this.maxSamples = maxSamples;
    this.samples = [];
    this.latest = undefined;
    this.stopped = false;
  }
  start() {
    this.done = (async () => {
      while (!this.stopped && this.samples.length < this.maxSamples) {
        const t0 = Date.now();
        const r = await cli(this.dir, ['status', '--json'], 30_000);
        const t1 = Date.now();
        if (r.code === 0) {
          try {
            const s = JSON.parse(r.stdout);
            this.latest = s;
            this.samples.push({
              t: Math.round((t0 + t1) / 2),
              voters: s.instances.filter((i) => i.role === 'voter').map((i) => i.id),
              leader: (s.instances.find((i) => i.leader) || {}).id || '',
              ids: s.instances.map((i) => i.id),
              terminating: s.instances
                .filter((i) => i.lifecycleState.startsWith('Terminating'))
                .map((i) => i.id),
              clusterId: s.clusterId,
            });
          } catch {
            /* a torn line: skip this sample */
          }
        }
        await sleep(Math.max(0, 1000 - (Date.now() - t0)));
      }
    })();
  }
  async stop() {
    this.stopped = true;
    await this.done;
  }
}

/** The steady writer: sequential keys, each counted only once etcd acknowledged it. */
class Writer {
  constructor(prefix, endpointsOf, { maxWrites = 2_000_000, intervalMs = 15, deadlineMs = 1500 } = {}) {
    this.prefix = prefix;
    this.endpointsOf = endpointsOf;
    this.maxWrites = maxWrites;
    this.intervalMs = intervalMs;
    this.deadlineMs = deadlineMs;
    this.acked = 0; // keys 0 .. acked-1 are acknowledged (a key is retried until acknowledged)
    this.ackTimes = [];
    this.failures = []; // { start, end, error }
    this.stopped = false;
    this.attempts = 0;
    this.paused = false;
  }
  /** Stops writing after the write in flight; resolves once nothing is in flight (a backup covers every ack). */
  pause() {
    this.paused = true;
    return new Promise((resolve) => (this.onIdle = resolve));
  }
  resume() {
    this.paused = false;
  }
  key(n) {
    return `${this.prefix}/${String(n).padStart(8, '0')}`;
  }
  client(endpoints) {
    const { Etcd3 } = require('etcd3');
    const { noop } = require('cockatiel');
    // No retry, no breaker: one attempt per write on the endpoint the writer picked.
    return new Etcd3({
      hosts: endpoints,
      dialTimeout: 1500,
      defaultCallOptions: () => ({ deadline: Date.now() + this.deadlineMs }),
      faultHandling: { global: noop, host: () => noop },
    });
  }
  start() {
    this.done = (async () => {
      // One client per endpoint, the endpoint picked here (round robin, an endpoint that just failed is
      // skipped for 3 s): every failure is dated and attributed to the instance it was sent to.
      const clients = new Map();
      const badUntil = new Map();
      let rr = 0;
      try {
        while (!this.stopped && this.attempts < this.maxWrites) {
          if (this.paused) {
            if (this.onIdle) this.onIdle();
            this.onIdle = undefined;
            await sleep(50);
            continue;
          }
          this.attempts++;
          const endpoints = this.endpointsOf();
          for (const [e, c] of clients) {
            if (!endpoints.includes(e)) {
              c.close();
              clients.delete(e);
            }
          }
          const now = Date.now();
          let ready = endpoints.filter((e) => (badUntil.get(e) || 0) <= now);
          if (ready.length === 0) ready = endpoints;
          if (ready.length === 0) {
            await sleep(200);
            continue;
          }
          const ep = ready[rr++ % ready.length];
          let c = clients.get(ep);
          if (!c) {
            c = this.client([ep]);
            clients.set(ep, c);
          }
          const n = this.acked;
          const start = Date.now();
          try {
            await c.put(this.key(n)).value(String(n));
            this.acked++;
            this.ackTimes.push(Date.now());
          } catch (err) {
            const end = Date.now();
            badUntil.set(ep, end + 3000);
            const error = String((err && err.message) || err).slice(0, 160);
            this.failures.push({ start, end, error, remote: ep.replace(/^https?:\/\//, '').split(':')[0] });
          }
          await sleep(this.intervalMs);
        }
      } finally {
        for (const c of clients.values()) c.close();
        if (this.onIdle) this.onIdle();
      }
    })();
  }
  async stop() {
    this.stopped = true;
    await this.done;
    this.stoppedAt = Date.now();
  }
}

/**
 * Every key 0 .. n-1 under the prefix, read back with linearizable range reads in pages: key i must hold
 * exactly String(i) (the writer's value); a key with another value counts as lost like a missing one.
 */
async function readBack(prefix, endpoints, n) {
  const { Etcd3 } = require('etcd3');
  const c = new Etcd3({
    hosts: endpoints,
    dialTimeout: 3000,
    defaultCallOptions: () => ({ deadline: Date.now() + 15_000 }),
  });
  const PAGE = 10_000;
  const missing = [];
  let present = 0;
  let wrongValues = 0;
  try {
    for (let lo = 0; lo < n; lo += PAGE) {
      const hi = Math.min(n, lo + PAGE);
      const k = (i) => `${prefix}/${String(i).padStart(8, '0')}`;
      let got;
      for (let attempt = 1; ; attempt++) {
        try {
          got = await c
            .getAll()
            .inRange({ start: k(lo), end: k(hi) })
            .strings(); // linearizable (etcd3 default)
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await sleep(1000);
        }
      }
      for (let i = lo; i < hi; i++) {
        if (got[k(i)] === String(i)) present++;
        else {
          if (k(i) in got) wrongValues++;
          if (missing.length < 20) missing.push(k(i) in got ? `${k(i)}=${JSON.stringify(got[k(i)])}` : k(i));
        }
      }
    }
  } finally {
    c.close();
  }
  return { checked: n, present, missingCount: n - present, wrongValues, missingSample: missing };
}

// ------------------------------------------------------------------------------------- quorum checking

/**
 * Was a quorum of the current voters running and not frozen at time t? Voters come from the latest
 * status sample at or before t (one that had a member list); "down" is what this script disrupted
 * (killed, frozen, rebooting, terminated) at t, plus instances the sample shows terminating.
 */
function quorumUp(t, samples, disruptions) {
  // A fault on the leader (freeze, kill, reboot, terminate) leaves the cluster without a leader until the
  // others' election timeout (randomized 1-2 s in etcd) runs out and an election completes: that wait is
  // the fault's, not the automation's, so no quorum counts as serving during it.
  if (inElection(t, samples, disruptions)) return { up: false, voters: 0, running: 0, election: true };
  let s;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (samples[i].t <= t && samples[i].voters.length > 0) {
      s = samples[i];
      break;
    }
  }
  s ??= samples.find((x) => x.voters.length > 0);
  if (!s) return { up: false, voters: 0, running: 0 };
  const down = new Set(s.terminating);
  for (const d of disruptions) if (d.from <= t && t < d.to) down.add(d.id);
  const running = s.voters.filter((id) => !down.has(id)).length;
  return { up: running >= Math.floor(s.voters.length / 2) + 1, voters: s.voters.length, running };
}

/** etcd's 2x election timeout (2 s at the default 1 s) plus one campaign round (0.5 s, generous on 2 cores). */
const ELECTION_ALLOWANCE_MS = 2500;

/**
 * Is t inside a leader election? Two kinds are the fault's or etcd's, not the automation's: the one a fault
 * on the leader forces (a freeze, kill or reboot stops it at once), and any change of leader the status
 * sampler saw, e.g. when the lifecycle Lambda removed a terminated or scaled-in leader's member. The sampler
 * sees a change only to its resolution (about 1 s): from the last sample with the old leader to the first
 * with another, plus the allowance.
 */
function inElection(t, samples, disruptions) {
  if (disruptions.some((d) => d.leader && d.from <= t && t < d.from + ELECTION_ALLOWANCE_MS)) return true;
  let prev;
  for (const x of samples) {
    if (x.voters.length === 0) continue; // no member list in this sample
    if (prev && prev.leader !== x.leader && prev.t <= t && t < x.t + ELECTION_ALLOWANCE_MS) return true;
    if (x.t > t) break;
    prev = x;
  }
  return false;
}

/**
 * Write-refusal windows: a window opens at the start of a failed write and closes at the end of the next
 * acknowledged one. A write that failed on an instance this script had made unreachable (killed, frozen,
 * rebooting, terminated) says nothing about the cluster, so it neither opens nor extends a window; the
 * writer skips a failed endpoint for 3 s, so the next writes go to other members.
 */
function refusalWindows(ackTimes, failures, downIps, stoppedAt) {
  const windows = [];
  let open;
  let a = 0;
  const isDown = (f) =>
    f.remote && downIps.some((d) => d.ip === f.remote && d.from <= f.end && f.start < d.to);
  for (const f of failures) {
    if (isDown(f)) continue;
    if (open && a < ackTimes.length && ackTimes[a] <= f.start) {
      windows.push(open); // an ack came between: close the window at it
      open = undefined;
    }
    if (!open) {
      while (a < ackTimes.length && ackTimes[a] <= f.start) a++;
      open = { from: f.start, to: a < ackTimes.length ? ackTimes[a] : stoppedAt, failures: 0, errors: [] };
      if (a >= ackTimes.length) open.open = true;
    }
    open.failures++;
    if (open.errors.length < 5 && !open.errors.includes(f.error)) open.errors.push(f.error);
  }
  if (open) windows.push(open);
  return windows;
}

/** The longest stretch of a refusal window during which a quorum was up (stepped at 100 ms). */
function quorumUpStretch(w, samples, disruptions) {
  let best = 0;
  let cur = 0;
  let at = { voters: 0, running: 0 };
  for (let t = w.from; t < w.to; t += 100) {
    const q = quorumUp(t, samples, disruptions);
    if (q.up) {
      cur += Math.min(100, w.to - t);
      if (cur > best) {
        best = cur;
        at = q;
      }
    } else cur = 0;
  }
  return { ms: best, ...at };
}

// ------------------------------------------------------------------------------------------- artifacts

function copyArtifacts(dir, dest) {
  try {
    fs.mkdirSync(dest, { recursive: true });
    for (const f of ['supervisor.log', 'supervisor.out']) {
      const p = path.join(dir, f);
      if (fs.existsSync(p)) fs.copyFileSync(p, path.join(dest, f));
    }
    const base = path.join(dir, 'instances');
    if (fs.existsSync(base)) {
      for (const d of fs.readdirSync(base)) {
        for (const f of ['agent.log', 'etcd.log']) {
          const p = path.join(base, d, f);
          if (fs.existsSync(p)) fs.copyFileSync(p, path.join(dest, `${d}.${f}`));
        }
      }
    }
    return dest;
  } catch (err) {
    return `copy failed: ${err.message}`;
  }
}

function agentLog(dir, id) {
  const base = path.join(dir, 'instances');
  if (!fs.existsSync(base)) return '';
  const d = fs.readdirSync(base).find((x) => x.replace(/^\d+-/, '') === id);
  const p = d && path.join(base, d, 'agent.log');
  return p && fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
}

// ------------------------------------------------------------------------------------------------ main

function table(rows) {
  const head = ['ROUND', 'FAULT', 'TARGET', 'CONVERGE S', 'ACKED', 'FAILURES', 'MAX WINDOW S', 'RESULT'];
  const body = rows.map((r) => [
    String(r.round),
    describeStep(r),
    r.targetText || '-',
    r.convergeSeconds === null ? '-' : r.convergeSeconds.toFixed(1),
    String(r.acked),
    String(r.writeFailures),
    r.maxWindowSeconds.toFixed(1),
    r.ok ? 'ok' : `FAIL: ${r.problems.join('; ')}`.slice(0, 120),
  ]);
  const w = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const fmt = (r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(w[c]))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const plan = makePlan(o.seed, o.rounds);
  const fingerprint = planFingerprint(plan);
  const log = (...a) => {
    if (!o.quiet) console.log(...a);
  };
  log(`chaos: seed ${o.seed}, ${o.rounds} rounds, plan fingerprint ${fingerprint}`);
  log(
    `plan: ${plan.map((s) => `${s.round}:${describeStep(s)}${s.targets.length ? `@${s.targets.join('+')}` : ''}`).join(' ')}`,
  );
  if (o.planOnly) return 0;

  const dir = o.dir || freshFleetDir();
  if (o.dir && busyBlocks().has(fleetBlock(dir)))
    console.error(
      `chaos: warning: another fleet uses the loopback block 127.${fleetBlock(dir)}.x.x of ${dir}`,
    );
  const artifactsBase = path.join(os.tmpdir(), `chaos-artifacts-${o.seed}-${process.pid}`);
  const startedAt = Date.now();
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    try {
      execFileSync(process.execPath, [BIN, 'down', '--dir', dir], { timeout: 60_000, stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  };
  const onSignal = (sig) => {
    console.error(`chaos: ${sig}: tearing the fleet down`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rounds = [];
  const disruptions = []; // { id, from, to }
  const report = {
    seed: o.seed,
    roundsRequested: o.rounds,
    planFingerprint: fingerprint,
    options: { grace: o.grace, convergeTimeout: o.convergeTimeout, maxMinutes: o.maxMinutes },
    machine: `${os.cpus().length} cpu, node ${process.version}`,
    startedAt: new Date(startedAt).toISOString(),
    plan,
    rounds,
  };
  let poller;
  let writer;
  let fatal;
  let truncated = false;
  let clusterId = '';
  let readback;
  try {
    const upArgs = [
      'up',
      '--size',
      String(START_SIZE),
      '--reconcile-interval',
      String(RECONCILE_INTERVAL_S),
      '--terminate-timeout',
      '10',
      // total-loss rounds: the reconcile restores the newest snapshot 5 s after the loss
      '--restore',
      'automatic',
      '--restore-after',
      '5',
    ];
    const up = await cliJson(dir, [...upArgs, '--json'], 240_000);
    clusterId = up.clusterId;
    report.upSeconds = (Date.now() - startedAt) / 1000;
    log(`fleet up in ${report.upSeconds.toFixed(1)} s: ${dir}, cluster ${clusterId}`);
    poller = new Poller(dir);
    poller.latest = up;
    poller.start();
    const prefix = `chaos/${o.seed}-${startedAt}`;
    writer = new Writer(prefix, () => {
      const s = poller.latest;
      const v = s ? voterEndpoints(s) : [];
      return v.length > 0 ? v : s ? s.endpoints : [];
    });
    writer.start();
    await sleep(1000);

    const T = String(o.convergeTimeout);
    const tMs = (o.convergeTimeout + 60) * 1000;
    for (const step of plan) {
      if (o.maxMinutes > 0 && Date.now() - startedAt > o.maxMinutes * 60_000) {
        truncated = true;
        log(`chaos: --max-minutes ${o.maxMinutes} reached: stopping before round ${step.round}`);
        break;
      }
      const row = {
        ...step,
        targetIds: [],
        targetText: '',
        problems: [],
        notes: [],
        convergeSeconds: null,
        acked: 0,
        writeFailures: 0,
        maxWindowSeconds: 0,
      };
      rounds.push(row);
      row.startMs = Date.now();
      const ackedBefore = writer.acked;
      const failedBefore = writer.failures.length;
      try {
        const s0 = await cliJson(dir, ['status', '--json'], 60_000);
        const list = targetable(s0);
        if (list.length !== step.size) row.notes.push(`size ${list.length} != planned ${step.size}`);
        const targets = step.targets.map((i) => list[i % list.length]);
        row.targetIds = targets.map((t) => t.id);
        row.targetText = targets
          .map((t, k) => `#${step.targets[k]} ${t.ip}${t.leader ? ' (leader)' : ''}`)
          .join(', ');
        const down = (id, until = Infinity) => {
          const inst = s0.instances.find((i) => i.id === id);
          const d = {
            id,
            ip: inst ? inst.ip : '',
            leader: Boolean(inst && inst.leader),
            from: Date.now(),
            to: until,
            round: step.round,
          };
          disruptions.push(d);
          return d;
        };
        let healAt = Date.now();
        const must = async (args, timeout = tMs) => {
          const r = await cli(dir, args, timeout);
          if (r.code !== 0)
            throw new Error(
              `etcd-fleet ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`,
            );
          return r.stdout;
        };
        const terminate = async (id) => {
          const out = JSON.parse(await must(['terminate', id, '--json', '--timeout', T]));
          if (out.result !== 'terminated')
            row.problems.push(`terminate ${id}: ${out.result} (no other fault was active)`);
        };
        switch (step.fault) {
          case 'terminate':
            down(targets[0].id);
            await terminate(targets[0].id);
            break;
          case 'terminate-two':
            for (const t of targets) down(t.id);
            await Promise.all(targets.map((t) => terminate(t.id)));
            break;
          case 'kill':
          case 'kill-wipe':
            down(targets[0].id);
            await must(['kill', targets[0].id, ...(step.fault === 'kill-wipe' ? ['--wipe'] : [])]);
            break;
          case 'freeze-thaw': {
            const d = down(targets[0].id);
            await must(['freeze', targets[0].id]);
            await sleep(step.params.freezeSeconds * 1000);
            await must(['thaw', targets[0].id]);
            d.to = healAt = Date.now();
            break;
          }
          case 'reboot': {
            const d = down(targets[0].id);
            const after = JSON.parse(await must(['reboot', targets[0].id, '--json', '--timeout', T]));
            d.to = Date.now();
            const again = after.instances.find((i) => i.id === targets[0].id);
            if (!again || again.memberId !== targets[0].memberId)
              row.problems.push(
                `reboot changed the member id (${targets[0].memberId} -> ${again && again.memberId})`,
              );
            break;
          }
          case 'scale':
            await must(['scale', String(step.params.toSize), '--json', '--timeout', T]);
            break;
          case 'total-loss': {
            // FAILURE-SCENARIOS 13: a backup covering every acknowledged write (the writer pauses), then every
            // instance kill --wipe. The automatic policy must restore it; a new, empty cluster would lose
            // every key (the read-back at the end), a new cluster id is expected.
            await writer.pause();
            try {
              const b = JSON.parse(await must(['backup']));
              if (!b.ok) throw new Error(`backup failed: ${b.reason}`);
              for (const t of targets) {
                down(t.id);
                await must(['kill', t.id, '--wipe']);
              }
              const w0 = Date.now();
              const deadline = w0 + o.convergeTimeout * 1000;
              let st;
              for (;;) {
                st = JSON.parse(await must(['status', '--json']));
                if (st.converged && st.clusterId !== clusterId) break;
                if (Date.now() > deadline) break;
                await sleep(500);
              }
              if (st.converged && st.clusterId !== clusterId) {
                row.notes.push(
                  `restored: cluster ${clusterId} -> ${st.clusterId} in ${((Date.now() - w0) / 1000).toFixed(1)} s`,
                );
                clusterId = st.clusterId;
              }
            } finally {
              writer.resume();
            }
            break;
          }
          case 'retained-thaw': {
            // FAILURE-SCENARIOS 15: freeze one, terminate another (retained), the replacement removes the
            // frozen member, thaw: the reconcile must finish the retained termination and all converge.
            const [frozen, retained] = targets;
            const d = down(frozen.id);
            down(retained.id);
            await must(['freeze', frozen.id]);
            try {
              const out = JSON.parse(await must(['terminate', retained.id, '--json', '--timeout', T]));
              if (out.result !== 'retained')
                row.notes.push(`terminate ${retained.id}: ${out.result}, not retained`);
              const deadline = Date.now() + o.convergeTimeout * 1000;
              for (;;) {
                const st = JSON.parse(await must(['status', '--json']));
                const f = st.instances.find((i) => i.id === frozen.id);
                if (!f || f.memberId === '' || Date.now() > deadline) break;
                await sleep(500);
              }
            } finally {
              await must(['thaw', frozen.id]);
              d.to = healAt = Date.now();
            }
            break;
          }
          case 'lose-add-reply':
            await must(['fault', 'lose-add-reply']);
            if (step.params.then === 'scale-up')
              await must(['scale', String(step.params.toSize), '--json', '--timeout', T]);
            else {
              down(targets[0].id);
              await must(['kill', targets[0].id]);
            }
            break;
        }
        const w = await cli(dir, ['wait', '--timeout', T, '--json'], tMs);
        const waitedSeconds = (Date.now() - healAt) / 1000;
        if (w.code !== 0) {
          row.problems.push(`not converged within ${T} s: ${w.stderr.trim().slice(0, 200)}`);
          row.converged = false;
        } else {
          row.converged = true;
          row.convergeSeconds = waitedSeconds;
          const s1 = JSON.parse(w.stdout);
          if (!/^[0-9a-f]+$/.test(s1.clusterId) || s1.clusterId !== clusterId)
            row.problems.push(`cluster id ${s1.clusterId} (expected ${clusterId})`);
          const expectSize = step.params.toSize ?? step.size;
          if (s1.desired !== expectSize) row.problems.push(`desired ${s1.desired} != ${expectSize}`);
          if (step.fault === 'retained-thaw') {
            // The reconcile removes the retained member, then terminates the instance: `wait` may return
            // between the two. Bounded: 10 reconcile intervals.
            const until = Date.now() + 10 * RECONCILE_INTERVAL_S * 1000;
            let r = s1.instances.find((i) => i.id === row.targetIds[1]);
            while (r && Date.now() < until) {
              await sleep(500);
              const st = JSON.parse(await must(['status', '--json']));
              r = st.instances.find((i) => i.id === row.targetIds[1]);
            }
            if (r) row.problems.push(`retained instance ${r.id} still there (${r.lifecycleState})`);
            else row.notes.push('retained termination finished');
          }
          if (step.fault === 'lose-add-reply') {
            const fresh = s1.instances.filter((i) => !s0.instances.some((x) => x.id === i.id));
            const logs = fresh.map((i) => agentLog(dir, i.id));
            const faulty = logs.find((l) => l.includes('simulated: member add reply lost'));
            if (!faulty) row.notes.push('lost add reply not exercised (no add by the new instance)');
            else {
              // the fault preload (fleet/faults/lose-add-reply.ts) logs every MemberAdd the agent sends
              const adds = (faulty.match(/"message":"fault: MemberAdd sent"/g) || []).length;
              if (adds !== 1)
                row.problems.push(`the instance with the lost add reply added itself ${adds} times`);
              else row.notes.push('lost add reply: retried, own entry reused');
            }
          }
        }
      } catch (err) {
        row.problems.push(String(err.message || err).slice(0, 400));
      }
      row.endMs = Date.now();
      row.acked = writer.acked - ackedBefore;
      row.writeFailures = writer.failures.length - failedBefore;
      if (row.convergeSeconds !== null && row.convergeSeconds > o.slow)
        row.notes.push(`slow: converged after ${row.convergeSeconds.toFixed(1)} s (> --slow ${o.slow})`);
      if (row.problems.length > 0 || (row.convergeSeconds !== null && row.convergeSeconds > o.slow))
        row.artifacts = copyArtifacts(dir, path.join(artifactsBase, `round-${step.round}`));
      log(
        `round ${String(step.round).padStart(3)}  ${describeStep(step).padEnd(22)} ${row.targetText.padEnd(34)} ` +
          `converge ${row.convergeSeconds === null ? '-' : row.convergeSeconds.toFixed(1)} s  acked ${row.acked}  failures ${row.writeFailures}` +
          (row.problems.length ? `  PROBLEMS: ${row.problems.join('; ')}` : '') +
          (row.artifacts ? `  (logs: ${row.artifacts})` : ''),
      );
      if (!row.converged) {
        fatal = `round ${step.round} did not converge: the next fault would overlap, stopping`;
        break;
      }
    }
  } catch (err) {
    fatal = String((err && err.stack) || err);
  } finally {
    if (writer) await writer.stop();
    if (poller) await poller.stop();
    try {
      if (writer && poller) {
        const st = await cliJson(dir, ['status', '--json'], 60_000).catch(() => poller.latest);
        readback = await readBack(writer.prefix, st ? voterEndpoints(st).concat([]) : [], writer.acked);
      }
    } catch (err) {
      readback = {
        error: String(err.message || err),
        checked: writer ? writer.acked : 0,
        present: 0,
        missingCount: -1,
      };
    }
    const anyProblem = rounds.some((r) => r.problems.length > 0);
    if ((fatal || anyProblem || (readback && readback.missingCount !== 0)) && fs.existsSync(dir))
      report.finalArtifacts = copyArtifacts(dir, path.join(artifactsBase, 'final'));
    cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  // Refusal windows → rounds; a window longer than the grace with a quorum up counts against the automation.
  const samples = poller ? poller.samples : [];
  // An instance's IP counts as down from the fault until the fault healed (thaw, reboot done) or, for an
  // instance that goes away, until status no longer lists it (a replacement may get the same IP).
  const downIps = disruptions.map((d) => {
    let to = d.to;
    if (to === Infinity) {
      const gone = samples.find((x) => x.t > d.from && !x.ids.includes(d.id));
      to = gone ? gone.t : writer ? writer.stoppedAt : Date.now();
    }
    return { ip: d.ip, from: d.from, to };
  });
  const windows = writer ? refusalWindows(writer.ackTimes, writer.failures, downIps, writer.stoppedAt) : [];
  const failuresAtDown = writer ? writer.failures.length - windows.reduce((n, w) => n + w.failures, 0) : 0;
  const violations = [];
  for (const w of windows) {
    const seconds = (w.to - w.from) / 1000;
    const row = rounds.find((r) => w.from >= r.startMs && w.from < r.endMs) ?? rounds[rounds.length - 1];
    if (row) row.maxWindowSeconds = Math.max(row.maxWindowSeconds, seconds);
    if (seconds <= o.grace) continue;
    const stretch = quorumUpStretch(w, samples, disruptions);
    const entry = {
      round: row ? row.round : 0,
      fault: row ? row.fault : '',
      from: new Date(w.from).toISOString(),
      seconds,
      quorumUpSeconds: stretch.ms / 1000,
      voters: stretch.voters,
      running: stretch.running,
      failures: w.failures,
      errors: w.errors,
    };
    if (stretch.ms / 1000 > o.grace) {
      violations.push(entry);
      if (row)
        row.problems.push(
          `writes refused ${seconds.toFixed(1)} s with a quorum up (${stretch.running}/${stretch.voters} running)`,
        );
    } else if (row)
      row.notes.push(
        `writes refused ${seconds.toFixed(1)} s, a quorum up for at most ${(stretch.ms / 1000).toFixed(1)} s of it (<= grace)`,
      );
  }
  for (const r of rounds) {
    r.ok = r.problems.length === 0;
    delete r.startMs;
    delete r.endMs;
  }

  const totals = {
    roundsRun: rounds.length,
    roundsConverged: rounds.filter((r) => r.converged).length,
    roundsOk: rounds.filter((r) => r.ok).length,
    writesAcked: writer ? writer.acked : 0,
    writeAttempts: writer ? writer.attempts : 0,
    writeFailures: writer ? writer.failures.length : 0,
    writeFailuresAtDownInstances: failuresAtDown,
    refusalWindows: windows.length,
    maxRefusalWindowSeconds: Math.max(0, ...windows.map((w) => (w.to - w.from) / 1000)),
    quorumViolations: violations.length,
    lostWrites: readback ? readback.missingCount : -1,
    maxConvergeSeconds: Math.max(0, ...rounds.map((r) => r.convergeSeconds || 0)),
    faults: Object.fromEntries(FAULTS.map((f) => [f, rounds.filter((r) => r.fault === f).length])),
    durationSeconds: (Date.now() - startedAt) / 1000,
  };
  const pass =
    !fatal &&
    !truncated &&
    rounds.length === o.rounds &&
    totals.roundsOk === rounds.length &&
    totals.roundsConverged === rounds.length &&
    totals.quorumViolations === 0 &&
    totals.lostWrites === 0;
  Object.assign(report, { totals, readback, violations, fatal: fatal || null, truncated, pass });
  report.windows = windows
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
    `\nseed ${o.seed}  plan ${fingerprint}  rounds ${rounds.length}/${o.rounds}  converged ${totals.roundsConverged}  ` +
      `acked ${totals.writesAcked}  write failures ${totals.writeFailures}  max refusal ${totals.maxRefusalWindowSeconds.toFixed(1)} s  ` +
      `quorum violations ${totals.quorumViolations}  lost writes ${totals.lostWrites}  ` +
      `max converge ${totals.maxConvergeSeconds.toFixed(1)} s  ${totals.durationSeconds.toFixed(0)} s`,
  );
  if (fatal) console.log(`fatal: ${fatal}`);
  if (report.finalArtifacts) console.log(`fleet logs copied to ${artifactsBase}`);
  console.log(`report: ${o.report}\n${pass ? 'PASS' : 'FAIL'}`);
  return pass ? 0 : 1;
}

module.exports = {
  readBack,
  refusalWindows,
  fleetBlock,
  busyBlocks,
  mulberry32,
  makePlan,
  describeStep,
  planFingerprint,
  quorumUp,
  quorumUpStretch,
  FAULTS,
};

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
