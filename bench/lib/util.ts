/* Small helpers of the bench scripts: statistics, rounding, logging, temp dirs removed on every exit path. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..', '..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function pct(xs: readonly number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))];
}

export const r2 = (x: number | null | undefined) =>
  x === null || x === undefined ? null : Math.round(x * 100) / 100;
export const r3 = (x: number | null | undefined) =>
  x === null || x === undefined ? null : Math.round(x * 1000) / 1000;

/** a / b rounded to 2 decimals, null when either is missing. */
export const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || !b ? null : r2(a / b);

/** Per key, the rounded median of the numeric values of the objects. */
export function medianOfKeys(objs: readonly Record<string, unknown>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(objs[0] ?? {})) {
    const v = objs.map((o) => o[k]).filter((x): x is number => typeof x === 'number');
    if (v.length) out[k] = Math.round(median(v) as number);
  }
  return out;
}

export const log = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

const tempDirs = new Set<string>();

export function tempDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${tag}-`));
  tempDirs.add(d);
  return d;
}

export function rmTemp(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

/**
 * Runs `cleanups` and removes every temp dir once, on exit and on SIGINT/SIGTERM/SIGHUP (then exits 130).
 * Returns the cleanup function for the normal exit path.
 */
export function onExitCleanup(name: string, cleanups: (() => void)[]): () => void {
  let cleaned = false;
  const cleanupSync = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of cleanups) c();
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    tempDirs.clear();
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => {
      console.error(`${name}: ${sig}, cleaning up`);
      cleanupSync();
      process.exit(130);
    });
  return cleanupSync;
}

/** Resolves a promise-returning command, or exits 1 with its error; cleans up on both paths. */
export function runMain(
  name: string,
  main: () => Promise<number | void>,
  cleanup: () => void = () => {},
): void {
  main().then(
    (code) => {
      cleanup();
      process.exit(code ?? 0);
    },
    (err: Error) => {
      console.error(`${name} failed: ${err.stack ?? err.message}`);
      cleanup();
      process.exit(1);
    },
  );
}
