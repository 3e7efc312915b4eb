/*
 * Backups of an EtcdCluster, the bucket (synth time only): the created bucket with its retention, or the one
 * the user brought. Its grants and the backup schedule are in ./backup-schedule.ts; the options and their
 * validation in lib/backup.ts; the run-time side is lambda/lifecycle/backup.ts, restore.ts and
 * lambda/agent/restore.ts.
 */
import { Annotations, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EtcdBackupOptions } from '../backup';
import { CFN_GUARD } from '../controls';

/**
 * The backups of a cluster; undefined when disabled. The lifecycle function's environment
 * (./lifecycle-function.ts, lifecycleEnvironment) and the agent config (./launch-template.ts, agentConfig)
 * carry the settings.
 */
export interface BackupWiring {
  readonly bucket: s3.IBucket;
  /** Key prefix of everything the cluster writes in the bucket. */
  readonly prefix: string;
  readonly options: EtcdBackupOptions;
}

/**
 * The bucket (created or given); call {@link wireBackups} once the function and role exist.
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
        // The restore drills' results (lambda/core/drill.ts), kept as long as the snapshots they judge; also with
        // the drills off, so results of earlier drills expire.
        {
          id: 'drill-retention',
          prefix: `${prefix}drills/`,
          expiration: retention,
          noncurrentVersionExpiration: Duration.days(7),
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
  return { bucket, prefix, options: o };
}
