/* Backups of EtcdCluster (lib/backup.ts): the bucket, bring-your-own, disabled, schedule, alarm, validation. */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { App } from 'aws-cdk-lib';
import { EtcdCluster, RestorePolicy } from '../../lib';
import { ignitionOf, makeCluster, REGION, TEST_AMI } from './helpers';

/** The agent's config file of the launch template's Ignition config, parsed. */
function agentConfigOf(template: Template): Record<string, unknown> {
  const file = ignitionOf(template).storage.files.find(
    (f: { path: string }) => f.path === '/etc/etcd-agent/config.json',
  );
  return JSON.parse(decodeURIComponent(file.contents.source.replace(/^data:,/, ''))) as Record<
    string,
    unknown
  >;
}

describe('backups with defaults', () => {
  const { cluster, template } = makeCluster();

  test('bucket: SSE-KMS with the data key, versioned, public access blocked, retained, snapshot retention 30 days', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EtcdKey[0-9A-F]{8}$'), 'Arn'] },
              },
              BucketKeyEnabled: true,
            },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Id: 'snapshot-retention',
              Prefix: 'snapshots/',
              ExpirationInDays: 30,
              Status: 'Enabled',
            }),
          ]),
        },
      }),
    });
    expect(cluster.backupBucket).toBeDefined();
  });

  test('bucket policy denies every request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('schedule every 30 minutes, snapshot age alarm at 70 minutes, missing data breaching', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Input: '{"kind":"backup"}' })],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkElasticEtcd',
      MetricName: 'NewestSnapshotAgeSeconds',
      Statistic: 'Minimum',
      Period: 3600,
      Threshold: 4200,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(cluster.snapshotAgeAlarm).toBeDefined();
  });

  test('a total loss under the manual policy alarms: AwaitingRestoreTrigger, maximum >= 1, missing data is no wait', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkElasticEtcd',
      MetricName: 'AwaitingRestoreTrigger',
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(cluster.restoreAwaitedAlarm).toBeDefined();
  });

  test('an empty start beside backups is off: the agent gets false and the policy, no warning', () => {
    const config = agentConfigOf(template);
    expect(config).toMatchObject({ emptyStartBesideBackups: false, restorePolicy: 'manual' });
    Annotations.fromStack(Stack.of(cluster)).hasNoWarning(
      '*',
      Match.stringLikeRegexp('startEmptyBesideBackups'),
    );
  });

  test('the function gets more time for snapshots', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 600, MemorySize: 512 });
  });
});

describe('backup options', () => {
  test('bring your own bucket: none created, grants on it under the prefix, agent reads its name', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
    const bucket = s3.Bucket.fromBucketName(stack, 'Mine', 'my-etcd-backups');
    const cluster = new EtcdCluster(stack, 'Etcd', {
      vpc,
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      backup: {
        bucket,
        prefix: 'prod/',
        restorePolicy: RestorePolicy.AUTOMATIC,
        restoreAfter: Duration.minutes(15),
      },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(cluster.backupBucket).toBe(bucket);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 's3:GetObject', Resource: Match.objectLike({}) }),
          Match.objectLike({
            Action: 's3:ListBucket',
            Condition: { StringLike: { 's3:prefix': ['prod/*'] } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          BACKUP_BUCKET: 'my-etcd-backups',
          BACKUP_PREFIX: 'prod/',
          RESTORE_POLICY: 'automatic',
          RESTORE_AFTER_SECONDS: '900',
        }),
      },
    });
    const ign = ignitionOf(template);
    const f = ign.storage.files.find((x: { path: string }) => x.path === '/etc/etcd-agent/backup-bucket');
    expect(f.contents.source).toBe('data:,my-etcd-backups');
  });

  test('startEmptyBesideBackups: the agent may bootstrap empty beside backups, with a warning', () => {
    const { cluster, template } = makeCluster({
      backup: { startEmptyBesideBackups: true, restorePolicy: RestorePolicy.AUTOMATIC },
    });
    expect(agentConfigOf(template)).toMatchObject({
      emptyStartBesideBackups: true,
      restorePolicy: 'automatic',
    });
    Annotations.fromStack(Stack.of(cluster)).hasWarning(
      '*',
      Match.stringLikeRegexp('cdk-elastic-etcd:startEmptyBesideBackups'),
    );
  });

  test('disabled: no bucket, no schedule, no alarm, no backup settings', () => {
    const { cluster, template } = makeCluster({ backup: { enabled: false } });
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'NewestSnapshotAgeSeconds' },
      0,
    );
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'AwaitingRestoreTrigger' }, 0);
    expect(cluster.restoreAwaitedAlarm).toBeUndefined();
    // launch, terminate, reconcile, maintenance: no backup schedule
    template.resourceCountIs('AWS::Events::Rule', 4);
    expect(cluster.backupBucket).toBeUndefined();
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.GROUP_NAME,
    )!;
    expect(Object.keys(fn.Properties.Environment.Variables)).not.toContain('BACKUP_BUCKET');
    expect(ignitionOf(template).storage.files.map((x: { path: string }) => x.path)).not.toContain(
      '/etc/etcd-agent/backup-bucket',
    );
  });

  test('interval, retention, removal policy, snapshot before removal reach the template', () => {
    const { template } = makeCluster({
      backup: {
        backupInterval: Duration.hours(2),
        retention: Duration.days(7),
        removalPolicy: RemovalPolicy.DESTROY,
        snapshotBeforeMembershipChange: false,
        snapshotAgeAlarmThreshold: Duration.hours(5),
      },
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 7 })]) },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 hours)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 18000, Period: 14400 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ SNAPSHOT_BEFORE_REMOVAL: 'false', RESTORE_POLICY: 'manual' }),
      },
    });
  });

  test.each([
    [
      { backupInterval: Duration.minutes(2) },
      /backup\.backupInterval: must be a whole number of minutes from 5 to 1440/,
    ],
    [{ backupInterval: Duration.seconds(330) }, /backup\.backupInterval/],
    [{ retention: Duration.hours(12) }, /backup\.retention: must be a whole number of days/],
    [{ restoreAfter: Duration.days(2) }, /backup\.restoreAfter/],
    [{ prefix: '/abs/' }, /backup\.prefix/],
    [{ prefix: 'noslash' }, /backup\.prefix/],
    [{ snapshotAgeAlarmThreshold: Duration.minutes(1) }, /backup\.snapshotAgeAlarmThreshold/],
  ])('rejects %p', (backup, message) => {
    expect(() => makeCluster({ backup })).toThrow(message);
  });

  test('retention and removal policy do not apply to a given bucket', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
    expect(
      () =>
        new EtcdCluster(stack, 'Etcd', {
          vpc,
          machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
          backup: {
            bucket: s3.Bucket.fromBucketName(stack, 'B', 'given-bucket'),
            retention: Duration.days(3),
          },
        }),
    ).toThrow(/backup\.retention \/ backup\.removalPolicy: apply only to the created bucket/);
  });
});
