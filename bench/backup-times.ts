#!/usr/bin/env node
/*
 * Snapshot and restore times by keyspace size on the local fleet (run on demand, not in CI):
 *   backupMs        `etcd-fleet backup`: maintenance.snapshot() of a voter streamed to the local S3 as a
 *                   multipart upload with its sha256 (the Lambda code path), wall time of the command
 *   seedRestoreMs   on the seed: restore gate start → snapshot downloaded, sha256 verified,
 *                   `etcdctl snapshot restore` done (agent log timestamps)
 *   restoreToConvergedMs  `etcd-fleet restore` → 3 healthy voters again (the other two joined as learners,
 *                   received the keyspace, were promoted): `restore` plus `wait`
 * Each size: a fresh 3-member fleet, `size` MB of incompressible values (64 KiB each), backup, kill --wipe
 * of 2 of 3 and the survivor frozen (only the snapshot can seed), restore, every key read back. Usage: npm run bench:backup -- [--sizes 10,100]
 * (after npm run build). Prints one JSON line per size and writes bench/backup-times.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { client, fill, StatusJson, until } from '../test/fleet/harness';
import { parseOptions } from './lib/args';
import { agentLines, down, downAllSync, newFleet } from './lib/fleet';
import { onExitCleanup, runMain } from './lib/util';

async function count(endpoints: string[]): Promise<number> {
  const c = client(endpoints, undefined, { deadlineMs: 60_000 });
  try {
    return await c.getAll().prefix('bench/').count();
  } finally {
    c.close();
  }
}

async function one(mb: number) {
  const f = newFleet(`backup-${mb}`);
  try {
    const s = await f.up('--size', '3');
    const { keys } = await fill(s.endpoints, mb, { prefix: 'bench', valueBytes: 64 * 1024, workers: 8 });
    let t = Date.now();
    const backup = JSON.parse(await f.okWithin(900_000, 'backup', '--timeout', '600'));
    const backupMs = Date.now() - t;
    if (!backup.ok) throw new Error(`backup failed: ${backup.reason}`);
    const voters = s.instances.filter((x) => x.lifecycleState === 'InService');
    const victims = [voters.find((x) => x.leader), voters.find((x) => !x.leader)].map((v) => v?.id as string);
    for (const v of victims) await f.ok('kill', v, '--wipe');
    // The survivor frozen: no member's own data can seed (a reachable survivor at the snapshot's revision
    // would, FAILURE-SCENARIOS 14), so this measures the snapshot restore.
    await f.ok('freeze', voters.find((x) => !victims.includes(x.id))!.id);
    await until('the killed instances out of service', 120, async () => {
      const st = await f.status();
      return (
        victims.every((v) => st.instances.find((x) => x.id === v)?.lifecycleState !== 'InService') ||
        undefined
      );
    });
    t = Date.now();
    const restore = JSON.parse(await f.ok('restore'));
    if (restore.outcome !== 'restore-started') throw new Error(`restore: ${restore.reason}`);
    const after = JSON.parse(await f.okWithin(900_000, 'wait', '--timeout', '600', '--json')) as StatusJson;
    const restoreToConvergedMs = Date.now() - t;
    const seed = agentLines(f).find((a) => a.id === restore.restore.seedInstanceId)?.lines ?? [];
    const gate = seed.filter((l) => l.message === 'restore gate' && l.role === 'seed').pop();
    const done = seed.filter((l) => String(l.message ?? '').startsWith('snapshot restored')).pop();
    const back = await count(after.endpoints);
    const result = {
      keyspaceMB: mb,
      keys,
      snapshotBytes: backup.snapshot.size,
      backupMs,
      seedRestoreMs: done?.t && gate?.t ? done.t - gate.t : null,
      restoreToConvergedMs,
      keysBack: back,
    };
    console.log(JSON.stringify(result));
    if (back !== keys) throw new Error(`${back} of ${keys} keys back`);
    return result;
  } finally {
    await down(f);
  }
}

async function main(): Promise<void> {
  const values = parseOptions(process.argv.slice(2), { sizes: { type: 'string', default: '10,100' } });
  const sizes = String(values.sizes).split(',').map(Number);
  if (sizes.some((n) => !(n > 0))) throw new Error('--sizes: positive MB values, comma-separated');
  const results = [];
  for (const mb of sizes) results.push(await one(mb));
  fs.writeFileSync(
    path.join(__dirname, 'backup-times.json'),
    JSON.stringify({ time: new Date().toISOString(), cpus: os.cpus().length, results }, null, 2) + '\n',
  );
}

runMain('backup-times', main, onExitCleanup('backup-times', [downAllSync]));
