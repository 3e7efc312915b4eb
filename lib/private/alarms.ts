/*
 * The alarms of an EtcdCluster (synth time only): certificate expiry (TLS), snapshot age, the awaited
 * restore and the restore drills (backups), and the `alarmActions` every alarm of the cluster gets.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { ResolvedAlarms } from '../alarm-options';
import { DEFAULT_DRILL_INTERVAL_SECONDS, drillIntervalSeconds } from '../backup';
import { MetricName } from '../contract/names';
import { BackupWiring } from './backup-bucket';
import { backupInterval } from './backup-schedule';
import { clusterMetric } from './metrics';

/** A cluster certificate (CA, the Lambda's client identity, a member's served certificate) expires within 30 days. */
export function certificateExpiryAlarm(
  scope: Construct,
  daysLeft: cloudwatch.Metric,
  groupName: string,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, 'CertificateExpiryAlarm', {
    alarmDescription:
      `cdk-elastic-etcd ${groupName}: a cluster certificate expires within 30 days ` +
      '(see README "Certificate rotation")',
    metric: daysLeft,
    threshold: 30,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The snapshot age alarm's threshold: `backup.snapshotAgeAlarmThreshold`, or twice the interval plus 10 minutes. */
export function snapshotAgeThreshold(wiring: BackupWiring): Duration {
  return (
    wiring.options.snapshotAgeAlarmThreshold ?? Duration.seconds(backupInterval(wiring).toSeconds() * 2 + 600)
  );
}

/** The newest complete snapshot is older than the threshold, or no backup run reported. */
export function snapshotAgeAlarm(
  scope: Construct,
  wiring: BackupWiring,
  snapshotAge: cloudwatch.Metric,
  groupName: string,
): cloudwatch.Alarm {
  const interval = backupInterval(wiring);
  const threshold = snapshotAgeThreshold(wiring);
  // Every backup run reports the age (0 after a success). The freshest age over two intervals: one good run
  // in the window keeps it low; no report at all in the window (schedule or function broken) is missing data,
  // treated as breaching.
  const period = Duration.seconds(Math.min(interval.toSeconds() * 2, 86400));
  return new cloudwatch.Alarm(scope, 'SnapshotAgeAlarm', {
    alarmDescription:
      `cdk-elastic-etcd: the newest complete snapshot of ${groupName} is older than ` +
      `${threshold.toHumanString()}, or no backup run reported within ${period.toHumanString()}: a restore ` +
      'would lose more writes than planned',
    metric: snapshotAge.with({ statistic: 'Minimum', period }),
    threshold: threshold.toSeconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
}

/**
 * The alarm on `AwaitingRestoreTrigger`: the quorum is lost for good (e.g. a total loss, no member left)
 * under `RestorePolicy.MANUAL`, and the group waits for the restore trigger. Every reconcile reports it while
 * that lasts; no report means no wait.
 */
export function restoreAwaitedAlarm(
  scope: Construct,
  metric: cloudwatch.Metric,
  groupName: string,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, 'RestoreAwaitedAlarm', {
    alarmDescription:
      `cdk-elastic-etcd: ${groupName} lost its quorum for good (no member left, or too few to form a quorum) ` +
      'and the restore policy is manual: invoke the lifecycle function with {"kind":"restore"} (README ' +
      '"Backups and disaster recovery")',
    metric: metric.with({ statistic: 'Maximum', period: Duration.minutes(5) }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/**
 * The restore drill alarm's threshold: `backup.restoreDrillAlarmThreshold`, or twice the backup interval plus
 * the drill interval plus 10 minutes (a snapshot is taken within one backup interval, drilled within one drill
 * interval; one more backup interval for a snapshot that came just after a tick, 10 minutes for the run).
 */
export function restoreDrillThreshold(wiring: BackupWiring): Duration {
  const drill = drillIntervalSeconds(wiring.options) ?? DEFAULT_DRILL_INTERVAL_SECONDS;
  return (
    wiring.options.restoreDrillAlarmThreshold ??
    Duration.seconds(backupInterval(wiring).toSeconds() * 2 + drill + 600)
  );
}

/**
 * `LastVerifiedRestoreAgeSeconds` above the threshold: no drill passed for that long (drills fail, or do not
 * run: the timer, the lock, the members' write access). Every reconcile reports it while drills are on, so the
 * period is two reconcile intervals (one hour when the interval is a token; at most a day) and the freshest
 * report counts (Minimum). Missing data is NOT breaching: nothing is reported before the first complete
 * snapshot exists (the snapshot age alarm covers that), and no reconcile at all is the healthy voters alarm's.
 */
export function restoreDrillAlarm(
  scope: Construct,
  wiring: BackupWiring,
  groupName: string,
  reconcileInterval: Duration,
): cloudwatch.Alarm {
  const threshold = restoreDrillThreshold(wiring);
  const period = reconcileInterval.isUnresolved()
    ? Duration.hours(1)
    : Duration.seconds(Math.min(reconcileInterval.toSeconds() * 2, 86400));
  return new cloudwatch.Alarm(scope, 'RestoreDrillAlarm', {
    alarmDescription:
      `cdk-elastic-etcd: no restore drill of ${groupName}'s backups passed within ${threshold.toHumanString()} ` +
      '(the newest passed drill, or with none the oldest complete snapshot, is older): the backups are not ' +
      `proven restorable; see the drill results under ${wiring.prefix}drills/ in the bucket and the journal of ` +
      'etcd-backup-drill.service on the members. No data (no complete snapshot yet) is not breaching: the ' +
      'snapshot age alarm covers that',
    metric: clusterMetric(groupName, MetricName.LAST_VERIFIED_RESTORE_AGE, { statistic: 'Minimum', period }),
    threshold: threshold.toSeconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The backup alarms the switches turn on: snapshot age, restore awaited, restore drill (with drills). */
export function backupAlarms(
  scope: Construct,
  wiring: BackupWiring,
  input: { groupName: string; alarms: ResolvedAlarms; reconcileInterval: Duration },
): { snapshotAge?: cloudwatch.Alarm; restoreAwaited?: cloudwatch.Alarm; restoreDrill?: cloudwatch.Alarm } {
  const { groupName, alarms: on } = input;
  const metric = (name: MetricName) => clusterMetric(groupName, name);
  return {
    snapshotAge: on.snapshotAge
      ? snapshotAgeAlarm(scope, wiring, metric(MetricName.NEWEST_SNAPSHOT_AGE), groupName)
      : undefined,
    restoreAwaited: on.restoreAwaited
      ? restoreAwaitedAlarm(scope, metric(MetricName.AWAITING_RESTORE_TRIGGER), groupName)
      : undefined,
    restoreDrill:
      on.restoreDrill && drillIntervalSeconds(wiring.options) !== undefined
        ? restoreDrillAlarm(scope, wiring, groupName, input.reconcileInterval)
        : undefined,
  };
}

/**
 * Gives every alarm of the cluster (any `cloudwatch.Alarm` in its construct tree, so also alarms added
 * before this call by any part) the `alarmActions`.
 */
export function applyAlarmActions(cluster: Construct, actions: cloudwatch.IAlarmAction[]): void {
  if (actions.length === 0) return;
  for (const c of cluster.node.findAll()) {
    if (c instanceof cloudwatch.Alarm) c.addAlarmAction(...actions);
  }
}
