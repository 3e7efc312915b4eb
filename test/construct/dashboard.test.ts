/* The CloudWatch dashboard of EtcdCluster (lib/private/dashboard.ts): its graphs, on by default, off by its prop. */
import { Size } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MetricName } from '../../lib/contract/names';
import { makeCluster, resolveIntrinsics } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The dashboard's widgets, parsed from its body. */
function widgetsOf(template: Template): Json[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  return JSON.parse(resolveIntrinsics(dashboards[0].Properties.DashboardBody)).widgets;
}

/** Widget title -> the metric names it shows (`[namespace, name, dimension, value, {options}]` rows). */
function graphs(widgets: Json[]): Record<string, string[]> {
  return Object.fromEntries(
    widgets.map((w) => [w.properties.title, (w.properties.metrics ?? []).map((row: Json[]) => row[1])]),
  );
}

describe('dashboard with defaults (TLS, backups)', () => {
  const { cluster, template } = makeCluster();
  const widgets = widgetsOf(template);
  const byTitle = graphs(widgets);

  test('is a public property; every graph shows the metrics of this group', () => {
    expect(cluster.dashboard).toBeDefined();
    for (const w of widgets)
      for (const row of w.properties.metrics)
        expect(row.slice(0, 4)).toEqual([
          'CdkElasticEtcd',
          row[1],
          'AutoScalingGroupName',
          cluster.autoScalingGroupName,
        ]);
  });

  test('the graphs the issue asks for, with the metric names the Lambda publishes', () => {
    expect(byTitle).toEqual({
      'Members vs desired': ['HealthyVoters', 'DesiredCapacity', 'Learners', 'UnstartedMembers'],
      'Backend size vs quota (largest member)': ['DbSizeBytes', 'DbSizeInUseBytes'],
      'Quota used (%)': ['QuotaUsedPercent'],
      'Leader changes and etcd alarms': ['LeaderChanges', 'ActiveAlarms', 'CorruptAlarms'],
      'Removals and retained terminations': [
        'MemberRemovals',
        'ReconcileRemovals',
        'RetainedTerminations',
        'RetainedTerminationsFinished',
        'StuckLearners',
      ],
      Maintenance: ['Defragmentations', 'LeaderMoves', 'NospaceCompactions', 'NospaceDisarms'],
      'Newest snapshot age (s); backups and restores': [
        'NewestSnapshotAgeSeconds',
        'BackupFailures',
        'Restores',
        'AwaitingRestoreTrigger',
      ],
      'Last verified restore age (s): restore drills': ['LastVerifiedRestoreAgeSeconds'],
      'Certificate days left': ['CertificateDaysLeft'],
    });
    const shown = new Set(Object.values(byTitle).flat());
    expect(Object.values(MetricName).filter((n) => !shown.has(n))).toEqual([]);
  });

  test('the size graph has a horizontal line at the quota; the quota graph at the alarm threshold', () => {
    const size = widgets.find((w) => w.properties.title.startsWith('Backend size'));
    expect(size.properties.annotations.horizontal).toEqual([
      { value: 8 * 1024 ** 3, label: 'quota', yAxis: 'left' },
    ]);
    const pct = widgets.find((w) => w.properties.title === 'Quota used (%)');
    expect(pct.properties.annotations.horizontal[0]).toMatchObject({ value: 80 });
  });

  test('counts are summed, gauges show their worst case', () => {
    const stat = (title: string, name: string) =>
      widgets
        .find((w) => w.properties.title === title)
        .properties.metrics.find((r: Json[]) => r[1] === name)[4].stat;
    expect(stat('Maintenance', 'Defragmentations')).toBe('Sum');
    expect(stat('Members vs desired', 'HealthyVoters')).toBe('Minimum');
    expect(stat('Backend size vs quota (largest member)', 'DbSizeBytes')).toBe('Maximum');
  });
});

test('the quota line follows maintenance.quotaBackendSize', () => {
  const { template } = makeCluster({
    dataVolumeSize: 10,
    maintenance: { quotaBackendSize: Size.gibibytes(2) },
  });
  const size = widgetsOf(template).find((w) => w.properties.title.startsWith('Backend size'));
  expect(size.properties.annotations.horizontal[0].value).toBe(2 * 1024 ** 3);
});

test('without TLS and backups: no certificate or snapshot graph', () => {
  const titles = Object.keys(
    graphs(widgetsOf(makeCluster({ tls: false, backup: { enabled: false } }).template)),
  );
  expect(titles).toHaveLength(6);
  expect(titles.some((t) => /snapshot|Certificate/.test(t))).toBe(false);
});

test('dashboard: false creates none', () => {
  const { cluster, template } = makeCluster({ dashboard: false });
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  expect(cluster.dashboard).toBeUndefined();
});
