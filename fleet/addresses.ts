/*
 * Loopback address plan of one fleet. Each fleet dir gets its own 127.K.0.0/16 block (K from a hash of
 * the dir's absolute path), so several fleets run side by side. Inside a block, instance addresses are
 * handed out lowest-free-first from a list that puts look-alike addresses next to each other
 * (.15 and .150, .16 and .160, ...): a replacement often gets a dead member's old address, and exact
 * peer-URL matching is exercised all the time (FAILURE-SCENARIOS 10).
 */
import * as crypto from 'crypto';

export function blockFor(dir: string): number {
  const h = crypto.createHash('sha256').update(dir).digest();
  return 20 + (h.readUInt16BE(0) % 230); // 127.20.x.x .. 127.249.x.x
}

const HOSTS: number[] = [];
for (let i = 15; i <= 25; i++) HOSTS.push(i, i * 10 > 255 ? i + 200 : i * 10);

export function standInAddress(block: number): string {
  return `127.${block}.0.1`;
}

/** The fleet's local S3 (fleet/s3.ts). */
export function s3Address(block: number): string {
  return `127.${block}.0.2`;
}

/** The lowest free instance address of the block, in the look-alike order above. */
export function allocateAddress(block: number, used: ReadonlySet<string>): string {
  for (const h of HOSTS) {
    const ip = `127.${block}.0.${h}`;
    if (!used.has(ip)) return ip;
  }
  for (let third = 1; third < 255; third++) {
    for (let h = 10; h < 250; h++) {
      const ip = `127.${block}.${third}.${h}`;
      if (!used.has(ip)) return ip;
    }
  }
  throw new Error('no free loopback address left in the fleet block');
}
