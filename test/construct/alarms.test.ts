/*
 * The alarms of EtcdCluster (lib/private/health-alarms.ts, alarms.ts): each on by default, each off by its
 * `alarms.*` switch, on the metric names the lifecycle Lambda publishes (MetricName), with their thresholds,
 * periods and missing-data treatment.
 */
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdAlarmOptions, EtcdCluster } from '../../lib';
import { METRIC_NAMESPACE, MetricName } from '../../lib/contract/names';
import { ACCOUNT, makeCluster, REGION, TEST_AMI } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The metric names an alarm watches (one, or those of its metric math). */
function metricNames(alarm: Json): string[] {
  const p = alarm.Properties;
  if (p.MetricName) return [p.MetricName];
  return p.Metrics.filter((q: Json) => q.MetricStat).map((q: Json) => q.MetricStat.Metric.MetricName);
}

function alarmsOf(template: Template): Record<string, Json> {
  return template.findResources('AWS::CloudWatch::Alarm');
}

const SWITCHES: [keyof EtcdAlarmOptions, keyof EtcdCluster, string[]][] = [
  ['healthyVoters', 'healthyVotersAlarm', [MetricName.DESIRED_CAPACITY, MetricName.HEALTHY_VOTERS]],
  ['stuckLearner', 'stuckLearnerAlarm', [MetricName.STUCK_LEARNERS]],
  ['retainedTermination', 'retainedTerminationAlarm', [MetricName.RETAINED_TERMINATIONS]],
  ['quotaUsage', 'quotaUsageAlarm', [MetricName.QUOTA_USED_PERCENT]],
  ['nospaceOrCorrupt', 'nospaceOrCorruptAlarm', [MetricName.ACTIVE_ALARMS]],
  ['certificateExpiry', 'certificateExpiryAlarm', [MetricName.CERTIFICATE_DAYS_LEFT]],
  ['snapshotAge', 'snapshotAgeAlarm', [MetricName.NEWEST_SNAPSHOT_AGE]],
  ['restoreAwaited', 'restoreAwaitedAlarm', [MetricName.AWAITING_RESTORE_TRIGGER]],
  ['restoreDrill', 'restoreDrillAlarm', [MetricName.LAST_VERIFIED_RESTORE_AGE]],
];

