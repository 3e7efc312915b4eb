/*
 * Backups and disaster recovery of an EtcdCluster (synth time only): the options and their validation. The
 * construct's parts are in lib/private: the bucket (backup-bucket.ts), the grants and the backup schedule
 * (backup-schedule.ts), the snapshot age, restore and restore drill alarms (alarms.ts), the Lambda's settings
 * (lifecycle-function.ts, lifecycleEnvironment) and the agent's (launch-template.ts, agentConfig), the restore
 * drills' units (drill-units.ts). The run-time side is lambda/lifecycle/backup.ts, restore.ts,
 * lambda/agent/restore.ts and drill.ts.
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
// The public enum RestorePolicy is the contract's (lib/contract/enums.ts): the agent and the Lambda read its values.
import { RestorePolicy } from './contract/enums';
import { convertsToSeconds } from './validation';

export { RestorePolicy };

/** Backups of an {@link EtcdCluster} to S3, and the restore after quorum loss. */
export interface EtcdBackupOptions {
  /**
   * Take backups, and allow restores. Without backups nothing can be restored after a quorum loss.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Bring your own bucket for the snapshots and restore records. It should be encrypted, versioned,
   * private and TLS-only; `retention` and `removalPolicy` do not apply to it.
   *
   * @default - a new bucket: SSE-KMS encrypted with the cluster's `encryptionKey` (S3 bucket key on),
   * versioned, public access blocked, TLS only, events to EventBridge, snapshots expired after `retention`
   */
  readonly bucket?: s3.IBucket;

  /**
   * Server access logs of the created bucket go to this bucket (e.g. your organization's access log bucket,
   * which must accept logs from the S3 logging service and use SSE-S3). Not with `bucket`.
   *
   * @default - no server access logs (CloudTrail records the API calls that matter: acknowledged for cdk-nag
   * AwsSolutions-S1 and Control Tower CT.S3.PR.2)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * Key prefix of the server access logs in `serverAccessLogsBucket`.
   *
   * @default - no prefix
   */
  readonly serverAccessLogsPrefix?: string;

  /**
   * Key prefix of everything this cluster writes in the bucket (so clusters can share a bucket). Empty,
   * or ending with "/".
   *
   * @default ''
   */
  readonly prefix?: string;

  /**
   * How often a snapshot is taken. A whole number of minutes, 5 to 1440.
   *
   * @default Duration.minutes(30)
   */
  readonly backupInterval?: Duration;

  /**
   * How long snapshots are kept in the created bucket (a lifecycle rule; whole days, at least 1).
   *
   * @default Duration.days(30)
   */
  readonly retention?: Duration;

  /**
   * What happens to the created bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Take a snapshot before each member removal the lifecycle function makes, so the state just before
   * the removal is restorable.
   *
   * @default true
   */
  readonly snapshotBeforeMembershipChange?: boolean;

  /**
   * What happens after a quorum loss.
   *
   * @default RestorePolicy.MANUAL
   */
  readonly restorePolicy?: RestorePolicy;

  /**
   * `RestorePolicy.AUTOMATIC`: how long the quorum must have been lost for good before the restore.
   * 1 minute to 1 day.
   *
   * @default Duration.minutes(10)
   */
  readonly restoreAfter?: Duration;

  /**
   * Let a group that finds no member of its cluster (a total loss: every instance replaced with its
   * volume, an AZ-wide failure, the group scaled to 0 and back) bootstrap a new, EMPTY cluster although
   * the bucket holds snapshots or restore records of an earlier one. Without it such a group restores
   * (`RestorePolicy.AUTOMATIC`) or waits for the restore trigger (`RestorePolicy.MANUAL`, with the
   * `restoreAwaitedAlarm`), and never silently starts empty beside its backups. Turn it on only for a
   * cluster whose data you can lose; the construct warns (`cdk-elastic-etcd:startEmptyBesideBackups`).
   *
   * @default false
   */
  readonly startEmptyBesideBackups?: boolean;

