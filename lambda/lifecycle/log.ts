/*
 * Structured JSON log lines (one per decision, with its reason) and CloudWatch Embedded Metric Format lines.
 * Plain console.log: Lambda ships stdout to CloudWatch Logs, which extracts EMF metrics from the lines.
 */

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** The metrics this function emits, all counts, dimension AutoScalingGroupName, namespace CdkElasticEtcd. */
export enum MetricName {
  /** A terminating instance's member (or a dead member in its way) was removed by the terminate handler. */
  MEMBER_REMOVALS = 'MemberRemovals',
  /** A termination was answered with ABANDON: the instance is retained (removal unsafe or unprovable). */
  RETAINED_TERMINATIONS = 'RetainedTerminations',
  /** The scheduled reconcile removed a member. */
  RECONCILE_REMOVALS = 'ReconcileRemovals',
  /** The scheduled reconcile found a started learner that is not promoted. */
  STUCK_LEARNERS = 'StuckLearners',
  /** Seconds since the newest complete snapshot in S3 was taken (unit Seconds), emitted by every backup run. */
  NEWEST_SNAPSHOT_AGE = 'NewestSnapshotAgeSeconds',
  /** A backup run failed (no snapshot stored). */
  BACKUP_FAILURES = 'BackupFailures',
  /** A restore record was written (a restore started). */
  RESTORES = 'Restores',
  /**
   * The quorum is lost for good (e.g. a total loss: no member left) and the restore policy is manual: the
   * group waits for the restore trigger. Emitted by every reconcile while that lasts (value 1).
   */
  AWAITING_RESTORE_TRIGGER = 'AwaitingRestoreTrigger',
  /** The reconcile finished a retained termination: removed its member (when it had one) and terminated the instance. */
  RETAINED_TERMINATIONS_FINISHED = 'RetainedTerminationsFinished',
  /**
   * TLS clusters: whole days until the first of these expires: the CA, the Lambda's client identity, each
   * member's served certificate (measured by the reconcile). Unit None.
   */
  CERTIFICATE_DAYS_LEFT = 'CertificateDaysLeft',
}

export const METRIC_NAMESPACE = 'CdkElasticEtcd';

export type Sink = (line: string) => void;

export class Logger {
  constructor(
    private readonly fields: Readonly<Record<string, unknown>> = {},
    private readonly sink: Sink = (line) => console.log(line),
  ) {}

  /** A logger whose lines carry these fields too. */
  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new Logger({ ...this.fields, ...fields }, this.sink);
  }

  log(level: Level, message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.sink(JSON.stringify({ level, message, ...this.fields, ...fields }));
  }
  info(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('INFO', message, fields);
  }
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('WARN', message, fields);
  }
  error(message: string, fields?: Readonly<Record<string, unknown>>): void {
    this.log('ERROR', message, fields);
  }

  /** One EMF line: the metric `name` with `value` (Count), dimension AutoScalingGroupName. */
  metric(
    name: MetricName,
    value: number,
    groupName: string,
    fields: Readonly<Record<string, unknown>> = {},
    unit: 'Count' | 'Seconds' | 'None' = 'Count',
  ): void {
    this.sink(
      JSON.stringify({
        level: 'INFO',
        message: `metric ${name}`,
        ...this.fields,
        ...fields,
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [['AutoScalingGroupName']],
              Metrics: [{ Name: name, Unit: unit }],
            },
          ],
        },
        AutoScalingGroupName: groupName,
        [name]: value,
      }),
    );
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
