/*
 * How the first-boot test (./first-boot.test.ts) judges the backup units on the boxes (issue 16): whether
 * etcd-backup-log.service is active on each box, which boxes' shippers were elected (their journals), and the
 * complete snapshots in the local S3's directory (no Lambda runs in the boxes: a snapshot there is the elected
 * shipper's base of the log); and the restore drills' timer and service as systemd loaded them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { converged, waitFor, type BoxWorld } from './judge';

export interface BackupLogState {
  readonly active: string[];
  /** Indexes of the boxes whose shipper logged "elected". */
  readonly elected: number[];
  /** Complete snapshots (their sha256 sidecars) in the bucket. */
  readonly snapshots: number;
  /** The journal of etcd-backup-log.service on the first elected box. */
  readonly electedJournal: string;
  /** `/opt/etcd-restore/etcd --version` of each box: the image's etcd copied beside the restore tool. */
  readonly etcd: string[];
}

export async function backupLogState(
  world: BoxWorld,
  s3Dir: string,
  bucket: string,
): Promise<BackupLogState> {
  const dir = path.join(s3Dir, bucket, 'snapshots');
  const snapshots = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f.endsWith('.db.sha256._S3rver_object')).length
    : 0;
  const active: string[] = [];
  const journals: string[] = [];
  const etcd: string[] = [];
  for (const { box } of world.boxes) {
    active.push((await box.exec(['systemctl', 'is-active', 'etcd-backup-log.service'])).stdout.trim());
    journals.push(await box.journal('etcd-backup-log.service'));
    etcd.push((await box.exec(['/opt/etcd-restore/etcd', '--version'])).stdout);
  }
  const elected = journals.flatMap((j, n) => (/"message":"elected"/.test(j) ? [n] : []));
  return { active, elected, snapshots, electedJournal: elected.length > 0 ? journals[elected[0]] : '', etcd };
}