  /**
   * The incremental backup log: every revision after the newest full snapshot is shipped to the bucket
   * (`<prefix>incremental/<cluster id>/`) in chunks at most `incrementalInterval` old, so the recovery point is
   * seconds, not `backupInterval`. The shipper runs on every member (etcd-backup-log.service; one of them,
   * elected in etcd, writes), so the instance role may write `<prefix>incremental/*` and `<prefix>snapshots/*`
   * (the snapshot a shipper takes when the log has no base or a gap). Off: full snapshots only, and the
   * instances can only read the bucket.
   *
   * @default true
   */
  readonly incremental?: boolean;

  /**
   * The incremental log's bound: a shipped revision's chunk is in the bucket at most this long after the
   * revision was written (while the elected shipper runs; a takeover adds its lease's 5 s). Whole seconds, 1
   * to 300. Only with `incremental` on.
   *
   * @default Duration.seconds(10)
   */
  readonly incrementalInterval?: Duration;

  /**
   * The snapshot age alarm fires when the newest complete snapshot is older than this.
   *
   * @default - twice `backupInterval` plus 10 minutes
   */
  readonly snapshotAgeAlarmThreshold?: Duration;

  /**
   * Restore drills: the members prove the backups restorable. Every `drillInterval` one member (an etcd lock
   * keeps it to one at a time) restores the newest snapshot that was never drilled (else, hourly, the newest
   * snapshot with its incremental log) into a scratch etcd beside the serving one, started from the etcd binary
   * of the configured image (copied out of it at boot, so the versions match), compares its revision and keyspace
   * digest with what was recorded, and writes the result to `<prefix>drills/`; a snapshot that failed its drill
   * is never chosen for a restore. The drills run on the members (etcd-backup-drill.timer, `agent.js drill`)
   * because the image's etcd is there and the Lambda has none; their work dir is on the data volume
   * (`/var/lib/etcd/.drill-work`), so the volume needs room for one more copy of the keyspace during a drill.
   * The Lambda publishes `LastVerifiedRestoreAgeSeconds` (see `restoreDrillAlarm`); the instance role may write
   * `<prefix>drills/*`.
   *
   * @default true
   */
  readonly restoreDrills?: boolean;

  /**
   * How often each member's drill timer fires (plus up to a minute of random delay; a run that finds nothing
   * to drill ends at once). A whole number of minutes, 1 to 1440. Only with `restoreDrills` on.
   *
   * @default Duration.minutes(10)
   */
  readonly drillInterval?: Duration;

  /**
   * The restore drill alarm fires when the newest passed drill (or, before any, the oldest complete
   * snapshot) is older than this. A whole number of minutes, 5 to 10080. Only with `restoreDrills` on.
   *
   * @default - twice `backupInterval` plus `drillInterval` plus 10 minutes
   */
  readonly restoreDrillAlarmThreshold?: Duration;
}