describe('alarms by default', () => {
  const { stack, cluster, template } = makeCluster();
  const alarms = alarmsOf(template);
  const byLogicalId = (prop: keyof EtcdCluster): Json => {
    const alarm = cluster[prop] as Json;
    expect(alarm).toBeDefined();
    const ref = stack.resolve(alarm.alarmName);
    return alarms[ref.Ref];
  };

  test('one alarm per switch, each a public property, on the metric names the Lambda publishes', () => {
    expect(Object.keys(alarms)).toHaveLength(SWITCHES.length);
    for (const [, prop, names] of SWITCHES) {
      const alarm = byLogicalId(prop);
      expect({ prop, names: metricNames(alarm).sort() }).toEqual({ prop, names: [...names].sort() });
      const namespaces = alarm.Properties.Namespace
        ? [alarm.Properties.Namespace]
        : alarm.Properties.Metrics.filter((q: Json) => q.MetricStat).map(
            (q: Json) => q.MetricStat.Metric.Namespace,
          );
      for (const ns of namespaces) expect(ns).toBe(METRIC_NAMESPACE);
      expect(names.every((n) => (Object.values(MetricName) as string[]).includes(n))).toBe(true);
    }
  });

  test('healthy voters: desired - healthy > 0 in 3 of 3 reconcile periods (5 min), missing data breaching', () => {
    const p = byLogicalId('healthyVotersAlarm').Properties;
    expect(p).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
    });
    const expr = p.Metrics.find((q: Json) => q.Expression);
    expect(expr.Expression).toBe('desired - healthy');
    const stat = (name: string) =>
      p.Metrics.find((q: Json) => q.MetricStat?.Metric.MetricName === name).MetricStat;
    // the best report of healthy voters against the least desired capacity: only a shortfall every report saw
    expect(stat('HealthyVoters')).toMatchObject({ Stat: 'Maximum', Period: 300 });
    expect(stat('DesiredCapacity')).toMatchObject({ Stat: 'Minimum', Period: 300 });
    expect(stat('HealthyVoters').Metric.Dimensions).toEqual([
      { Name: 'AutoScalingGroupName', Value: cluster.autoScalingGroupName },
    ]);
  });

  test('stuck learner: reported in 3 of 3 reconcile periods; missing data (no learner) not breaching', () => {
    expect(byLogicalId('stuckLearnerAlarm').Properties).toMatchObject({
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  test('retained termination: any one in 5 minutes', () => {
    expect(byLogicalId('retainedTerminationAlarm').Properties).toMatchObject({
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  test('quota usage: above 80 % in 2 of 2 reconcile periods; missing data keeps the state', () => {
    expect(byLogicalId('quotaUsageAlarm').Properties).toMatchObject({
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 80,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'ignore',
    });
  });

  test('NOSPACE or CORRUPT: any active alarm in one report', () => {
    expect(byLogicalId('nospaceOrCorruptAlarm').Properties).toMatchObject({
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'ignore',
    });
  });

  test('each description points to its README section', () => {
    for (const [, prop] of SWITCHES.slice(0, 5)) {
      const id = `${prop[0].toUpperCase()}${prop.slice(1)}`;
      expect(byLogicalId(prop).Properties.AlarmDescription).toContain(`(README "Alarms": ${id})`);
    }
  });
});

describe('each alarm turned off by its switch', () => {
  test.each(SWITCHES)('alarms.%s: false removes %s and nothing else', (name, prop, names) => {
    const { cluster, template } = makeCluster({ alarms: { [name]: false } });
    expect(cluster[prop]).toBeUndefined();
    const left = Object.values(alarmsOf(template)).map((a) => metricNames(a).sort().join('-'));
    expect(left).toHaveLength(SWITCHES.length - 1);
    expect(left).not.toContain([...names].sort().join('-'));
  });

  test('every switch off: no alarm at all', () => {
    const off = Object.fromEntries(SWITCHES.map(([n]) => [n, false]));
    const { template } = makeCluster({ alarms: off });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });
});

describe('alarm periods follow the reconcile interval', () => {
  test('15 minutes: 3 x 15 min for healthy voters, 2 x 15 min for the quota', () => {
    const { cluster, stack, template } = makeCluster({ reconcileInterval: Duration.minutes(15) });
    const alarms = alarmsOf(template);
    const props = (a: Json) => alarms[stack.resolve(a.alarmName).Ref].Properties;
    const hv = props(cluster.healthyVotersAlarm);
    expect(hv.Metrics.filter((q: Json) => q.MetricStat).map((q: Json) => q.MetricStat.Period)).toEqual([
      900, 900,
    ]);
    expect(hv.EvaluationPeriods).toBe(3);
    expect(props(cluster.quotaUsageAlarm)).toMatchObject({ Period: 900, EvaluationPeriods: 2 });
    expect(props(cluster.retainedTerminationAlarm)).toMatchObject({ Period: 300 });
  });

  test('12 hours: at most one day is evaluated (2 periods)', () => {
    const { cluster, stack, template } = makeCluster({ reconcileInterval: Duration.hours(12) });
    const alarms = alarmsOf(template);
    const hv = alarms[stack.resolve(cluster.healthyVotersAlarm!.alarmName).Ref].Properties;
    expect([hv.EvaluationPeriods, hv.DatapointsToAlarm]).toEqual([2, 2]);
  });

  test('a reconcile interval from a token: one-hour periods, missing data ignored by the healthy voters alarm', () => {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const minutes = new CfnParameter(stack, 'M', { type: 'Number' }).valueAsNumber;
    const cluster = new EtcdCluster(stack, 'Etcd', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      reconcileInterval: Duration.minutes(minutes),
    });
    const alarms = alarmsOf(Template.fromStack(stack));
    const hv = alarms[stack.resolve(cluster.healthyVotersAlarm!.alarmName).Ref].Properties;
    expect(hv.TreatMissingData).toBe('ignore');
    expect(hv.Metrics.filter((q: Json) => q.MetricStat).map((q: Json) => q.MetricStat.Period)).toEqual([
      3600, 3600,
    ]);
  });
});
