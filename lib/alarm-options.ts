/*
 * Which alarms an EtcdCluster creates (public options, synth time only). Every alarm is on by default; the
 * alarms themselves are in lib/private/alarms.ts and lib/private/health-alarms.ts, documented in the README
 * ("Alarms": what each means and what to do).
 */

/** Turn off single alarms of an {@link EtcdCluster}. Each is on by default; `alarmActions` applies to all. */
export interface EtcdAlarmOptions {
  /**
   * `healthyVotersAlarm`: fewer healthy voters than the group's desired capacity for three reconcile
   * intervals in a row, or no reconcile reported (the self-healing is not running).
   *
   * @default true
   */
  readonly healthyVoters?: boolean;

  /**
   * `stuckLearnerAlarm`: a started learner stayed unpromoted for three reconcile intervals in a row.
   *
   * @default true
   */
  readonly stuckLearner?: boolean;

  /**
   * `retainedTerminationAlarm`: a terminating instance was retained because removing its member was unsafe.
   *
   * @default true
   */
  readonly retainedTermination?: boolean;

  /**
   * `quotaUsageAlarm`: the largest member backend is above 80 % of the quota for two reconcile intervals in
   * a row.
   *
   * @default true
   */
  readonly quotaUsage?: boolean;

  /**
   * `nospaceOrCorruptAlarm`: etcd's NOSPACE or CORRUPT alarm is active on a member.
   *
   * @default true
   */
  readonly nospaceOrCorrupt?: boolean;

  /**
   * `certificateExpiryAlarm` (with TLS): a cluster certificate expires within 30 days.
   *
   * @default true
   */
  readonly certificateExpiry?: boolean;

  /**
   * `snapshotAgeAlarm` (with backups): the newest complete snapshot is older than
   * `backup.snapshotAgeAlarmThreshold`, or no backup run reported.
   *
   * @default true
   */
  readonly snapshotAge?: boolean;

  /**
   * `restoreAwaitedAlarm` (with backups): the quorum is lost for good and the group waits for the restore
   * trigger (`RestorePolicy.MANUAL`).
   *
   * @default true
   */
  readonly restoreAwaited?: boolean;

  /**
   * `restoreDrillAlarm` (with backups and `backup.restoreDrills`): no restore drill passed for longer than
   * `backup.restoreDrillAlarmThreshold`.
   *
   * @default true
   */
  readonly restoreDrill?: boolean;
}

/** The alarm switches with their defaults applied. */
export type ResolvedAlarms = Required<{ readonly [K in keyof EtcdAlarmOptions]: boolean }>;

/** Applies the defaults: every alarm on unless turned off. */
export function resolveAlarms(o: EtcdAlarmOptions): ResolvedAlarms {
  return {
    healthyVoters: o.healthyVoters ?? true,
    stuckLearner: o.stuckLearner ?? true,
    retainedTermination: o.retainedTermination ?? true,
    quotaUsage: o.quotaUsage ?? true,
    nospaceOrCorrupt: o.nospaceOrCorrupt ?? true,
    certificateExpiry: o.certificateExpiry ?? true,
    snapshotAge: o.snapshotAge ?? true,
    restoreAwaited: o.restoreAwaited ?? true,
    restoreDrill: o.restoreDrill ?? true,
  };
}
