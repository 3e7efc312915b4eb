/* Fixed names both sides use: the lifecycle hooks, and the lifecycle Lambda's metrics. */

/** Name of the launch lifecycle hook (the agent's `promote` completes it). */
export const LAUNCH_HOOK_NAME = 'cdk-elastic-etcd-launch';
/** Name of the terminate lifecycle hook (the lifecycle Lambda completes it). */
export const TERMINATE_HOOK_NAME = 'cdk-elastic-etcd-terminate';

/** CloudWatch namespace of the lifecycle Lambda's metrics (embedded metric format). */
export const METRIC_NAMESPACE = 'CdkElasticEtcd';
/** The one dimension of every metric: the group's name. */
export const METRIC_DIMENSION = 'AutoScalingGroupName';

/** The metrics the lifecycle Lambda emits (namespace METRIC_NAMESPACE, dimension METRIC_DIMENSION). */
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
  /**
   * Seconds since the newest restore drill that passed (a snapshot, or the newest snapshot and its incremental
   * log, restored into a scratch etcd and checked against what was recorded; issue 16). Without any passed
   * drill: seconds since the oldest complete snapshot (backups that were never proven). Emitted by every
   * reconcile when drills are on. Unit Seconds.
   */
  LAST_VERIFIED_RESTORE_AGE = 'LastVerifiedRestoreAgeSeconds',
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

  // Gauges every reconcile publishes (unit None unless said).
  /** Voters whose client endpoint answered healthy. */
  HEALTHY_VOTERS = 'HealthyVoters',
  /** The group's desired capacity. */
  DESIRED_CAPACITY = 'DesiredCapacity',
  /** Members that are learners (started or not). */
  LEARNERS = 'Learners',
  /** Members added but never started (no name, no client URL). */
  UNSTARTED_MEMBERS = 'UnstartedMembers',
  /** The largest dbSize of any member (Bytes). */
  DB_SIZE = 'DbSizeBytes',
  /** The largest dbSizeInUse of any member (Bytes). */
  DB_SIZE_IN_USE = 'DbSizeInUseBytes',
  /** The largest dbSize as a percentage of the backend quota (Percent). */
  QUOTA_USED_PERCENT = 'QuotaUsedPercent',
  /** 1 when the leader differs from the one the previous reconcile saw, else 0. */
  LEADER_CHANGES = 'LeaderChanges',
  /** Active etcd alarms (NOSPACE, CORRUPT), counted per member and kind. */
  ACTIVE_ALARMS = 'ActiveAlarms',
  /** Active CORRUPT alarms (never disarmed automatically). */
  CORRUPT_ALARMS = 'CorruptAlarms',

  // Counts of what the maintenance runs did.
  /** A member was defragmented. */
  DEFRAGMENTATIONS = 'Defragmentations',
  /** Leadership was moved before a planned defragmentation (or removal) of the leader. */
  LEADER_MOVES = 'LeaderMoves',
  /** The keyspace was compacted by a NOSPACE recovery. */
  NOSPACE_COMPACTIONS = 'NospaceCompactions',
  /** A NOSPACE alarm was disarmed after the recovery. */
  NOSPACE_DISARMS = 'NospaceDisarms',
}
