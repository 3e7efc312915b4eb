/*
 * The day-two alarms of an EtcdCluster (synth time only), on the gauges and counts the lifecycle Lambda
 * publishes: healthy voters below desired, a stuck learner, a retained termination, the backend near its
 * quota, and an active NOSPACE or CORRUPT alarm. README "Alarms" says what each means and what to do.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { ResolvedAlarms } from '../alarm-options';
import { MetricName } from '../contract/names';
import { clusterMetric } from './metrics';

export interface HealthAlarmInput {
  /** How often the reconcile publishes the gauges: the alarms' period. */
  readonly reconcileInterval: Duration;
  /** Which alarms to create. */
  readonly alarms: ResolvedAlarms;
}

export interface HealthAlarms {
  readonly healthyVoters?: cloudwatch.Alarm;
  readonly stuckLearner?: cloudwatch.Alarm;
  readonly retainedTermination?: cloudwatch.Alarm;
  readonly quotaUsage?: cloudwatch.Alarm;
  readonly nospaceOrCorrupt?: cloudwatch.Alarm;
}

/** The backend size (percent of the quota) above which quotaUsageAlarm fires. */
export const QUOTA_ALARM_PERCENT = 80;

/**
 * The period of the gauge alarms: one reconcile interval, so each period holds one report. A reconcile interval
 * from a token cannot be converted: one hour then (missing data is ignored by those alarms).
 */
function gaugePeriod(interval: Duration): { period: Duration; known: boolean } {
  return interval.isUnresolved()
    ? { period: Duration.hours(1), known: false }
    : { period: interval, known: true };
}

/** `wanted` periods, as many as fit in one day (CloudWatch evaluates at most 1 day). */
function periods(period: Duration, wanted: number): number {
  return Math.max(1, Math.min(wanted, Math.floor(86400 / period.toSeconds())));
}

export function healthAlarms(scope: Construct, groupName: string, input: HealthAlarmInput): HealthAlarms {
  const switches = input.alarms;
  const { period, known } = gaugePeriod(input.reconcileInterval);
  const metric = (name: MetricName, props?: cloudwatch.MetricOptions) =>
    clusterMetric(groupName, name, { period, ...props });
  const three = periods(period, 3);
  const two = periods(period, 2);
  const where = `cdk-elastic-etcd ${groupName}`;
  const readme = (section: string) => ` (README "Alarms": ${section})`;

  // Desired minus healthy, per period: the best report (Maximum healthy) against the least desired (Minimum),
  // so only a shortfall that every reconcile of the period saw counts. Three periods in a row: a replacement
  // or a rolling update passes within them. No report at all is missing data, treated as BREACHING: the
  // reconcile is what publishes the gauges and what replaces dead members, so without it the cluster is not
  // self-healing, which needs the same look as a missing voter. (A reconcile interval from a token: the
  // periods may be shorter than the interval, so missing data is ignored instead.)
  const healthyVoters =
    switches.healthyVoters &&
    new cloudwatch.Alarm(scope, 'HealthyVotersAlarm', {
      alarmDescription:
        `${where}: fewer healthy voters than the desired capacity for ${three} reconcile intervals, or no ` +
        `reconcile reported${readme('HealthyVotersAlarm')}`,
      metric: new cloudwatch.MathExpression({
        expression: 'desired - healthy',
        usingMetrics: {
          desired: metric(MetricName.DESIRED_CAPACITY, { statistic: 'Minimum' }),
          healthy: metric(MetricName.HEALTHY_VOTERS, { statistic: 'Maximum' }),
        },
        period,
        label: 'voters missing',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: three,
      datapointsToAlarm: three,
      treatMissingData: known ? cloudwatch.TreatMissingData.BREACHING : cloudwatch.TreatMissingData.IGNORE,
    });

  // A learner is normal while it catches up (seconds to minutes); reported by three reconciles in a row it is
  // stuck. StuckLearners is published only when there is one: missing data is none.
  const stuckLearner =
    switches.stuckLearner &&
    new cloudwatch.Alarm(scope, 'StuckLearnerAlarm', {
      alarmDescription: `${where}: a started learner stayed unpromoted for ${three} reconcile intervals${readme('StuckLearnerAlarm')}`,
      metric: metric(MetricName.STUCK_LEARNERS, { statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: three,
      datapointsToAlarm: three,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

  // Published once per retained termination: any one needs an operator. Missing data: none retained.
  const retainedTermination =
    switches.retainedTermination &&
    new cloudwatch.Alarm(scope, 'RetainedTerminationAlarm', {
      alarmDescription: `${where}: a terminating instance was retained because removing its member was unsafe${readme('RetainedTerminationAlarm')}`,
      metric: clusterMetric(groupName, MetricName.RETAINED_TERMINATIONS, { period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

  // Two periods: a maintenance run in between may reclaim the space (dbSize counts reclaimable pages too).
  // Missing data keeps the state: the healthy voters alarm covers a reconcile that stopped reporting.
  const quotaUsage =
    switches.quotaUsage &&
    new cloudwatch.Alarm(scope, 'QuotaUsageAlarm', {
      alarmDescription: `${where}: a member's backend is above ${QUOTA_ALARM_PERCENT} % of the quota for ${two} reconcile intervals${readme('QuotaUsageAlarm')}`,
      metric: metric(MetricName.QUOTA_USED_PERCENT, { statistic: 'Maximum' }),
      threshold: QUOTA_ALARM_PERCENT,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: two,
      datapointsToAlarm: two,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });

  // NOSPACE makes the cluster read-only (even if the maintenance recovers it, someone should know why it
  // filled up); CORRUPT is never disarmed automatically. One report suffices.
  const nospaceOrCorrupt =
    switches.nospaceOrCorrupt &&
    new cloudwatch.Alarm(scope, 'NospaceOrCorruptAlarm', {
      alarmDescription: `${where}: etcd's NOSPACE or CORRUPT alarm is active on a member${readme('NospaceOrCorruptAlarm')}`,
      metric: metric(MetricName.ACTIVE_ALARMS, { statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });

  return {
    healthyVoters: healthyVoters || undefined,
    stuckLearner: stuckLearner || undefined,
    retainedTermination: retainedTermination || undefined,
    quotaUsage: quotaUsage || undefined,
    nospaceOrCorrupt: nospaceOrCorrupt || undefined,
  };
}
