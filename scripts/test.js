#!/usr/bin/env node
/*
 * `npm test`: the whole suite in two jest processes side by side, each one file at a time (--runInBand).
 *  - timed: everything that starts etcd, the fleet, systemd boxes or measures time (fleet, chaos, lifecycle,
 *    agent, adapters, systemd), in one process, so those tests never run beside each other;
 *  - synth: the rest (construct synth, the packed-library consumer app, core tables, stand-in, docs, ...):
 *    CPU work without timing assertions, run beside the timed process (about 3 minutes of the CI run).
 * The synth process's output is printed when it ends, so the two do not interleave; the exit code is
 * non-zero when either fails. With arguments (`npm test -- test/x`), one jest process runs just those.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const TIMED = ['test/fleet', 'test/chaos', 'test/lifecycle', 'test/agent', 'test/adapters', 'test/systemd'];

function run(args, output) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [jest, '--runInBand', ...args], {
      cwd: root,
      stdio: ['ignore', output ?? 'inherit', output ?? 'inherit'],
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const extra = process.argv.slice(2);
  if (extra.length > 0) return run(extra);
  const timedDirs = TIMED.map((d) => `<rootDir>/${d}/`);
  // The bundles are built once, before both start (jest's globalSetup would race in two processes).
  require(path.join(root, 'test', 'global-setup.js'))();
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'npm-test-')), 'synth.log');
  const fd = fs.openSync(logFile, 'w');
  const started = Date.now();
  const synth = run(['--testPathIgnorePatterns', '/node_modules/', ...timedDirs], fd).then((code) => {
    fs.closeSync(fd);
    process.stderr.write(
      `\n===== synth tests (beside the timed ones), ${Math.round((Date.now() - started) / 1000)} s, exit ${code} =====\n`,
    );
    process.stderr.write(fs.readFileSync(logFile, 'utf8'));
    fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
    return code;
  });
  const timed = run(TIMED);
  const [a, b] = await Promise.all([timed, synth]);
  process.stderr.write(`\n===== npm test: timed exit ${a}, synth exit ${b} =====\n`);
  return a !== 0 ? a : b;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
