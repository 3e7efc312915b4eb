/*
 * FAILURE-SCENARIOS 8 on real etcd through the etcd-fleet CLI: quorum loss (2 of 3 members killed with their
 * data), recovery from the newest verified snapshot in the fleet's local S3, and the data-loss bound. The
 * survivor is frozen (SIGSTOP) here, so no member's own data can seed: a reachable survivor at a revision at
 * least the snapshot's seeds instead (FAILURE-SCENARIOS 14, test/fleet/survivor.test.ts).
 *   - manual policy: nothing happens until `etcd-fleet restore`; two racing triggers, exactly one restores;
 *     the newest snapshot is corrupt (bytes flipped in the stored object): refused, the previous one is used.
 *   - automatic policy: scheduled backups, then the reconcile restores by itself after the bound.
 * Bound asserted: every key written at a revision <= the restored snapshot's revision is back with its value;
 * keys written after it are exactly the ones that may be lost (here, with no writes between the backup's
 * revision read and its snapshot, they are absent).
 */
import * as fs from 'fs';
import * as path from 'path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BACKUP_BUCKET } from '../../fleet/backup';
import {
  client,
  expectConverged,
  keysUnder,
  readAll,
  s3For,
  StatusJson,
  TestFleet,
  until,
  write,
} from './harness';

jest.setTimeout(400_000);

interface BackupResult {
  ok: boolean;
  outcome: string;
  reason: string;
  snapshot?: { key: string; revision: number; sha256: string };
  restore?: { generation: number; seedInstanceId: string; snapshotKey: string; restoredUpToRevision: number };
}

/**
 * Kills two members (the leader among them) with their data, freezes the survivor (no member's data can seed:
 * only a snapshot), and waits until both killed instances left the group.
 */
async function killTwo(fleet: TestFleet, s: StatusJson): Promise<string> {
  const voters = s.instances.filter((i) => i.lifecycleState === 'InService');
  const victims = [voters.find((i) => i.leader)!, voters.find((i) => !i.leader)!];
  const survivor = voters.find((i) => !victims.includes(i))!;
  for (const v of victims) await fleet.ok('kill', v.id, '--wipe');
  // Its instance stays in service (frozen is not dead); the restore's reboot thaws and restarts it.
  await fleet.ok('freeze', survivor.id);
  // The health check terminates them; the terminate handler cannot remove a member without quorum, so
  // they are retained (out of the group) and replacements launch.
  await until('both killed instances out of the group', 120, async () => {
    const st = await fleet.status();
    return victims.every((v) => st.instances.find((i) => i.id === v.id)?.lifecycleState !== 'InService')
      ? true
      : undefined;
  });
  return survivor.id;
}

/** Asserts the data-loss bound against the restored snapshot's revision. */
function expectBound(
  restored: Record<string, string>,
  written: Map<string, [string, number]>,
  revision: number,
): { back: number; lost: number } {
  let back = 0;
  let lost = 0;
  for (const [key, [value, rev]] of written) {
    if (rev <= revision) {
      expect({ key, value: restored[key] }).toEqual({ key, value });
      back++;
    } else {
      expect({ key, value: restored[key] }).toEqual({ key, value: undefined });
      lost++;
    }
  }
  return { back, lost };
}

