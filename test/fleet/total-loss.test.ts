/*
 * FAILURE-SCENARIOS 13 on real etcd through the etcd-fleet CLI: a total loss, every member gone with its
 * data, while the backup bucket holds the cluster's snapshots. The replacements must never bootstrap a new,
 * EMPTY cluster beside those backups:
 *   - automatic policy, under a steady writer: every instance `kill --wipe`; the reconcile restores the newest
 *     snapshot by itself and the seed replays the incremental log (issue 16); every write acknowledged before
 *     that backup, and every one acknowledged more than 15 s before the loss, is back with its value. The
 *     recovery point and the time from the loss to a converged, restored cluster are printed.
 *   - manual policy, the group scaled to 0 and back with its volumes gone: the replacements wait, the
 *     Lambda says so (log line and metric) and no cluster forms; `etcd-fleet restore` then works in that
 *     state and every write before the backup is back.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  expectConverged,
  getPrefix,
  readAll,
  recoveryPoint,
  StatusJson,
  TestFleet,
  totalLossUnderWriter,
  until,
  write,
  Writer,
} from './harness';

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

/** The instances (but `except`) whose agent started etcd with a brand-new cluster (state new). */
function bootstrapsNew(fleet: TestFleet, except: readonly string[]): string[] {
  return Object.entries(fleet.agentLogs())
    .filter(([id, log]) => !except.includes(id) && /"message":"settings written".*"state":"new"/.test(log))
    .map(([id]) => id);
}

