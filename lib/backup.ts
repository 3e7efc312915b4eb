/*
 * Backups and disaster recovery of an EtcdCluster (synth time only): the snapshot bucket, the backup
 * schedule, the Lambda's backup/restore settings and permissions, the instances' read access, the snapshot
 * age alarm. The run-time side is lambda/lifecycle/backup.ts, restore.ts and lambda/agent/restore.ts.
 */
import { Annotations, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CFN_GUARD } from './controls';
import { BACKUP_BUCKET_PATH } from './ignition';
import { convertsToSeconds } from './validation';

/** What happens after the cluster lost its quorum for good (the members that made it are gone with their data). */
export enum RestorePolicy {
  /**
   * Nothing is restored until an operator invokes the lifecycle function with `{"kind":"restore"}`.
   * The default: a restore discards every write after the newest snapshot and replaces the cluster
   * (new cluster id), which a human should decide.
   */
  MANUAL = 'manual',
  /** The scheduled reconcile restores by itself once the quorum was lost for `restoreAfter`. */
  AUTOMATIC = 'automatic',
}

/** Backups of an {@link EtcdCluster} to S3, and the restore after quorum loss. */
export interface EtcdBackupOptions {
  /**
   * Take backups, and allow restores. Without backups nothing can be restored after a quorum loss.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Bring your own bucket for the snapshots and restore records. It should be encrypted, versioned,
   * private and TLS-only; `retention` and `removalPolicy` do not apply to it.
   *
   * @default - a new bucket: SSE-KMS encrypted with the cluster's `encryptionKey` (S3 bucket key on),
   * versioned, public access blocked, TLS only, events to EventBridge, snapshots expired after `retention`
   */
  readonly bucket?: s3.IBucket;

  /**
   * Server access logs of the created bucket go to this bucket (e.g. your organization's access log bucket,
   * which must accept logs from the S3 logging service and use SSE-S3). Not with `bucket`.
   *
   * @default - no server access logs (CloudTrail records the API calls that matter: acknowledged for cdk-nag
   * AwsSolutions-S1 and Control Tower CT.S3.PR.2)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * Key prefix of the server access logs in `serverAccessLogsBucket`.
   *
   * @default - no prefix
   */
  readonly serverAccessLogsPrefix?: string;

  /**
   * Key prefix of everything this cluster writes in the bucket (so clusters can share a bucket). Empty,
   * or ending with "/".
   *
   * @default ''
   */
  readonly prefix?: string;

  /**
   * How often a snapshot is taken. A whole number of minutes, 5 to 1440.
   *
   * @default Duration.minutes(30)
   */
  readonly backupInterval?: Duration;

  /**
   * How long snapshots are kept in the created bucket (a lifecycle rule; whole days, at least 1).
   *
   * @default Duration.days(30)
   */
  readonly retention?: Duration;

  /**
   * What happens to the created bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Take a snapshot before each member removal the lifecycle function makes, so the state just before
   * the removal is restorable.
   *
   * @default true
   */
  readonly snapshotBeforeMembershipChange?: boolean;

  /**
   * What happens after a quorum loss.
   *
   * @default RestorePolicy.MANUAL
   */
  readonly restorePolicy?: RestorePolicy;

  /**
   * `RestorePolicy.AUTOMATIC`: how long the quorum must have been lost for good before the restore.
   * 1 minute to 1 day.
   *
   * @default Duration.minutes(10)
   */
  readonly restoreAfter?: Duration;

  /**
   * Let a group that finds no member of its cluster (a total loss: every instance replaced with its
   * volume, an AZ-wide failure, the group scaled to 0 and back) bootstrap a new, EMPTY cluster although
   * the bucket holds snapshots or restore records of an earlier one. Without it such a group restores
   * (`RestorePolicy.AUTOMATIC`) or waits for the restore trigger (`RestorePolicy.MANUAL`, with the
   * `restoreAwaitedAlarm`), and never silently starts empty beside its backups. Turn it on only for a
   * cluster whose data you can lose; the construct warns (`cdk-elastic-etcd:startEmptyBesideBackups`).
   *
   * @default false
   */
  readonly startEmptyBesideBackups?: boolean;

  /**
   * The snapshot age alarm fires when the newest complete snapshot is older than this.
   *
   * @default - twice `backupInterval` plus 10 minutes
   */
  readonly snapshotAgeAlarmThreshold?: Duration;
}