describe('scenario 8: quorum loss, manual restore policy', () => {
  const fleet = new TestFleet('dr-manual');
  afterAll(() => fleet.down());

  it('waits for the trigger, restores exactly once from the newest verified snapshot, old data wiped', async () => {
    const up = await fleet.up('--size', '3', '--restore', 'manual');
    expectConverged(up, 3);
    const s3 = s3For(fleet);
    try {
      // A member removal by the handler is preceded by a snapshot (the state just before it is restorable).
      const leaving = up.instances.find((i) => !i.leader)!;
      await fleet.ok('terminate', leaving.id);
      const snaps = (await keysUnder(s3, 'snapshots/')).filter((k) => k.endsWith('.db'));
      expect(snaps.length).toBeGreaterThanOrEqual(1);
      const out = () => fs.readFileSync(path.join(fleet.dir, 'supervisor.out'), 'utf8');
      expect(out()).toMatch(/"message":"snapshot stored".*"reason":"before removal of member \d+"/);
      const s = await fleet.status();
      expectConverged(s, 3);

      const written = await write(s.endpoints, 'dr/a/', 30);
      const first = JSON.parse(await fleet.ok('backup')) as BackupResult;
      expect(first).toMatchObject({ ok: true, outcome: 'stored' });
      // Every backup run reports the newest snapshot's age (the alarm's metric), 0 after a success.
      expect(out()).toMatch(/"_aws":.*"NewestSnapshotAgeSeconds":0/);
      const maxA = Math.max(...[...written.values()].map(([, r]) => r));
      expect(first.snapshot!.revision).toBeGreaterThanOrEqual(maxA);
      for (const [k, v] of await write(s.endpoints, 'dr/b/', 10)) written.set(k, v);
      const second = JSON.parse(await fleet.ok('backup')) as BackupResult;
      expect(second.snapshot!.revision).toBeGreaterThan(first.snapshot!.revision);
      // Corrupt the newest snapshot: same key, bytes flipped (its sha256 sidecar keeps the original digest).
      const obj = await s3.send(new GetObjectCommand({ Bucket: BACKUP_BUCKET, Key: second.snapshot!.key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      await s3.send(new PutObjectCommand({ Bucket: BACKUP_BUCKET, Key: second.snapshot!.key, Body: bytes }));
      for (const [k, v] of await write(s.endpoints, 'dr/c/', 10)) written.set(k, v);

      const before = out().length;
      const survivor = await killTwo(fleet, s);
      // Manual policy: the scheduled reconcile sees the loss and only logs what to do.
      await until('a reconcile after the loss that reports the manual policy', 60, async () =>
        out().slice(before).includes('restore policy is manual') ? true : undefined,
      );
      // No member add into the broken cluster: the replacements booted, and wait.
      const replacements = await until("the replacements' agents planning", 60, async () => {
        const r = Object.entries(fleet.agentLogs()).filter(
          ([id, log]) => !s.instances.some((i) => i.id === id) && log.includes('"message":"plan"'),
        );
        return r.length > 0 ? r : undefined;
      });
      for (const [, log] of replacements) expect(log).not.toMatch(/"message":"added as learner"/);
      expect(await keysUnder(s3, 'restores/')).toEqual([]);
      const stalled = await fleet.status();
      expect(stalled.converged).toBe(false);
      expect([s.clusterId, '']).toContain(stalled.clusterId); // nothing new formed

      // Two triggers race: exactly one writes the restore record and restores.
      const results = await Promise.all([fleet.cli('restore'), fleet.cli('restore')]);
      const parsed = results.map((r) => JSON.parse(r.stdout) as BackupResult);
      const winners = parsed.filter((r) => r.outcome === 'restore-started');
      expect(winners).toHaveLength(1);
      const loser = parsed.find((r) => r !== winners[0])!;
      expect(['fenced', 'no-restore']).toContain(loser.outcome);
      expect(await keysUnder(s3, 'restores/')).toEqual(['restores/g0000000001.json']);
      const restore = winners[0].restore!;
      expect(restore.snapshotKey).toBe(second.snapshot!.key); // the newest is the first candidate…

      const after = JSON.parse(await fleet.ok('wait', '--timeout', '180', '--json')) as StatusJson;
      expectConverged(after, 3);
      expect(after.clusterId).not.toBe(s.clusterId);

      // …but it does not verify: refused with a clear error, and the previous one was restored.
      const logs = fleet.agentLogs();
      const seedLog = logs[restore.seedInstanceId];
      expect(seedLog).toContain(`snapshot ${second.snapshot!.key} is corrupt: sha256 `);
      expect(seedLog).toMatch(/"message":"snapshot refused, trying the next older one"/);
      expect(seedLog).toMatch(
        new RegExp(
          `"message":"snapshot restored: starting a one-member cluster".*"key":"${first.snapshot!.key}"`,
        ),
      );
      const restoredBy = Object.values(logs).filter((l) => l.includes('snapshot restored: starting'));
      expect(restoredBy).toHaveLength(1);
      // The survivor kept the old cluster's data: it never starts on it. The seed is the lowest live
      // instance id, so it is the survivor or a replacement; either way the survivor's gate says which.
      const gateRoles = logs[survivor]
        .split('\n')
        .filter((l) => l.includes('"message":"restore gate"'))
        .map((l) => (JSON.parse(l) as { role: string }).role);
      expect(gateRoles).toContain(survivor === restore.seedInstanceId ? 'seed' : 'wipe-and-join');

      const bound = expectBound(await readAll(after.endpoints), written, first.snapshot!.revision);
      expect(bound).toEqual({ back: 30, lost: 20 });
    } finally {
      s3.destroy();
    }
  });
});

describe('scenario 8: quorum loss, automatic restore policy', () => {
  const fleet = new TestFleet('dr-auto');
  afterAll(() => fleet.down());

  it('scheduled backups; after the bound the reconcile restores the newest snapshot by itself', async () => {
    const s = await fleet.up(
      '--size',
      '3',
      '--restore',
      'automatic',
      '--restore-after',
      '8',
      '--backup-interval',
      '2',
    );
    expectConverged(s, 3);
    const s3 = s3For(fleet);
    try {
      const written = await write(s.endpoints, 'dr/a/', 25);
      const maxRev = Math.max(...[...written.values()].map(([, r]) => r));
      // A scheduled snapshot (no `backup` command was run) whose revision covers every write so far.
      const coveringRev = await until('a scheduled snapshot at or above the last write', 60, async () => {
        const keys = (await keysUnder(s3, 'snapshots/')).filter((k) => k.endsWith('.db.sha256'));
        const revs = keys.map((k) => Number(/-r(\d{20})-/.exec(k)![1]));
        return revs.find((r) => r >= maxRev);
      });
      expect(coveringRev).toBeGreaterThanOrEqual(maxRev);
      await killTwo(fleet, s);
      const after = await until('the automatic restore converged', 240, async () => {
        const st = await fleet.status();
        return st.converged && st.clusterId !== s.clusterId ? st : undefined;
      });
      expectConverged(after, 3);
      expect(await keysUnder(s3, 'restores/')).toEqual(['restores/g0000000001.json']);
      const record = JSON.parse(
        await (
          await s3.send(new GetObjectCommand({ Bucket: BACKUP_BUCKET, Key: 'restores/g0000000001.json' }))
        ).Body!.transformToString(),
      ) as { reason: string; snapshots: Array<{ revision: number }>; source?: { kind: string } };
      // The survivor is frozen: no endpoint answers, only the snapshot can seed.
      expect(record.reason).toMatch(/^automatic restore: no etcd endpoint of \d+ live instance\(s\) answers/);
      expect(record.source).toMatchObject({ kind: 'snapshot' });
      const restoredRev = record.snapshots[0].revision;
      expect(restoredRev).toBeGreaterThanOrEqual(maxRev);
      const bound = expectBound(await readAll(after.endpoints), written, restoredRev);
      expect(bound).toEqual({ back: 25, lost: 0 });
    } finally {
      s3.destroy();
    }
  });
});

describe('scenario 8 with TLS (etcd-fleet up --tls)', () => {
  const fleet = new TestFleet('dr-tls');
  afterAll(() => fleet.down());

  it('the snapshot uses the Lambda client identity; the restored cluster serves TLS with the keys back', async () => {
    const s = await fleet.up('--size', '3', '--tls');
    expectConverged(s, 3);
    expect(s.tls).toBeDefined();
    const tlsClient = (endpoints: string[]) => client(endpoints, s.tls);
    const written = await write(s.endpoints, 'dr/t/', 15, tlsClient(s.endpoints));
    const backup = JSON.parse(await fleet.ok('backup')) as BackupResult;
    expect(backup).toMatchObject({ ok: true, outcome: 'stored' });
    await killTwo(fleet, s);
    const r = JSON.parse(await fleet.ok('restore')) as BackupResult;
    expect(r.outcome).toBe('restore-started');
    const after = JSON.parse(await fleet.ok('wait', '--timeout', '180', '--json')) as StatusJson;
    expectConverged(after, 3);
    expect(after.clusterId).not.toBe(s.clusterId);
    expect(after.endpoints.every((e) => e.startsWith('https://'))).toBe(true);
    const bound = expectBound(
      await readAll(after.endpoints, tlsClient(after.endpoints)),
      written,
      backup.snapshot!.revision,
    );
    expect(bound).toEqual({ back: 15, lost: 0 });
  });
});
