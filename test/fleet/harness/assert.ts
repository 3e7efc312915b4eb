/* Jest assertions and waits of the fleet tests (the only harness module that needs jest's `expect`). */
import type { FleetTlsFiles } from '../../../fleet/tls';
import { client, live, StatusJson } from './client';
import type { TestFleet } from './fleet';
import { compareValues } from './readback';

/** Asserts the converged shape of docs/FAILURE-SCENARIOS.md: voters == desired, all healthy, one cluster id. */
export function expectConverged(s: StatusJson, desired: number): void {
  expect(s.converged).toBe(true);
  expect(s.desired).toBe(desired);
  const inService = live(s);
  expect(inService).toHaveLength(desired);
  expect(inService.every((i) => i.role === 'voter' && i.healthy)).toBe(true);
  expect(s.clusterId).toMatch(/^[0-9a-f]+$/);
  expect(inService.filter((i) => i.leader)).toHaveLength(1);
}

/**
 * Every expected key reads back with exactly its expected value (one linearizable range read under `prefix`);
 * a missing key or a different value fails, listing up to 20 of each.
 */
export async function expectAllReadable(
  fleet: TestFleet,
  expected: Readonly<Record<string, string>>,
  prefix: string,
): Promise<void> {
  const s = await fleet.status();
  await expectValues(s.endpoints, expected, prefix, s.tls);
}

/** The check of expectAllReadable against given endpoints. */
export async function expectValues(
  endpoints: string[],
  expected: Readonly<Record<string, string>>,
  prefix: string,
  tls?: FleetTlsFiles,
): Promise<void> {
  const c = client(endpoints, tls);
  try {
    const got = await c.getAll().prefix(prefix).strings(); // linearizable range read (the etcd3 default)
    const { missing, wrong } = compareValues(got, expected);
    expect({ missing, wrong }).toEqual({ missing: [], wrong: [] });
  } finally {
    c.close();
  }
}

/** Polls `cond` every 500 ms until it returns a value, at most `seconds`. */
export async function until<T>(
  what: string,
  seconds: number,
  cond: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await cond().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
