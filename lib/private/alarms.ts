/*
 * The alarms of an EtcdCluster (synth time only): certificate expiry (TLS), snapshot age and the awaited
 * restore (backups), and the `alarmActions` every alarm of the cluster gets.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { BackupWiring } from './backup-bucket';
import { backupInterval } from './backup-schedule';

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
 * Gives every alarm of the cluster (any `cloudwatch.Alarm` in its construct tree, so also alarms added
 * before this call by any part) the `alarmActions`.
 */
export function applyAlarmActions(cluster: Construct, actions: cloudwatch.IAlarmAction[]): void {
  if (actions.length === 0) return;
  for (const c of cluster.node.findAll()) {
    if (c instanceof cloudwatch.Alarm) c.addAlarmAction(...actions);
  }
}