/** Validates the backup options; every message names its prop. Token-safe. */
export function checkBackupOptions(o: EtcdBackupOptions): string[] {
  const errors: string[] = [];
  const minutes = (d: Duration | undefined, name: string, min: number, max: number) => {
    if (!d || d.isUnresolved()) return;
    const s = d.toSeconds();
    if (s % 60 !== 0 || s < min * 60 || s > max * 60) {
      errors.push(
        `backup.${name}: must be a whole number of minutes from ${min} to ${max} (got ${d.toHumanString()})`,
      );
    }
  };
  // The alarm's period and default threshold are computed from the interval; the threshold goes into the
  // alarm's description as text; restoreAfter goes into the Lambda's environment in seconds.
  for (const [name, d] of [
    ['backupInterval', o.backupInterval],
    ['snapshotAgeAlarmThreshold', o.snapshotAgeAlarmThreshold],
  ] as [string, Duration | undefined][]) {
    if (d?.isUnresolved()) errors.push(`backup.${name}: must be known at synth time, not a token`);
  }
  if (o.restoreAfter?.isUnresolved() && !convertsToSeconds(o.restoreAfter)) {
    errors.push(
      `backup.restoreAfter: a duration from a token must be given as Duration.seconds(token) (got ${o.restoreAfter.unitLabel()})`,
    );
  }
  if (o.incrementalInterval?.isUnresolved()) {
    errors.push('backup.incrementalInterval: must be known at synth time, not a token');
  } else if (o.incrementalInterval) {
    const ms = o.incrementalInterval.toMilliseconds();
    if (ms % 1000 !== 0 || ms < 1000 || ms > 300_000) {
      errors.push(
        `backup.incrementalInterval: must be a whole number of seconds from 1 to 300 (got ${o.incrementalInterval.toHumanString()})`,
      );
    }
  }
  for (const [name, d] of [
    ['drillInterval', o.drillInterval],
    ['restoreDrillAlarmThreshold', o.restoreDrillAlarmThreshold],
  ] as [string, Duration | undefined][]) {
    // The interval goes into the timer unit's text, both into the alarm's threshold and description.
    if (d?.isUnresolved()) errors.push(`backup.${name}: must be known at synth time, not a token`);
    if (d && o.restoreDrills === false)
      errors.push(`backup.${name}: only with backup.restoreDrills on (it is false)`);
  }
  if (o.restoreDrills === true && o.enabled === false) {
    errors.push('backup.restoreDrills: only with backups enabled (backup.enabled is false)');
  }
  minutes(o.drillInterval, 'drillInterval', 1, 1440);
  minutes(o.restoreDrillAlarmThreshold, 'restoreDrillAlarmThreshold', 5, 7 * 1440);
  if (o.incrementalInterval && o.incremental === false) {
    errors.push('backup.incrementalInterval: only with backup.incremental on (it is false)');
  }
  minutes(o.backupInterval, 'backupInterval', 5, 1440);
  minutes(o.restoreAfter, 'restoreAfter', 1, 1440);
  minutes(o.snapshotAgeAlarmThreshold, 'snapshotAgeAlarmThreshold', 5, 7 * 1440);
  if (o.retention && !o.retention.isUnresolved()) {
    const s = o.retention.toSeconds();
    if (s % 86400 !== 0 || s < 86400) {
      errors.push(
        `backup.retention: must be a whole number of days, at least 1 (got ${o.retention.toHumanString()})`,
      );
    }
  }
  if (o.prefix !== undefined && !Token.isUnresolved(o.prefix)) {
    if (o.prefix !== '' && (!/^[A-Za-z0-9!_.*'()\-/]+\/$/.test(o.prefix) || o.prefix.startsWith('/'))) {
      errors.push(
        `backup.prefix: must be empty or end with "/", without a leading "/" (got ${JSON.stringify(o.prefix)})`,
      );
    }
  }
  if (o.bucket && (o.retention || o.removalPolicy)) {
    errors.push(
      'backup.retention / backup.removalPolicy: apply only to the created bucket, not to backup.bucket',
    );
  }
  if (o.bucket && (o.serverAccessLogsBucket || o.serverAccessLogsPrefix !== undefined)) {
    errors.push(
      'backup.serverAccessLogsBucket / backup.serverAccessLogsPrefix: apply only to the created bucket, not to backup.bucket',
    );
  }
  if (o.serverAccessLogsPrefix !== undefined && !o.serverAccessLogsBucket) {
    errors.push('backup.serverAccessLogsPrefix: only with backup.serverAccessLogsBucket');
  }
  return errors;
}

/** The incremental log's bound in seconds (default 10), or undefined when the log is off. */
export function incrementalBackupSeconds(o: EtcdBackupOptions): number | undefined {
  if (o.incremental === false) return undefined;
  return o.incrementalInterval ? o.incrementalInterval.toSeconds() : DEFAULT_INCREMENTAL_SECONDS;
}

/** The default of `incrementalInterval`. */
export const DEFAULT_INCREMENTAL_SECONDS = 10;

/** The restore drills' timer interval in seconds (default 10 minutes), or undefined when drills are off. */
export function drillIntervalSeconds(o: EtcdBackupOptions): number | undefined {
  if (o.enabled === false || o.restoreDrills === false) return undefined;
  return o.drillInterval ? o.drillInterval.toSeconds() : DEFAULT_DRILL_INTERVAL_SECONDS;
}

/** The default of `drillInterval`. */
export const DEFAULT_DRILL_INTERVAL_SECONDS = 600;
