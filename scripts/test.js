#!/usr/bin/env node
/*
 * `npm test`: the whole suite in two lanes side by side, each jest process one file at a time (--runInBand).
 *  - fleet lane: the fleets (test/fleet, test/chaos), in one process, so no two fleets ever run beside each
 *    other (each is timed against the others' absence); the most load-sensitive ones last
 *    (scripts/fleet-sequencer.js), when the other lane has usually ended;
 *  - other lane, one process after the other: the synth-only tests (construct synth, the packed-library
 *    consumer app, core tables, stand-in, docs: CPU work without timing assertions), then the tests that
 *    start single etcd clusters or systemd boxes (lifecycle, agent, adapters, systemd), beside the fleets.
 *    They use their own loopback addresses (127.0.x.x, 127.1.x.x, and 127.250.x.x for the systemd boxes),
 *    never a fleet's 127.20-249.x.x block.
 * The other lane's output is printed as each of its processes ends, so the two do not interleave; the exit
 * code is non-zero when any fails. With arguments (`npm test -- test/x`), one jest process runs just those.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const FLEET = ['test/fleet', 'test/chaos'];
const ETCD = ['test/lifecycle', 'test/agent', 'test/adapters', 'test/systemd'];

function run(args, output) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [jest, '--runInBand', ...args], {
      cwd: root,
      stdio: ['ignore', output ?? 'inherit', output ?? 'inherit'],
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Runs jest with `args`, its output kept in a file and printed under `title` when it ends. */
async function runQuiet(title, args, started) {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'npm-test-')), 'jest.log');
  const fd = fs.openSync(logFile, 'w');
  const code = await run(args, fd);
  fs.closeSync(fd);
  process.stderr.write(
    `\n===== ${title} (beside the fleets), ${Math.round((Date.now() - started) / 1000)} s, exit ${code} =====\n`,
  );
  process.stderr.write(fs.readFileSync(logFile, 'utf8'));
  fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
  return code;
}

async function main() {
  const extra = process.argv.slice(2);
  if (extra.length > 0) return run(extra);
  const dirs = (list) => list.map((d) => `<rootDir>/${d}/`);
  // The bundles are built once, before both start (jest's globalSetup would race in two processes).
  require(path.join(root, 'test', 'global-setup.js'))();
  const started = Date.now();
  const other = (async () => {
    const synth = await runQuiet(
      'synth tests',
      ['--testPathIgnorePatterns', '/node_modules/', ...dirs(FLEET), ...dirs(ETCD)],
      started,
    );
    const etcd = await runQuiet('etcd and systemd tests', ETCD, started);
    return { synth, etcd };
  })();
  const fleet = await run(['--testSequencer', path.join(root, 'scripts', 'fleet-sequencer.js'), ...FLEET]);
  const { synth, etcd } = await other;
  process.stderr.write(
    `\n===== npm test: fleet exit ${fleet}, synth exit ${synth}, etcd and systemd exit ${etcd}, ${Math.round((Date.now() - started) / 1000)} s =====\n`,
  );
  return [fleet, synth, etcd].find((c) => c !== 0) ?? 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
