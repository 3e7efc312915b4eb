/*
 * Fleet dirs on a free loopback block. The fleet puts each dir on 127.K.0.0/16, K = blockFor(dir)
 * (fleet/addresses.ts), with no check that another fleet on this machine already uses K. A collision
 * makes `up` hang (the instance listeners fail to bind), so a fresh dir is drawn until its block is free
 * of listeners and of running fleet supervisors. The one helper for tests, chaos and bench.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { blockFor } from '../../../fleet/addresses';

/** Second octets of 127.x addresses something listens on, and the blocks of running fleet supervisors. */
export function busyBlocks(): Set<number> {
  const busy = new Set<number>();
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
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    /* no /proc */
  }
  for (const pid of pids) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.findIndex((a) => a.endsWith('supervisor-main.js'));
      if (i >= 0 && argv[i + 1]) busy.add(blockFor((JSON.parse(argv[i + 1]) as { dir: string }).dir));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return busy;
}

/**
 * A new empty temp dir `<tmp>/<prefix>XXXXXX` whose block is free (at most 50 draws; the last one is kept
 * if none is, as a busy machine may still have room once a neighbour's fleet is down).
 */
export function freshFleetDir(prefix: string): string {
  const busy = busyBlocks();
  let dir = '';
  for (let i = 0; i < 50; i++) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    if (!busy.has(blockFor(dir))) return dir;
    fs.rmdirSync(dir);
  }
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
