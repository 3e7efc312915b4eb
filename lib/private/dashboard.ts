/*
 * The CloudWatch dashboard of an EtcdCluster (synth time only): the lifecycle Lambda's gauges and counts in
 * one place (README "Dashboard").
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { drillIntervalSeconds } from '../backup';
import { MetricName } from '../contract/names';
import { restoreDrillThreshold, snapshotAgeThreshold } from './alarms';
import { BackupWiring } from './backup-bucket';
import { QUOTA_ALARM_PERCENT } from './health-alarms';
import { clusterMetric } from './metrics';

export interface DashboardInput {
  readonly groupName: string;
  /** The backend quota in bytes (the size graph's horizontal line). */
  readonly quotaBackendBytes: number;
  /** Backups: the snapshot age graph, and with restore drills the drill graph, each with its alarm's threshold. */
  readonly backup?: BackupWiring;
  /** With TLS: the certificate days left graph. */
  readonly tls: boolean;
}

const WIDTH = 12;
const HEIGHT = 6;

export function clusterDashboard(scope: Construct, input: DashboardInput): cloudwatch.Dashboard {
  const m = (name: MetricName, label: string, props?: cloudwatch.MetricOptions) =>
    clusterMetric(input.groupName, name, { label, ...props });
  const graph = (
    title: string,
    left: cloudwatch.IMetric[],
    extra: Partial<cloudwatch.GraphWidgetProps> = {},
  ) => new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...extra });
  const counts = { statistic: 'Sum', period: Duration.minutes(5) };

  const widgets: cloudwatch.IWidget[] = [
    graph('Members vs desired', [
      m(MetricName.HEALTHY_VOTERS, 'healthy voters'),
      m(MetricName.DESIRED_CAPACITY, 'desired capacity'),
      m(MetricName.LEARNERS, 'learners'),
      m(MetricName.UNSTARTED_MEMBERS, 'unstarted members'),
    ]),
    graph(
      'Backend size vs quota (largest member)',
      [m(MetricName.DB_SIZE, 'dbSize'), m(MetricName.DB_SIZE_IN_USE, 'dbSizeInUse')],
      { leftAnnotations: [{ value: input.quotaBackendBytes, label: 'quota' }], leftYAxis: { min: 0 } },
    ),
    graph('Quota used (%)', [m(MetricName.QUOTA_USED_PERCENT, 'quota used')], {
      leftAnnotations: [{ value: QUOTA_ALARM_PERCENT, label: 'alarm' }],
      leftYAxis: { min: 0, max: 100 },
    }),
    graph('Leader changes and etcd alarms', [
      m(MetricName.LEADER_CHANGES, 'leader changes'),
      m(MetricName.ACTIVE_ALARMS, 'active alarms (NOSPACE, CORRUPT)'),
      m(MetricName.CORRUPT_ALARMS, 'CORRUPT alarms'),
    ]),
    graph('Removals and retained terminations', [
      m(MetricName.MEMBER_REMOVALS, 'member removals', counts),
      m(MetricName.RECONCILE_REMOVALS, 'reconcile removals', counts),
      m(MetricName.RETAINED_TERMINATIONS, 'retained terminations', counts),
      m(MetricName.RETAINED_TERMINATIONS_FINISHED, 'retained terminations finished', counts),
      m(MetricName.STUCK_LEARNERS, 'stuck learners', counts),
    ]),
    graph('Maintenance', [
      m(MetricName.DEFRAGMENTATIONS, 'defragmentations', counts),
      m(MetricName.LEADER_MOVES, 'leader moves', counts),
      m(MetricName.NOSPACE_COMPACTIONS, 'NOSPACE compactions', counts),
      m(MetricName.NOSPACE_DISARMS, 'NOSPACE disarms', counts),
    ]),
  ];
  const { backup } = input;
  if (backup) {
    widgets.push(
      graph(
        'Newest snapshot age (s); backups and restores',
        [m(MetricName.NEWEST_SNAPSHOT_AGE, 'snapshot age')],
        {
          right: [
            m(MetricName.BACKUP_FAILURES, 'backup failures', counts),
            m(MetricName.RESTORES, 'restores', counts),
            m(MetricName.AWAITING_RESTORE_TRIGGER, 'awaiting restore trigger'),
          ],
          leftAnnotations: [{ value: snapshotAgeThreshold(backup).toSeconds(), label: 'alarm' }],
        },
      ),
    );
  }
  if (backup && drillIntervalSeconds(backup.options) !== undefined) {
    widgets.push(
      graph(
        'Last verified restore age (s): restore drills',
        [m(MetricName.LAST_VERIFIED_RESTORE_AGE, 'last verified restore age')],
        { leftAnnotations: [{ value: restoreDrillThreshold(backup).toSeconds(), label: 'alarm' }] },
      ),
    );
  }
  if (input.tls) {
    widgets.push(
      graph('Certificate days left', [m(MetricName.CERTIFICATE_DAYS_LEFT, 'days left')], {
        leftAnnotations: [{ value: 30, label: 'alarm' }],
      }),
    );
  }
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    defaultInterval: Duration.days(1),
  });
  for (let i = 0; i < widgets.length; i += 2) dashboard.addWidgets(...widgets.slice(i, i + 2));
  return dashboard;
}
