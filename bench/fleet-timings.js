#!/usr/bin/env node
/*
 * Fleet timings quoted in the issue notes (a first step towards `npm run bench`):
 *   bootstrap3 / bootstrap5   `etcd-fleet up --size N` until converged (wall time of the command)
 *   agentJoinMs               join agent start → settings written, for joins into a running cluster
 *   terminateToRemovedMs      terminate → the lifecycle Lambda removed the member and completed CONTINUE
 *   terminateToPromotedMs     terminate → the replacement's agent promoted it to voter
 * Usage: node bench/fleet-timings.js [--joins 20] [--terminations 10] [--settle 6]   (after npm run build)
 * --settle S waits S seconds before each termination: etcd refuses a member removal ("unhealthy cluster")
 * until every member has been connected for 5 s, so back-to-back churn (--settle 0) measures that guard.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = path.join(__dirname, '..', 'bin', 'etcd-fleet.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

function fleet(dir, ...args) {
  return execFileSync(process.execPath, [BIN, ...args, '--dir', dir], { encoding: 'utf8', timeout: 600_000 });
}
function lines(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}
function agentLogs(dir) {
  const base = path.join(dir, 'instances');
  return fs
    .readdirSync(base)
    .map((d) => ({ id: d.replace(/^\d+-/, ''), lines: lines(path.join(base, d, 'agent.log')) }));
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

function timed(fn) {
  const t = Date.now();
  fn();
  return Date.now() - t;
}

function main() {
  const joinsWanted = arg('joins', 20);
  const terminations = arg('terminations', 10);
  const settle = arg('settle', 6);
  const out = {
    machine: `${os.cpus().length} cpu, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  };
  const mk = (n) => fs.mkdtempSync(path.join(os.tmpdir(), `timings-${n}-`));

  for (const size of [3, 5]) {
    const dir = mk(`boot${size}`);
    try {
      out[`bootstrap${size}Ms`] = timed(() => fleet(dir, 'up', '--size', String(size)));
    } finally {
      fleet(dir, 'down');
    }
  }

  const dir = mk('churn');
  const joinMs = [];
  const removedMs = [];
  const promotedMs = [];
  const seen = new Set();
  const collectJoins = () => {
    for (const a of agentLogs(dir)) {
      if (seen.has(a.id)) continue;
      const w = a.lines.find((l) => l.message === 'settings written');
      if (!w || !a.lines.some((l) => l.message === 'added as learner')) continue;
      seen.add(a.id);
      joinMs.push(w.ms);
    }
  };
  try {
    fleet(dir, 'up', '--size', '3');
    for (let i = 0; i < terminations; i++) {
      execFileSync('sleep', [String(settle)]);
      const s = JSON.parse(fleet(dir, 'status', '--json'));
      const victim = s.instances.find((x) => !x.leader && x.lifecycleState === 'InService');
      const before = new Set(s.instances.map((x) => x.id));
      const t0 = Date.now();
      fleet(dir, 'terminate', victim.id);
      const sup = lines(path.join(dir, 'supervisor.log'));
      const done = sup
        .filter((l) => l.message === 'terminate lifecycle action completed' && l.id === victim.id)
        .pop();
      if (done && done.result === 'CONTINUE') removedMs.push(done.ms);
      const after = JSON.parse(fleet(dir, 'status', '--json'));
      const heir = after.instances.find((x) => !before.has(x.id));
      const promoted = agentLogs(dir)
        .find((a) => a.id === heir.id)
        .lines.find((l) => l.message === 'promoted to voter');
      if (promoted) promotedMs.push(Date.parse(promoted.time) - t0);
      collectJoins();
    }
    while (joinMs.length < joinsWanted) {
      fleet(dir, 'scale', '5');
      collectJoins();
      fleet(dir, 'scale', '3');
    }
  } finally {
    fleet(dir, 'down');
  }
  out.agentJoinMs = { n: joinMs.length, p50: median(joinMs), p95: p95(joinMs) };
  out.settleSeconds = settle;
  out.terminateToRemovedMs = { n: removedMs.length, median: median(removedMs) };
  out.terminateToPromotedMs = { n: promotedMs.length, median: median(promotedMs) };
  console.log(JSON.stringify(out, null, 2));
}

main();
