/*
 * Read-backs: every acknowledged key must hold exactly the value written to it; a key with another value
 * counts as lost like a missing one. One comparison (compareValues) for the tests' prefix reads and the
 * chaos run's paged reads. Also the fixtures' sequential write and prefix read.
 */
import type { Etcd3 } from 'etcd3';
import type { FleetTlsFiles } from '../../../fleet/tls';
import { client } from './client';

const SAMPLE = 20;

export interface Comparison {
  checked: number;
  present: number;
  /** Keys not holding their value: missing or another value. */
  missingCount: number;
  wrongValues: number;
  /** Up to 20 missing keys. */
  missing: string[];
  /** Up to 20 `key: got instead of expected`. */
  wrong: string[];
}

/** Compares what was read (`got`) with what was written (`expected`), key by key. */
export function compareValues(
  got: Readonly<Record<string, string>>,
  expected: Readonly<Record<string, string>>,
): Comparison {
  const out: Comparison = { checked: 0, present: 0, missingCount: 0, wrongValues: 0, missing: [], wrong: [] };
  for (const [k, v] of Object.entries(expected)) {
    out.checked++;
    if (got[k] === v) {
      out.present++;
      continue;
    }
    out.missingCount++;
    if (!(k in got)) {
      if (out.missing.length < SAMPLE) out.missing.push(k);
    } else {
      out.wrongValues++;
      if (out.wrong.length < SAMPLE)
        out.wrong.push(`${k}: ${JSON.stringify(got[k])} instead of ${JSON.stringify(v)}`);
    }
  }
  return out;
}

function merge(a: Comparison, b: Comparison): Comparison {
  return {
    checked: a.checked + b.checked,
    present: a.present + b.present,
    missingCount: a.missingCount + b.missingCount,
    wrongValues: a.wrongValues + b.wrongValues,
    missing: [...a.missing, ...b.missing].slice(0, SAMPLE),
    wrong: [...a.wrong, ...b.wrong].slice(0, SAMPLE),
  };
}

/**
 * Every expected key read back with linearizable range reads in pages of 10,000 keys (in key order; each
 * page retried up to 5 times, 1 s apart), compared with its expected value.
 */
export async function readBack(
  endpoints: string[],
  expected: Readonly<Record<string, string>>,
  tls?: FleetTlsFiles,
): Promise<Comparison> {
  const c = client(endpoints, tls, { dialTimeoutMs: 3000, deadlineMs: 15_000 });
  const keys = Object.keys(expected).sort();
  const PAGE = 10_000;
  let total = compareValues({}, {});
  try {
    for (let lo = 0; lo < keys.length; lo += PAGE) {
      const page = keys.slice(lo, lo + PAGE);
      let got: Record<string, string> | undefined;
      for (let attempt = 1; !got; attempt++) {
        try {
          // linearizable (the etcd3 default); the end is exclusive, so one byte past the last key
          got = await c
            .getAll()
            .inRange({ start: page[0], end: `${page[page.length - 1]}\0` })
            .strings();
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      total = merge(total, compareValues(got, Object.fromEntries(page.map((k) => [k, expected[k]]))));
    }
  } finally {
    c.close();
  }
  return total;
}

/** Writes `n` keys `<prefix><i>` sequentially; returns key → [value, revision of its put]. */
export async function write(
  endpoints: string[],
  prefix: string,
  n: number,
  c: Etcd3 = client(endpoints),
): Promise<Map<string, [string, number]>> {
  const out = new Map<string, [string, number]>();
  try {
    for (let i = 0; i < n; i++) {
      const key = `${prefix}${String(i).padStart(3, '0')}`;
      const value = `${key}-${Math.random().toString(36).slice(2)}`;
      const r = await c.put(key).value(value).exec();
      out.set(key, [value, Number(r.header.revision)]);
    }
  } finally {
    c.close();
  }
  return out;
}

/** Every key under `prefix` with its value, by a linearizable range read. */
export async function readAll(
  endpoints: string[],
  c: Etcd3 = client(endpoints),
  prefix = 'dr/',
): Promise<Record<string, string>> {
  try {
    return await c.getAll().prefix(prefix).strings(); // linearizable
  } finally {
    c.close();
  }
}

/** What came back of a steady writer's writes after a loss at `lossAt` (issue 16's recovery point). */
export interface RecoveryPoint {
  /** Writes acknowledged before the loss. */
  readonly acknowledged: number;
  /** Of those, how many are back in order (with their values) up to the first one missing. */
  readonly backInOrder: number;
  /**
   * Seconds from the acknowledgement of the newest write before the first missing one to the loss (0 when
   * every write came back; Infinity when none did).
   */
  readonly recoveryPointS: number;
  /** Writes acknowledged more than `olderThanS` before the loss, and those of them not back with their value. */
  readonly older: number;
  readonly olderMissing: readonly string[];
}

/**
 * The recovery point of a steady writer's writes (keys `acked[n]`, value String(n), acknowledged at
 * `ackTimes[n]`) against what was read back after a loss at `lossAt`.
 */
export function recoveryPoint(
  writer: { readonly acked: readonly string[]; readonly ackTimes: readonly number[] },
  read: ReadonlyMap<string, Buffer>,
  lossAt: number,
  olderThanS: number,
): RecoveryPoint {
  const back = (k: string, n: number) => read.get(k)?.toString('utf8') === String(n);
  const before = writer.acked.filter((_, n) => writer.ackTimes[n] < lossAt);
  const firstMissing = before.findIndex((k, n) => !back(k, n));
  const kept = firstMissing === -1 ? before.length : firstMissing;
  const older = before.filter((_, n) => writer.ackTimes[n] < lossAt - olderThanS * 1000);
  return {
    acknowledged: before.length,
    backInOrder: kept,
    recoveryPointS:
      firstMissing === -1 ? 0 : kept === 0 ? Infinity : (lossAt - writer.ackTimes[kept - 1]) / 1000,
    older: older.length,
    olderMissing: older.filter((k, n) => !back(k, n)),
  };
}
