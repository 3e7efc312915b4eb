/*
 * Backups of an EtcdCluster, the wiring (synth time only): least-privilege grants on the bucket for the
 * lifecycle function and the instances, and the backup schedule. The bucket is in ./backup-bucket.ts, the
 * snapshot age alarm in ./alarms.ts.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { drillIntervalSeconds, incrementalBackupSeconds } from '../backup';
import { BackupWiring } from './backup-bucket';

export interface WireBackupsInput {
  readonly wiring: BackupWiring;
  readonly fn: lambda.IFunction;
  readonly instanceRole: iam.IRole;
  readonly groupName: string;
}

/** Least-privilege grants and the backup schedule. */
export function wireBackups(scope: Construct, input: WireBackupsInput): void {
  const { wiring, fn } = input;
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
  // Instances: read (the restore gate reads restore records and downloads snapshots; the shipper lists).
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
  // The incremental log (lambda/agent/ship.ts, on every member): the elected shipper writes chunks, and a
  // snapshot when the log has no base or a gap (multipart for a large one: AbortMultipartUpload on failure).
  // Nothing else: no delete, no overwrite of anything outside these two prefixes.
  const shipping = incrementalBackupSeconds(wiring.options) !== undefined;
  if (shipping) {
    input.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [
          bucket.arnForObjects(`${prefix}incremental/*`),
          bucket.arnForObjects(`${prefix}snapshots/*`),
        ],
      }),
    );
    input.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects(`${prefix}snapshots/*`)],
      }),
    );
  }
  // The restore drills (lambda/agent/drill.ts, on every member): the drilling member writes its result object
  // under <prefix>drills/ (small JSON: no multipart), nothing else. The Lambda reads them with its grants above.
  const drills = drillIntervalSeconds(wiring.options) !== undefined;
  if (drills) {
    input.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${prefix}drills/*`)],
      }),
    );
  }
  // SSE-KMS: the key operations S3 makes for the roles, only through S3 in this region. The Lambda writes
  // (GenerateDataKey; Decrypt to complete multipart uploads and read records), the instances read (and write
  // with the incremental log or the restore drills).
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
        actions: shipping || drills ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
        resources: [bucket.encryptionKey.keyArn],
        conditions: viaS3,
      }),
    );
  }

  new events.Rule(scope, 'BackupSchedule', {
    description: `cdk-elastic-etcd: snapshot of ${input.groupName} to S3`,
    schedule: events.Schedule.rate(backupInterval(wiring)),
    targets: [
      new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ kind: 'backup' }) }),
    ],
  });
}

/** How often a snapshot is taken. */
export function backupInterval(wiring: BackupWiring): Duration {
  return wiring.options.backupInterval ?? Duration.minutes(30);
}
