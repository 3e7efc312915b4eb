/*
 * The lifecycle Lambda's metrics as CloudWatch metric objects (synth time only): one statistic per metric
 * name, shared by EtcdCluster's metric methods, its alarms and its dashboard.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_DIMENSION, METRIC_NAMESPACE, MetricName } from '../contract/names';

interface MetricDefaults {
  readonly statistic: string;
  readonly period?: Duration;
  readonly unit?: cloudwatch.Unit;
}

const SUM: MetricDefaults = { statistic: 'Sum' };
/** A gauge where the lowest report of a period counts (the worst case: fewest healthy voters, freshest age). */
const MIN: MetricDefaults = { statistic: 'Minimum' };
/** A gauge where the highest report of a period counts (the worst case: largest backend, any active alarm). */
const MAX: MetricDefaults = { statistic: 'Maximum' };

/**
 * How each metric is aggregated by default. Counts are summed; each gauge takes the statistic that shows its
 * worst case in a period, except DesiredCapacity (Maximum: what the group should have at most).
 */
export const METRIC_DEFAULTS: Readonly<Record<MetricName, MetricDefaults>> = {
  [MetricName.MEMBER_REMOVALS]: SUM,
  [MetricName.RETAINED_TERMINATIONS]: SUM,
  [MetricName.RECONCILE_REMOVALS]: SUM,
  [MetricName.STUCK_LEARNERS]: SUM,
  [MetricName.NEWEST_SNAPSHOT_AGE]: { statistic: 'Minimum', unit: cloudwatch.Unit.SECONDS },
  [MetricName.LAST_VERIFIED_RESTORE_AGE]: { statistic: 'Minimum', unit: cloudwatch.Unit.SECONDS },
  [MetricName.BACKUP_FAILURES]: SUM,
  [MetricName.RESTORES]: SUM,
  [MetricName.AWAITING_RESTORE_TRIGGER]: MAX,
  [MetricName.RETAINED_TERMINATIONS_FINISHED]: SUM,
  [MetricName.CERTIFICATE_DAYS_LEFT]: { statistic: 'Minimum', period: Duration.hours(1) },
  [MetricName.HEALTHY_VOTERS]: MIN,
  [MetricName.DESIRED_CAPACITY]: MAX,
  [MetricName.LEARNERS]: MAX,
  [MetricName.UNSTARTED_MEMBERS]: MAX,
  [MetricName.DB_SIZE]: MAX,
  [MetricName.DB_SIZE_IN_USE]: MAX,
  [MetricName.QUOTA_USED_PERCENT]: MAX,
  [MetricName.LEADER_CHANGES]: SUM,
  [MetricName.ACTIVE_ALARMS]: MAX,
  [MetricName.CORRUPT_ALARMS]: MAX,
  [MetricName.DEFRAGMENTATIONS]: SUM,
  [MetricName.LEADER_MOVES]: SUM,
  [MetricName.NOSPACE_COMPACTIONS]: SUM,
  [MetricName.NOSPACE_DISARMS]: SUM,
};

/**
 * The metric `name` of the group `groupName` (namespace METRIC_NAMESPACE, dimension AutoScalingGroupName),
 * over 5 minutes unless its defaults or `props` say otherwise. The new gauges carry no unit on purpose: a
 * metric with a unit only matches data points published with that same unit.
 */
export function clusterMetric(
  groupName: string,
  name: MetricName,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  const d = METRIC_DEFAULTS[name];
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { [METRIC_DIMENSION]: groupName },
    statistic: d.statistic,
    period: d.period ?? Duration.minutes(5),
    ...(d.unit && { unit: d.unit }),
    ...props,
  });
}