describe('scenario 13: total loss beside backups', () => {
  describe('automatic policy: every instance kill --wipe', () => {
    const fleet = new TestFleet('loss-auto');
    afterAll(() => fleet.down());

    it('restores the newest snapshot and replays the incremental log: every write acknowledged more than 15 s before the loss is back', async () => {
      const s = await fleet.up(
        '--size',
        '3',
        '--restore',
        'automatic',
        '--restore-after',
        '5',
        '--incremental-seconds',
        '10', // the construct's default
      );
      expectConverged(s, 3);
      const written = await write(s.endpoints, 'loss/a/', 40);
      const backup = JSON.parse(await fleet.ok('backup')) as BackupResult;
      expect(backup).toMatchObject({ ok: true, outcome: 'stored' });
      const maxRev = Math.max(...[...written.values()].map(([, r]) => r));
      expect(backup.snapshot!.revision).toBeGreaterThanOrEqual(maxRev);

      // A steady writer for 25 s after the snapshot: only the incremental log holds these writes.
      const writer = new Writer(fleet, 'loss/w');
      const { after, lossAt } = await totalLossUnderWriter(fleet, s, writer, {
        writeSeconds: 25,
        writeTimeoutSeconds: 60,
        convergeSeconds: 240,
      });
      const seconds = (Date.now() - lossAt) / 1000;
      expectConverged(after, 3);
      expect(after.instances.filter((i) => i.lifecycleState === 'InService').map((i) => i.id)).not.toEqual(
        expect.arrayContaining(s.instances.map((i) => i.id)),
      );
      // Every write acknowledged before the snapshot is back, with its value.
      expectValues(await readAll(after.endpoints, undefined, 'loss/a/'), written);
      // The steady writer's writes, read back with etcdctl: every one acknowledged more than 15 s before
      // the loss is back with its value. The recovery point: the loss minus the acknowledgement of the newest
      // write before the first one missing.
      const rp = recoveryPoint(writer, await getPrefix(after.endpoints, 'loss/w/'), lossAt, 15);
      process.stdout.write(
        `scenario 13 (automatic, incremental log): ${rp.acknowledged} writes acknowledged before the loss, ` +
          `${rp.backInOrder} back in order; recovery point ${rp.recoveryPointS.toFixed(1)} s; ` +
          `loss -> converged restored cluster in ${seconds.toFixed(1)} s\n`,
      );
      expect(rp.older).toBeGreaterThan(100);
      expect(rp.olderMissing.slice(0, 5)).toEqual([]);
      expect(rp.recoveryPointS).toBeLessThanOrEqual(15);
      // The cluster came from the restore (one seed), not from a bootstrap of the replacements.
      const out = fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
      expect(out).toMatch(/"message":"restore started"/);
      const restored = Object.values(fleet.agentLogs()).filter((l) =>
        l.includes('"message":"snapshot restored: starting a one-member cluster"'),
      );
      expect(restored).toHaveLength(1);
      // The newest snapshot: ours, or a later one (the Lambda snapshots before a removal it makes).
      const key = /"message":"snapshot restored: starting a one-member cluster".*"key":"([^"]+)"/.exec(
        restored[0],
      )![1];
      expect(key >= backup.snapshot!.key).toBe(true);
    });
  });

  describe('manual policy: the group scaled to 0 and back, volumes gone', () => {
    const fleet = new TestFleet('loss-manual');
    afterAll(() => fleet.down());

    it('waits for the trigger (log line, metric, no cluster), then the trigger restores', async () => {
      const s = await fleet.up('--size', '3', '--restore', 'manual');
      expectConverged(s, 3);
      const written = await write(s.endpoints, 'loss/m/', 30);
      const backup = JSON.parse(await fleet.ok('backup')) as BackupResult;
      expect(backup).toMatchObject({ ok: true, outcome: 'stored' });
      const first = s.instances.map((i) => i.id);

      // Scale to 0: the group terminates its instances one at a time; the last member's removal is never
      // safe, so that instance is retained. Its volume goes too (kill --wipe): nothing of the cluster is left.
      await fleet.cli('scale', '0', '--timeout', '1');
      const left = await until('every instance out of service', 120, async () => {
        const st = await fleet.status();
        return st.instances.every(
          (i) => i.lifecycleState !== 'InService' && i.lifecycleState !== 'Terminating:Wait',
        )
          ? st
          : undefined;
      });
      for (const i of left.instances) await fleet.ok('kill', i.id, '--wipe');
      const out = () => fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
      const mark = out().length;
      await fleet.cli('scale', '3', '--timeout', '1');

      // The replacements wait: the agents say why, the Lambda says it (line and metric), and no cluster forms.
      await until('the Lambda reporting the wait for the trigger', 90, async () =>
        /"message":"waiting for the restore trigger"/.test(out().slice(mark)) &&
        /"message":"metric AwaitingRestoreTrigger"/.test(out().slice(mark))
          ? true
          : undefined,
      );
      const waiting = await until('three agents awaiting a restore', 60, async () => {
        const w = Object.values(fleet.agentLogs()).filter((l) =>
          l.includes('"message":"total loss: waiting for a restore, never bootstrapping an empty cluster"'),
        );
        return w.length >= 3 ? w : undefined;
      });
      // The newest snapshot: ours, or a later one (the Lambda snapshots before each removal of the scale-in).
      const newest = /earlier cluster \(snapshot (snapshots\/[^)]+\.db)\)/.exec(waiting[0])![1];
      expect(newest >= backup.snapshot!.key).toBe(true);
      expect(bootstrapsNew(fleet, first)).toEqual([]);
      const stalled = await fleet.status();
      expect(stalled.converged).toBe(false);
      expect(stalled.clusterId).toBe('');

      // The trigger works in that state.
      const r = JSON.parse(await fleet.ok('restore')) as BackupResult;
      expect(r.outcome).toBe('restore-started');
      expect(r.restore!.snapshotKey).toBe(newest);
      const after = JSON.parse(await fleet.ok('wait', '--timeout', '180', '--json')) as StatusJson;
      expectConverged(after, 3);
      expectValues(await readAll(after.endpoints, undefined, 'loss/'), written);
      // Only the seed started a new cluster (from the snapshot); nobody bootstrapped an empty one.
      expect(bootstrapsNew(fleet, first)).toEqual([r.restore!.seedInstanceId]);
    });
  });
});
