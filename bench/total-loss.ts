#!/usr/bin/env node
/*
 * The recovery point of a total loss by keyspace size on the local fleet (issue 16, FAILURE-SCENARIOS 13; run
 * on demand, not in
 * CI). Each size: a fresh 3-member fleet with backups, the automatic restore policy and the incremental log
 * at its default interval; `size` MB of incompressible values (64 KiB each); one full snapshot; a steady
 * writer for 25 s; then every instance `kill --wipe` at the same moment. Measured:
 *   recoveryPointS   the loss minus the acknowledgement of the newest write before the first one missing
 *                    (every acknowledged write read back with etcdctl and compared by value)
 *   lossToConvergedS the loss → a converged cluster of 3 healthy voters (the restored one)
 *   olderMissing     writes acknowledged more than 15 s before the loss that are not back (must be 0)
 * The baseline, in the same run: the same loss with snapshots only (no incremental log), at
 * --baseline-sizes. Usage: npm run bench:total-loss -- [--sizes 0,10,100] [--baseline-sizes 0] (after
 * npm run build). Prints one JSON line per run and writes bench/total-loss.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fill, getPrefix, recoveryPoint, totalLossUnderWriter, Writer } from '../test/fleet/harness';
import { parseOptions } from './lib/args';
import { down, downAllSync, newFleet } from './lib/fleet';
import { onExitCleanup, runMain } from './lib/util';

async function one(mb: number, log: boolean) {
  const f = newFleet(`loss-${mb}-${log ? 'log' : 'nolog'}`);
  try {
    const s = await f.up(
      '--size',
      '3',
      '--restore',
      'automatic',
      '--restore-after',
      '5',
      '--incremental-seconds',
      log ? '10' : '0', // the construct's default interval; 0: snapshots only (the baseline)
    );
    const { keys } = await fill(s.endpoints, mb, { prefix: 'bench', valueBytes: 64 * 1024, workers: 8 });
    const backup = JSON.parse(await f.okWithin(900_000, 'backup', '--timeout', '600')) as { ok: boolean };
    if (!backup.ok) throw new Error('backup failed');
    const writer = new Writer(f, 'bench-w');
    const { after, lossAt } = await totalLossUnderWriter(f, s, writer, {
      writeSeconds: 25,
      writeTimeoutSeconds: 120,
      convergeSeconds: 900,
    });
    const lossToConvergedS = (Date.now() - lossAt) / 1000;
    const rp = recoveryPoint(writer, await getPrefix(after.endpoints, 'bench-w/'), lossAt, 15);
    const result = {
      keyspaceMB: mb,
      incrementalLog: log,
      keys,
      acknowledgedBeforeLoss: rp.acknowledged,
      backInOrder: rp.backInOrder,
      recoveryPointS: Number.isFinite(rp.recoveryPointS) ? rp.recoveryPointS : 'none back',
      olderMissing: rp.olderMissing.length,
      lossToConvergedS: Math.round(lossToConvergedS * 10) / 10,
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await down(f);
  }
}

async function main(): Promise<void> {
  const values = parseOptions(process.argv.slice(2), {
    sizes: { type: 'string', default: '0,10,100' },
    'baseline-sizes': { type: 'string', default: '0' },
  });
  const list = (v: unknown, name: string) => {
    const out = String(v).split(',').filter(Boolean).map(Number);
    if (out.some((n) => !(n >= 0))) throw new Error(`--${name}: MB values (0 or more), comma-separated`);
    return out;
  };
  const results = [];
  // The baseline first: the same loss with snapshots only (no incremental log).
  for (const mb of list(values['baseline-sizes'], 'baseline-sizes')) results.push(await one(mb, false));
  for (const mb of list(values.sizes, 'sizes')) results.push(await one(mb, true));
  fs.writeFileSync(
    path.join(__dirname, 'total-loss.json'),
    JSON.stringify({ time: new Date().toISOString(), cpus: os.cpus().length, results }, null, 2) + '\n',
  );
}

runMain('total-loss', main, onExitCleanup('total-loss', [downAllSync]));
