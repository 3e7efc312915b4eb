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
 * of 2 of 3, restore, every key read back. Usage: node bench/backup-times.js [--sizes 10,100]
 * (after npm run build). Prints one JSON line per size and writes bench/backup-times.json.
 */
'use strict';
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Etcd3 } = require('etcd3');

const BIN = path.join(__dirname, '..', 'bin', 'etcd-fleet.js');
const i = process.argv.indexOf('--sizes');
const SIZES = (i > 0 ? process.argv[i + 1] : '10,100').split(',').map(Number);
const VALUE = 64 * 1024;

function fleet(dir, ...args) {
  return execFileSync(process.execPath, [BIN, ...args, '--dir', dir], { encoding: 'utf8', timeout: 900_000 });
}
const status = (dir) => JSON.parse(fleet(dir, 'status', '--json'));

async function fill(endpoints, mb) {
  const client = new Etcd3({ hosts: endpoints });
  const n = Math.ceil((mb * 1024 * 1024) / VALUE);
  try {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const k = next++;
        await client.put(`bench/${String(k).padStart(6, '0')}`).value(crypto.randomBytes(VALUE));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    client.close();
  }
  return n;
}

async function count(endpoints) {
  const client = new Etcd3({ hosts: endpoints });
  try {
    return await client.getAll().prefix('bench/').count();
  } finally {
    client.close();
  }
}

function agentLines(dir, id) {
  const base = path.join(dir, 'instances');
  const d = fs.readdirSync(base).find((x) => x.endsWith(id));
  return fs
    .readFileSync(path.join(base, d, 'agent.log'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

async function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function one(mb) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-backup-${mb}-`));
  try {
    const s = JSON.parse(fleet(dir, 'up', '--size', '3', '--json'));
    const keys = await fill(s.endpoints, mb);
    let t = Date.now();
    const backup = JSON.parse(fleet(dir, 'backup', '--timeout', '600'));
    const backupMs = Date.now() - t;
    if (!backup.ok) throw new Error(`backup failed: ${backup.reason}`);
    const voters = s.instances.filter((x) => x.lifecycleState === 'InService');
    const victims = [voters.find((x) => x.leader), voters.find((x) => !x.leader)];
    for (const v of victims) fleet(dir, 'kill', v.id, '--wipe');
    for (let n = 0; n < 240; n++) {
      const st = status(dir);
      if (victims.every((v) => st.instances.find((x) => x.id === v.id)?.lifecycleState !== 'InService'))
        break;
      await sleep(500);
    }
    t = Date.now();
    const restore = JSON.parse(fleet(dir, 'restore'));
    if (restore.outcome !== 'restore-started') throw new Error(`restore: ${restore.reason}`);
    const after = JSON.parse(fleet(dir, 'wait', '--timeout', '600', '--json'));
    const restoreToConvergedMs = Date.now() - t;
    const seed = agentLines(dir, restore.restore.seedInstanceId);
    const gate = seed.filter((l) => l.message === 'restore gate' && l.role === 'seed').pop();
    const done = seed.filter((l) => String(l.message ?? '').startsWith('snapshot restored')).pop();
    const back = await count(after.endpoints);
    const result = {
      keyspaceMB: mb,
      keys,
      snapshotBytes: backup.snapshot.size,
      backupMs,
      seedRestoreMs: Date.parse(done.time) - Date.parse(gate.time),
      restoreToConvergedMs,
      keysBack: back,
    };
    console.log(JSON.stringify(result));
    if (back !== keys) throw new Error(`${back} of ${keys} keys back`);
    return result;
  } finally {
    try {
      fleet(dir, 'down');
    } catch {
      /* already down */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const results = [];
  for (const mb of SIZES) results.push(await one(mb));
  fs.writeFileSync(
    path.join(__dirname, 'backup-times.json'),
    JSON.stringify({ time: new Date().toISOString(), cpus: os.cpus().length, results }, null, 2) + '\n',
  );
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
