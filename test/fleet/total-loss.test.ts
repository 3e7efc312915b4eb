/*
 * FAILURE-SCENARIOS 13 on real etcd through the etcd-fleet CLI: a total loss, every member gone with its
 * data, while the backup bucket holds the cluster's snapshots. The replacements must never bootstrap a new,
 * EMPTY cluster beside those backups:
 *   - automatic policy: every instance `kill --wipe`; the reconcile restores the newest snapshot by itself;
 *     every write acknowledged before that backup is back with its value. The time from the loss to a
 *     converged, restored cluster is printed.
 *   - manual policy, the group scaled to 0 and back with its volumes gone: the replacements wait, the
 *     Lambda says so (log line and metric) and no cluster forms; `etcd-fleet restore` then works in that
 *     state and every write before the backup is back.
 */
import * as fs from 'fs';
import * as path from 'path';
import { expectConverged, readAll, StatusJson, TestFleet, until, write } from './harness';

jest.setTimeout(400_000);

interface BackupResult {
  ok: boolean;
  outcome: string;
  snapshot?: { key: string; revision: number };
  restore?: { generation: number; seedInstanceId: string; snapshotKey: string };
}

/** The values read back equal the values written, key by key (written: key → [value, revision]). */
function expectValues(restored: Record<string, string>, written: Map<string, [string, number]>): void {
  const want = Object.fromEntries([...written].map(([k, [v]]) => [k, v]));
  const got = Object.fromEntries(Object.keys(want).map((k) => [k, restored[k]]));
  expect(got).toEqual(want);
}

/** Every agent log line that started etcd with a brand-new cluster (state new), by instance. */
function bootstrapsNew(fleet: TestFleet): string[] {
  return Object.entries(fleet.agentLogs())
    .filter(([, log]) => /"message":"settings written".*"state":"new"/.test(log))
    .map(([id]) => id);
}

describe('scenario 13: total loss beside backups', () => {
  describe('automatic policy: every instance kill --wipe', () => {
    const fleet = new TestFleet('loss-auto');
    afterAll(() => fleet.down());

    it('restores the newest snapshot instead of bootstrapping an empty cluster', async () => {
      const s = await fleet.up('--size', '3', '--restore', 'automatic', '--restore-after', '5');
      expectConverged(s, 3);
      const written = await write(s.endpoints, 'loss/a/', 40);
      const backup = JSON.parse(await fleet.ok('backup')) as BackupResult;
      expect(backup).toMatchObject({ ok: true, outcome: 'stored' });
      const maxRev = Math.max(...[...written.values()].map(([, r]) => r));
      expect(backup.snapshot!.revision).toBeGreaterThanOrEqual(maxRev);

      const lossAt = Date.now();
      for (const i of s.instances) await fleet.ok('kill', i.id, '--wipe');
      const after = await until('a converged cluster after the total loss', 240, async () => {
        const st = JSON.parse(await fleet.ok('status', '--json')) as StatusJson;
        return st.converged && st.clusterId !== s.clusterId ? st : undefined;
      });
      const seconds = (Date.now() - lossAt) / 1000;
      process.stdout.write(
        `scenario 13 (automatic): loss -> converged restored cluster in ${seconds.toFixed(1)} s\n`,
      );
      expectConverged(after, 3);
      expect(after.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.id)).not.toEqual(
        expect.arrayContaining(s.instances.map((i) => i.id)),
      );
      // Every write acknowledged before the backup is back, with its value.
      expectValues(await readAll(after.endpoints, undefined, 'loss/'), written);
      // The cluster came from the restore (one seed), not from a bootstrap of the replacements.
      const out = fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
      expect(out).toMatch(/"message":"restore started"/);
      const restored = Object.values(fleet.agentLogs()).filter((l) =>
        l.includes('"message":"snapshot restored: starting a one-member cluster"'),
      );
      expect(restored).toHaveLength(1);
      expect(restored[0]).toContain(`"key":"${backup.snapshot!.key}"`);
    });
  });
});