/** Validates the backup options; every message names its prop. Token-safe. */
export function checkBackupOptions(o: EtcdBackupOptions): string[] {
  const errors: string[] = [];
  const minutes = (d: Duration | undefined, name: string, min: number, max: number) => {
    if (!d || d.isUnresolved()) return;
    const s = d.toSeconds();
    if (s % 60 !== 0 || s < min * 60 || s > max * 60) {
      errors.push(
        `backup.${name}: must be a whole number of minutes from ${min} to ${max} (got ${d.toHumanString()})`,
      );
    }
  };
  // The alarm's period and default threshold are computed from the interval; the threshold goes into the
  // alarm's description as text; restoreAfter goes into the Lambda's environment in seconds.
  for (const [name, d] of [
    ['backupInterval', o.backupInterval],
    ['snapshotAgeAlarmThreshold', o.snapshotAgeAlarmThreshold],
  ] as [string, Duration | undefined][]) {
    if (d?.isUnresolved()) errors.push(`backup.${name}: must be known at synth time, not a token`);
  }
  if (o.restoreAfter?.isUnresolved() && !convertsToSeconds(o.restoreAfter)) {
    errors.push(
      `backup.restoreAfter: a duration from a token must be given as Duration.seconds(token) (got ${o.restoreAfter.unitLabel()})`,
    );
  }
  minutes(o.backupInterval, 'backupInterval', 5, 1440);
  minutes(o.restoreAfter, 'restoreAfter', 1, 1440);
  minutes(o.snapshotAgeAlarmThreshold, 'snapshotAgeAlarmThreshold', 5, 7 * 1440);
  if (o.retention && !o.retention.isUnresolved()) {
    const s = o.retention.toSeconds();
    if (s % 86400 !== 0 || s < 86400) {
      errors.push(
        `backup.retention: must be a whole number of days, at least 1 (got ${o.retention.toHumanString()})`,
      );
    }
  }
  if (o.prefix !== undefined && !Token.isUnresolved(o.prefix)) {
    if (o.prefix !== '' && (!/^[A-Za-z0-9!_.*'()\-/]+\/$/.test(o.prefix) || o.prefix.startsWith('/'))) {
      errors.push(
        `backup.prefix: must be empty or end with "/", without a leading "/" (got ${JSON.stringify(o.prefix)})`,
      );
    }
  }
  if (o.bucket && (o.retention || o.removalPolicy)) {
    errors.push(
      'backup.retention / backup.removalPolicy: apply only to the created bucket, not to backup.bucket',
    );
  }
  if (o.bucket && (o.serverAccessLogsBucket || o.serverAccessLogsPrefix !== undefined)) {
    errors.push(
      'backup.serverAccessLogsBucket / backup.serverAccessLogsPrefix: apply only to the created bucket, not to backup.bucket',
    );
  }
  if (o.serverAccessLogsPrefix !== undefined && !o.serverAccessLogsBucket) {
    errors.push('backup.serverAccessLogsPrefix: only with backup.serverAccessLogsBucket');
  }
  return errors;
}

/** Everything the construct wires for backups; undefined when disabled. */
export interface BackupWiring {
  readonly bucket: s3.IBucket;
  readonly prefix: string;
  /** Settings for the agent config (the restore gate). */
  readonly agentConfig: {
    backupBucketFile: string;
    backupPrefix: string;
    restorePolicy: string;
    emptyStartBesideBackups: boolean;
  };
  /** Environment of the lifecycle function. */
  readonly environment: Record<string, string>;
}

/**
 * The bucket (created or given) and the settings; call {@link wireBackups} once the function and role exist.
 * The agent's restore command is set with the units (lib/ignition.ts, restoreCommand): the etcd image's own
 * static `etcdutl` (`etcdctl` for 3.4), copied out of the image at boot.
 */
export function prepareBackups(
  scope: Construct,
  o: EtcdBackupOptions,
  encryptionKey: kms.IKey,
): BackupWiring | undefined {
  if (o.enabled === false) return undefined;
  if (o.startEmptyBesideBackups === true) {
    Annotations.of(scope).addWarningV2(
      'cdk-elastic-etcd:startEmptyBesideBackups',
      'backup.startEmptyBesideBackups: after a total loss the group bootstraps a new, EMPTY cluster instead of ' +
        'restoring its newest snapshot; every key is gone until you restore by hand',
    );
  }
  const prefix = o.prefix ?? '';
  let bucket = o.bucket;
  if (!bucket) {
    const retention = o.retention ?? Duration.days(30);
    const created = new s3.Bucket(scope, 'BackupBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey,
      // One data key per bucket instead of a KMS call per object.
      bucketKeyEnabled: true,
      serverAccessLogsBucket: o.serverAccessLogsBucket,
      serverAccessLogsPrefix: o.serverAccessLogsPrefix,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: o.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'snapshot-retention',
          prefix: `${prefix}snapshots/`,
          expiration: retention,
          noncurrentVersionExpiration: Duration.days(7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        { id: 'old-versions', noncurrentVersionExpiration: Duration.days(30) },
      ],
    });
    // Object events to EventBridge (free for S3's events on the default bus), set on the bucket itself: CDK's
    // eventBridgeEnabled would add its notifications custom resource (a Lambda function outside the VPC).
    (created.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    if (!o.serverAccessLogsBucket) {
      const reason =
        "Snapshot bucket written and read only by this cluster's roles; access is in CloudTrail. Give " +
        'backup.serverAccessLogsBucket (or bring your own bucket, backup.bucket) for server access logs.';
      Validations.of(created).acknowledge(
        { id: 'AwsSolutions-S1', reason },
        { id: `${CFN_GUARD}::s3_bucket_logging_enabled_check`, reason: `CT.S3.PR.2: ${reason}` },
      );
    }
    Validations.of(created).acknowledge({
      id: `${CFN_GUARD}::s3_bucket_object_lock_enabled_check`,
      reason:
        'CT.S3.PR.9 (object lock): the bucket is versioned and only this cluster writes it; the restore and ' +
        'quorum-lost records are rewritten and deleted in place, which a default retention would pin as versions; ' +
        'and object lock is set when a bucket is created, so turning it on would replace the bucket. For ' +
        'immutable backups bring a bucket with object lock (backup.bucket).',
    });
    bucket = created;
  }
  return {
    bucket,
    prefix,
    agentConfig: {
      backupBucketFile: BACKUP_BUCKET_PATH,
      backupPrefix: prefix,
      restorePolicy: o.restorePolicy ?? RestorePolicy.MANUAL,
      emptyStartBesideBackups: o.startEmptyBesideBackups === true,
    },
    environment: {
      BACKUP_BUCKET: bucket.bucketName,
      BACKUP_PREFIX: prefix,
      RESTORE_POLICY: o.restorePolicy ?? RestorePolicy.MANUAL,
      RESTORE_AFTER_SECONDS: String((o.restoreAfter ?? Duration.minutes(10)).toSeconds()),
      SNAPSHOT_BEFORE_REMOVAL: String(o.snapshotBeforeMembershipChange ?? true),
    },
  };
}

export interface WireBackupsInput {
  readonly wiring: BackupWiring;
  readonly options: EtcdBackupOptions;
  readonly fn: lambda.IFunction;
  readonly instanceRole: iam.IRole;
  readonly groupName: string;
  readonly snapshotAge: cloudwatch.Metric;
}

/** Least-privilege grants, the backup schedule, the age alarm. Returns the alarm. */
export function wireBackups(scope: Construct, input: WireBackupsInput): cloudwatch.Alarm {
  const { wiring, options, fn } = input;
  const { bucket, prefix } = wiring;
  const objects = bucket.arnForObjects(`${prefix}*`);
  const listCondition = prefix ? { StringLike: { 's3:prefix': [`${prefix}*`] } } : undefined;
  // Lambda: write snapshots (multipart), the sha256 sidecars, restore records and the quorum-lost record.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resources: [objects],
    }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: listCondition,
    }),
  );
  // The restore trigger reboots the group's instances (their agents then restore or wipe and join).
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ec2:RebootInstances'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': input.groupName } },
    }),
  );
  // Instances: read only (the restore gate reads restore records and downloads snapshots).
  input.instanceRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects] }),
  );
  input.instanceRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: listCondition,
    }),
  );
  // SSE-KMS: the key operations S3 makes for the roles, only through S3 in this region. The Lambda writes
  // (GenerateDataKey; Decrypt to complete multipart uploads and read records), the instances read.
  if (bucket.encryptionKey) {
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com` } };
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [bucket.encryptionKey.keyArn],
        conditions: viaS3,
      }),
    );
    input.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [bucket.encryptionKey.keyArn],
        conditions: viaS3,
      }),
    );
  }

  const interval = options.backupInterval ?? Duration.minutes(30);
  new events.Rule(scope, 'BackupSchedule', {
    description: `cdk-elastic-etcd: snapshot of ${input.groupName} to S3`,
    schedule: events.Schedule.rate(interval),
    targets: [
      new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ kind: 'backup' }) }),
    ],
  });

  const threshold = options.snapshotAgeAlarmThreshold ?? Duration.seconds(interval.toSeconds() * 2 + 600);
  // Every backup run reports the age (0 after a success). The freshest age over two intervals: one good run
  // in the window keeps it low; no report at all in the window (schedule or function broken) is missing data,
  // treated as breaching.
  const period = Duration.seconds(Math.min(interval.toSeconds() * 2, 86400));
  const alarm = new cloudwatch.Alarm(scope, 'SnapshotAgeAlarm', {
    alarmDescription:
      `cdk-elastic-etcd: the newest complete snapshot of ${input.groupName} is older than ` +
      `${threshold.toHumanString()}, or no backup run reported within ${period.toHumanString()}: a restore ` +
      'would lose more writes than planned',
    metric: input.snapshotAge.with({ statistic: 'Minimum', period }),
    threshold: threshold.toSeconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  return alarm;
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
