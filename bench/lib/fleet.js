/*
 * Driving `etcd-fleet` from the bench (as bench/fleet-timings.js does) and reading its logs.
 */
'use strict';
const { execFile, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'etcd-fleet.js');

/** Fleet dirs created and not yet brought down. */
const open = new Set();

function fleetAsync(dir, args, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--dir', dir],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`etcd-fleet ${args.join(' ')}: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The fleet's 127.K block for a dir (same hash as fleet/addresses.ts blockFor). */
function blockFor(dir) {
  const h = crypto.createHash('sha256').update(path.resolve(dir)).digest();
  return 20 + (h.readUInt16BE(0) % 230);
}

function blocksInUse() {
  try {
    const out = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' });
    const used = new Set();
    for (const m of out.matchAll(/\s127\.(\d+)\.\d+\.\d+:\d+/g)) used.add(Number(m[1]));
    return used;
  } catch {
    return new Set();
  }
}

/** A fresh fleet dir whose address block no running process (e.g. another suite's fleet) listens in. */
function newFleetDir(tag) {
  for (let i = 0; i < 50; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${tag}-`));
    if (!blocksInUse().has(blockFor(dir))) {
      open.add(dir);
      return dir;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('no free fleet address block found');
}

async function down(dir) {
  try {
    await fleetAsync(dir, ['down'], 60_000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    open.delete(dir);
  }
}

/** Synchronous last-resort teardown (exit handlers). */
function downAllSync() {
  for (const dir of open) {
    try {
      execFileSync(process.execPath, [BIN, 'down', '--dir', dir], { timeout: 30_000, stdio: 'ignore' });
    } catch {
      /* fall through to rm */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  open.clear();
}

function jsonLines(file) {
  if (!fs.existsSync(file)) return [];
  const out = [];
  for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l);
      if (o.time) o.t = Date.parse(o.time);
      out.push(o);
    } catch {
      /* partial line */
    }
  }
  return out;
}

function supervisorLog(dir) {
  return jsonLines(path.join(dir, 'supervisor.log'));
}

/** Agent logs of the instances still on disk (a terminated instance's dir is removed by the fleet). */
function agentLogs(dir) {
  const base = path.join(dir, 'instances');
  if (!fs.existsSync(base)) return [];
  return fs.readdirSync(base).map((d) => ({
    id: d.replace(/^\d+-/, ''),
    lines: jsonLines(path.join(base, d, 'agent.log')),
  }));
}

/**
 * One join into a running cluster, from its agent log (null if it did not add itself as a learner):
 *   joinMs       'settings written'.ms: agent main() start → settings written. Discover (IMDS,
 *                DescribeAutoScalingInstances, DescribeAutoScalingGroups, member list, health), plan,
 *                lock, add as learner, write the env file. THE agent overhead figure.
 *   resolveMs    main() start → 'identity' (IMDS + DescribeAutoScalingInstances)
 *   identityToAddedMs  'identity' → 'added as learner' (observe, plan, waits, lock, re-plan, add)
 *   plans, waits number of 'plan' lines, and of those with step 'wait'
 */
function joinOf(lines) {
  const written = lines.find((l) => l.message === 'settings written');
  const added = lines.find((l) => l.message === 'added as learner');
  const identity = lines.find((l) => l.message === 'identity');
  if (!written || !added || !identity) return null;
  const mainStart = written.t - written.ms;
  const plans = lines.filter((l) => l.message === 'plan' && l.t <= written.t);
  return {
    joinMs: written.ms,
    resolveMs: identity.t - mainStart,
    identityToAddedMs: added.t - identity.t,
    addedToWrittenMs: written.t - added.t,
    plans: plans.length,
    waits: plans.filter((p) => p.step === 'wait').map((p) => p.reason),
    mainStart,
  };
}

module.exports = { fleetAsync, newFleetDir, down, downAllSync, supervisorLog, agentLogs, joinOf, ROOT };