/** Polls until a shipper was elected and stored a snapshot (at most `seconds`), then returns the state. */
export async function waitForBackupLog(
  world: BoxWorld,
  s3Dir: string,
  bucket: string,
  seconds = 30,
): Promise<BackupLogState> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const s = await backupLogState(world, s3Dir, bucket);
    if ((s.elected.length > 0 && s.snapshots > 0) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `systemctl show` of `unit`'s properties `props`, as an object. */
async function show(box: BoxWorld['boxes'][number]['box'], unit: string, props: string[]) {
  const out = (await box.exec(['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)])).stdout;
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * The restore drills' units as the boxes' systemd (252) loaded them from the Ignition config (the example stack,
 * default drillInterval 10 min): the timer enabled by Ignition's preset and waiting, with its intervals; the
 * service parsed (oneshot, its bound, its condition) and never started (the timer's first tick is 10 min after
 * boot, beyond this suite; starting it is the drill command's own test).
 */
export function drillTimerTest(world: BoxWorld): void {
  test('restore drills: etcd-backup-drill.timer enabled and waiting on every box; the service parsed, not run', async () => {
    for (const { box } of world.boxes) {
      expect(
        await show(box, 'etcd-backup-drill.timer', [
          'LoadState',
          'UnitFileState',
          'ActiveState',
          'SubState',
          'RandomizedDelayUSec',
          'AccuracyUSec',
          'Unit',
        ]),
      ).toEqual({
        LoadState: 'loaded',
        UnitFileState: 'enabled',
        ActiveState: 'active',
        SubState: 'waiting',
        RandomizedDelayUSec: '1min',
        AccuracyUSec: '1s',
        Unit: 'etcd-backup-drill.service',
      });
      const timers = (await show(box, 'etcd-backup-drill.timer', ['TimersMonotonic'])).TimersMonotonic;
      // Only the boot timer has a base yet: systemd lists OnUnitActiveSec once the service has run.
      expect(timers).toMatch(/^\{ OnBootUSec=10min ; next_elapse=[^}]+ \}$/);
      expect(box.read('/etc/systemd/system/etcd-backup-drill.timer')).toMatch(/^OnUnitActiveSec=600$/m);
      expect(
        await show(box, 'etcd-backup-drill.service', [
          'LoadState',
          'UnitFileState',
          'ActiveState',
          'Type',
          'TimeoutStartUSec',
          'InactiveExitTimestampMonotonic',
        ]),
      ).toEqual({
        LoadState: 'loaded',
        UnitFileState: 'static',
        ActiveState: 'inactive',
        Type: 'oneshot',
        TimeoutStartUSec: '30min',
        InactiveExitTimestampMonotonic: '0',
      });
      const cond = (await show(box, 'etcd-backup-drill.service', ['ExecCondition'])).ExecCondition;
      expect(cond).toContain('argv[]=/usr/bin/systemctl is-active --quiet etcd-member.service');
      // The condition itself, run as the unit would: etcd serves, so a tick would run the drill.
      expect(
        (await box.exec(['/usr/bin/systemctl', 'is-active', '--quiet', 'etcd-member.service'])).status,
      ).toBe(0);
    }
  });

  test('restore drills: a tick while etcd-member is stopped is skipped by the condition and does not start etcd', async () => {
    const { box } = world.boxes[2];
    expect((await box.exec(['systemctl', 'stop', 'etcd-member.service'], 60_000)).status).toBe(0);
    let after: Record<string, string> = {};
    try {
      // What the timer does at a tick: start the service (systemctl returns once the start job is done).
      await box.exec(['systemctl', 'start', 'etcd-backup-drill.service'], 60_000);
      after = {
        ...(await show(box, 'etcd-backup-drill.service', [
          'Result',
          'ActiveState',
          'ExecMainStartTimestampMonotonic',
        ])),
        etcd: (await box.exec(['systemctl', 'is-active', 'etcd-member.service'])).stdout.trim(),
      };
    } finally {
      // Back first, whatever the judgment below.
      await box.exec(['systemctl', 'start', 'etcd-member.service'], 120_000);
      await waitFor(world, 'cluster after the skipped drill', () => converged(world), 120);
    }
    // Skipped (not failed), ExecStart never ran (no drill container), and etcd was not started by it.
    expect(after).toEqual({
      Result: 'exec-condition',
      ActiveState: 'inactive',
      ExecMainStartTimestampMonotonic: '0',
      etcd: 'inactive',
    });
  });
}

/**
 * The test (registered in the first-boot suite, after the cluster formed): etcd-backup-log.service active on
 * every box, exactly one shipper elected, its base snapshot stored in the empty bucket (the log's chain starts
 * there), and the image's etcd beside the restore tool on every box (the agent's etcdCommand); then the
 * restore drills' units (drillTimerTest).
 */
export function backupLogTest(world: BoxWorld, s3Dir: string, bucket: string, etcdVersion: string): void {
  test('the incremental backup log: etcd-backup-log.service on every box, one elected, its base snapshot stored', async () => {
    const s = await waitForBackupLog(world, s3Dir, bucket);
    expect(s).toMatchObject({ active: ['active', 'active', 'active'], snapshots: 1 });
    expect(s.elected).toHaveLength(1);
    expect(s.electedJournal).toMatch(/"message":"snapshot stored".*"decision":"chain-base"/);
    for (const v of s.etcd) expect(v).toContain(`etcd Version: ${etcdVersion}`);
  });
  test('etcd-backup-log.service started only after etcd-promote.service had exited (After=, a oneshot), on every box', async () => {
    const order: { promoteExit: number; shipStart: number; restarts: number }[] = [];
    for (const { box } of world.boxes) {
      const p = await show(box, 'etcd-promote.service', ['ExecMainExitTimestampMonotonic']);
      const l = await show(box, 'etcd-backup-log.service', ['ExecMainStartTimestampMonotonic', 'NRestarts']);
      order.push({
        promoteExit: Number(p.ExecMainExitTimestampMonotonic),
        shipStart: Number(l.ExecMainStartTimestampMonotonic),
        restarts: Number(l.NRestarts),
      });
    }
    console.log(`promote exit → shipper start (monotonic µs): ${JSON.stringify(order)}`);
    for (const o of order) {
      expect(o.promoteExit).toBeGreaterThan(0);
      expect(o.shipStart).toBeGreaterThanOrEqual(o.promoteExit);
      // The first start (no restart since): the order is the unit's, not a later restart's.
      expect(o.restarts).toBe(0);
    }
  });
  drillTimerTest(world);
  drillRunTest(world, s3Dir, bucket);
}

/** Every drill result object in the local S3's directory, as `<kind>/<snapshot>/<time>-ok|failed.json`. */
function drillObjects(s3Dir: string, bucket: string): string[] {
  const root = path.join(s3Dir, bucket, 'drills');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.json._S3rver_object'))
    .map((f) => f.replace(/\._S3rver_object$/, ''))
    .sort();
}

/**
 * A real drill under systemd (the timer's tick, by hand): the unit's container (the docker shim), its mounts,
 * the restore tool and the image's etcd copied at boot, the work dir on the data volume, S3 through the
 * instance's credentials: the shipper's base snapshot restored in a scratch etcd, judged against the digest the
 * shipper recorded, the result stored; the work dir gone.
 */
function drillRunTest(world: BoxWorld, s3Dir: string, bucket: string): void {
  test('restore drills: a tick with etcd serving drills the base snapshot under systemd, the result in drills/', async () => {
    const { box } = world.boxes[0];
    expect(drillObjects(s3Dir, bucket)).toEqual([]);
    const start = await box.exec(['systemctl', 'start', 'etcd-backup-drill.service'], 180_000);
    const journal = await box.journal('etcd-backup-drill.service');
    const state = await show(box, 'etcd-backup-drill.service', ['Result', 'ActiveState']);
    const result = journal
      .split('\n')
      .map((l) => /\{"time".*"message":"restore drill result".*\}/.exec(l)?.[0])
      .find((l) => l !== undefined);
    if (!result || start.status !== 0) console.log(`[systemd box] drill journal:\n${journal.slice(-3000)}`);
    expect({ status: start.status, ...state }).toEqual({
      status: 0,
      Result: 'success',
      ActiveState: 'inactive',
    });
    expect(JSON.parse(result ?? '{}')).toMatchObject({ kind: 'snapshot', ok: true });
    expect(JSON.parse(result!).reason).toContain('the same as recorded by the backup');
    expect(drillObjects(s3Dir, bucket)).toEqual([
      expect.stringMatching(/^snapshot\/[^/]+\/\d{8}T\d{9}Z-ok\.json$/),
    ]);
    expect((await box.exec(['test', '-e', '/var/lib/etcd/.drill-work'])).status).not.toBe(0);
  });
}
