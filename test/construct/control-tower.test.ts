/*
 * What organizations' account policies check at deploy: AWS Control Tower's proactive controls, run with
 * CDK's policy validation plugin @cdklabs/cdk-validator-cfnguard (its bundled Control Tower rules and its
 * bundled cfn-guard binary, offline) on the example stack; and the construct changes behind each control.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EtcdExampleStack } from '../../bin/example-stack';
import { EtcdCluster, EtcdClusterProps } from '../../lib';
import { ACCOUNT, makeCluster, REGION, TEST_AMI } from './helpers';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The controls the construct does not meet on purpose, each acknowledged with a reason in lib/. */
const ACKNOWLEDGED = [
  'autoscaling_mixed_instances_policy_multiple_instance_types_check',
  's3_bucket_logging_enabled_check',
  's3_bucket_object_lock_enabled_check',
];

/** The example app's context as `cdk synth` reads it (cdk.json), so the check sees what the CLI renders. */
function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context;
}

interface GuardReport {
  conclusion: string;
  violations: Json[];
  suppressedViolations?: Json[];
}

/** Synthesizes with the plugin (report kept, not thrown) and returns its part of the validation report. */
function runControlTower(app: App): GuardReport {
  Validations.of(app).addPlugins(new CfnGuardValidator());
  const assembly = app.synth();
  const report = JSON.parse(
    fs.readFileSync(path.join(assembly.directory, cxapi.VALIDATION_REPORT_FILE), 'utf8'),
  );
  const guard = report.pluginReports.filter((p: Json) => p.pluginName === 'cdk-validator-cfnguard');
  expect(guard).toHaveLength(1);
  return guard[0];
}

function exampleApp(env?: { account: string; region: string }) {
  const app = new App({
    context: { ...cdkJsonContext(), [cxapi.FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT]: false },
  });
  const stack = new EtcdExampleStack(app, 'EtcdExampleStack', { env });
  return { app, stack };
}

describe('AWS Control Tower proactive controls (cfn-guard) on the example stack', () => {
  test('the plugin runs its bundled cfn-guard binary (nothing downloaded)', () => {
    const pkg = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
    const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
    expect(fs.statSync(path.join(pkg, 'bin', 'ubuntu', arch, 'cfn-guard')).size).toBeGreaterThan(1_000_000);
    expect(new CfnGuardValidator().ruleIds!.length).toBeGreaterThan(100);
  });

  test.each([
    ['environment-agnostic', undefined],
    ['with an env (3 AZs, looked-up AMI)', { account: ACCOUNT, region: 'eu-west-1' }],
  ])('no violation; only the acknowledged controls suppressed, each with its reason (%s)', (_name, env) => {
    const { app } = exampleApp(env);
    const guard = runControlTower(app);
    expect(
      guard.violations.map(
        (v) => `${v.ruleName} at ${v.violatingConstructs.map((c: Json) => c.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(guard.conclusion).toBe('success');
    const suppressed = guard.suppressedViolations ?? [];
    expect(suppressed.map((v) => v.ruleName).sort()).toEqual(ACKNOWLEDGED);
    for (const v of suppressed) {
      expect(v.acknowledgedId).toBe(`cdk-validator-cfnguard::${v.ruleName}`);
      expect(v.acknowledgedAt).toMatch(/^EtcdExampleStack\/Etcd\//);
      expect(v.reason.length).toBeGreaterThan(80);
    }
  });

  test('the app wiring of bin/app.ts (cdk-nag and the Control Tower plugin) synthesizes without a failure', () => {
    const app = new App({ context: cdkJsonContext() });
    new EtcdExampleStack(app, 'EtcdExampleStack');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new CfnGuardValidator());
    expect(() => app.synth()).not.toThrow();
  });

  test('the plugin on its own (no acknowledgements applied) fails on exactly those controls: the check can fail', () => {
    const { app, stack } = exampleApp();
    const assembly = app.synth();
    const raw = new CfnGuardValidator().validate({
      templatePaths: [path.join(assembly.directory, stack.templateFile)],
      appConstruct: app,
    });
    expect(raw.success).toBe(false);
    expect(raw.violations.map((v) => v.ruleName).sort()).toEqual(ACKNOWLEDGED);
  });
});

/** The construct's own resources (not the VPC's). */
function clusterResources(template: Template, type: string): [string, Json][] {
  return Object.entries(template.findResources(type)).filter(([id]) => id.startsWith('Etcd'));
}

describe('alarm actions (CT.CLOUDWATCH.PR.1)', () => {
  function withTopic(props: Partial<EtcdClusterProps> = {}) {
    const app = new App();
    const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
    const topic = new sns.Topic(stack, 'Topic');
    new EtcdCluster(stack, 'Etcd', {
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 }),
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      alarmActions: [new cloudwatchActions.SnsAction(topic)],
      ...props,
    });
    return { stack, topic, template: Template.fromStack(stack) };
  }

  test('alarmActions reach every alarm the cluster creates (each on by default)', () => {
    const { stack, topic, template } = withTopic();
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // The healthy voters alarm is metric math (Metrics), the others one metric each (MetricName).
    const names = (a: Json): string[] =>
      a.Properties.MetricName
        ? [a.Properties.MetricName]
        : a.Properties.Metrics.filter((q: Json) => q.MetricStat).map(
            (q: Json) => q.MetricStat.Metric.MetricName,
          );
    expect(alarms.map((a) => names(a).sort().join('-')).sort()).toEqual([
      'ActiveAlarms',
      'AwaitingRestoreTrigger',
      'CertificateDaysLeft',
      'DesiredCapacity-HealthyVoters',
      'LastVerifiedRestoreAgeSeconds',
      'NewestSnapshotAgeSeconds',
      'QuotaUsedPercent',
      'RetainedTerminations',
      'StuckLearners',
    ]);
    for (const alarm of alarms)
      expect(alarm.Properties.AlarmActions).toEqual([stack.resolve(topic.topicArn)]);
  });

  test('without alarmActions the alarms have none (as before)', () => {
    const { template } = makeCluster();
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });
});

describe('logs, keys, launch template, group, functions, bucket', () => {
  const { stack, cluster, template } = makeCluster();
  const dataKey = clusterResources(template, 'AWS::KMS::Key').filter(([id]) =>
    /^EtcdKey[0-9A-F]{8}$/.test(id),
  );

  test('log groups: kept one year, encrypted with the data key (CT.CLOUDWATCH.PR.2, PR.3)', () => {
    const groups = clusterResources(template, 'AWS::Logs::LogGroup');
    expect(groups.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'EtcdLifecycleFunctionLogs',
      'EtcdTlsFunctionLogs',
    ]);
    for (const [, g] of groups) {
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [dataKey[0][0], 'Arn'] });
    }
    expect(stack.resolve(cluster.encryptionKey.keyArn)).toEqual({ 'Fn::GetAtt': [dataKey[0][0], 'Arn'] });
  });

  test('logRetention sets both log groups', () => {
    const t = makeCluster({ logRetention: logs.RetentionDays.TWO_YEARS }).template;
    const groups = clusterResources(t, 'AWS::Logs::LogGroup');
    expect(groups.map(([, g]) => g.Properties.RetentionInDays)).toEqual([731, 731]);
  });

  test('the data key: rotated, retained with the bucket, lets CloudWatch Logs use it for this account and region only', () => {
    expect(dataKey).toHaveLength(1);
    const [, key] = dataKey[0];
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: `logs.${REGION}.amazonaws.com` },
          Condition: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, `:logs:${REGION}:${ACCOUNT}:log-group:*`],
                ],
              },
            },
          },
        }),
      ]),
    );
  });

  test('every key of the cluster denies grants that are not for an AWS resource (CT.KMS.PR.3)', () => {
    const keys = clusterResources(template, 'AWS::KMS::Key');
    expect(keys.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['EtcdKey', 'EtcdTlsKey']);
    for (const [, key] of keys) {
      expect(key.Properties.KeyPolicy.Statement).toEqual(
        expect.arrayContaining([
          {
            Sid: 'DenyGrantsExceptForAwsResources',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'kms:CreateGrant',
            Resource: '*',
            Condition: {
              BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
            },
          },
        ]),
      );
    }
  });

  test('launch template: detailed monitoring (CT.EC2.PR.10)', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ Monitoring: { Enabled: true } }),
    });
  });

  test("group: AvailabilityZones are its subnets' zones (CT.AUTOSCALING.PR.1)", () => {
    const [[, group]] = clusterResources(template, 'AWS::AutoScaling::AutoScalingGroup');
    const vpc = Template.fromStack(stack).toJSON().Resources;
    const subnetZones = (group.Properties.VPCZoneIdentifier as Json[]).map(
      (ref) => vpc[ref.Ref].Properties.AvailabilityZone,
    );
    expect(subnetZones).toHaveLength(3);
    expect(group.Properties.AvailabilityZones).toEqual(subnetZones);
    expect(new Set(subnetZones).size).toBe(3);
  });

  test('the TLS material function runs in the cluster subnets with HTTPS-only egress (CT.LAMBDA.PR.3)', () => {
    const fns = Object.fromEntries(
      clusterResources(template, 'AWS::Lambda::Function').map(([id, f]) => [
        id.replace(/[0-9A-F]{8}$/, ''),
        f,
      ]),
    );
    const tlsVpc = fns.EtcdTlsFunction.Properties.VpcConfig;
    expect(tlsVpc.SubnetIds).toEqual(fns.EtcdLifecycleFunction.Properties.VpcConfig.SubnetIds);
    expect(tlsVpc.SecurityGroupIds).toHaveLength(1);
    const sgId = tlsVpc.SecurityGroupIds[0]['Fn::GetAtt'][0];
    const sg = template.toJSON().Resources[sgId];
    expect(sg.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('backup bucket: object events to EventBridge on the bucket itself, no notifications custom resource (CT.S3.PR.4)', () => {
    const [[, bucket]] = clusterResources(template, 'AWS::S3::Bucket');
    expect(bucket.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });
});

describe('bring your own key, access logs, key lifetime', () => {
  test('encryptionKey: used for the bucket and the log groups, no data key created, logs statement added', () => {
    const app = new App();
    const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
    const key = new kms.Key(stack, 'Mine');
    new EtcdCluster(stack, 'Etcd', {
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 }),
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      encryptionKey: key,
    });
    const template = Template.fromStack(stack);
    const keyArn = stack.resolve(key.keyArn);
    expect(clusterResources(template, 'AWS::KMS::Key').map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(
      ['EtcdTlsKey'],
    );
    for (const [, g] of clusterResources(template, 'AWS::Logs::LogGroup'))
      expect(g.Properties.KmsKeyId).toEqual(keyArn);
    const [[, bucket]] = clusterResources(template, 'AWS::S3::Bucket');
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn });
    const [[, mine]] = Object.entries(template.findResources('AWS::KMS::Key')).filter(([id]) =>
      id.startsWith('Mine'),
    );
    expect(JSON.stringify(mine.Properties.KeyPolicy)).toContain(`logs.${REGION}.amazonaws.com`);
  });

  test('backup.serverAccessLogsBucket: access logs on, the logging control no longer acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
    const logsBucket = new s3.Bucket(stack, 'AccessLogs');
    const cluster = new EtcdCluster(stack, 'Etcd', {
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 }),
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      backup: { serverAccessLogsBucket: logsBucket, serverAccessLogsPrefix: 'etcd/' },
    });
    const [[, bucket]] = clusterResources(Template.fromStack(stack), 'AWS::S3::Bucket');
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: stack.resolve(logsBucket.bucketName),
      LogFilePrefix: 'etcd/',
    });
    const acks = cluster.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.keys(m.data));
    expect(acks).not.toContain('cdk-validator-cfnguard::s3_bucket_logging_enabled_check');
    expect(acks).toContain('cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check');
  });

  test.each([
    [
      { bucket: 'own' as const, serverAccessLogsBucket: true },
      /backup\.serverAccessLogsBucket .*not to backup\.bucket/,
    ],
    [
      { serverAccessLogsPrefix: 'x/' },
      /backup\.serverAccessLogsPrefix: only with backup\.serverAccessLogsBucket/,
    ],
  ])('access log options are checked (%#)', (o, message) => {
    const app = new App();
    const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
    const own = new s3.Bucket(stack, 'Own');
    const logsBucket = new s3.Bucket(stack, 'AccessLogs');
    expect(
      () =>
        new EtcdCluster(stack, 'Etcd', {
          vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 }),
          machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
          backup: {
            ...('bucket' in o && { bucket: own }),
            ...('serverAccessLogsBucket' in o && { serverAccessLogsBucket: logsBucket }),
            ...('serverAccessLogsPrefix' in o && { serverAccessLogsPrefix: o.serverAccessLogsPrefix }),
          },
        }),
    ).toThrow(message);
  });

  test.each([
    [
      'backups off: the key encrypts only log groups (destroyed with the stack)',
      { backup: { enabled: false } },
      'Delete',
    ],
    [
      'created bucket destroyed with the stack',
      { backup: { removalPolicy: RemovalPolicy.DESTROY } },
      'Delete',
    ],
  ])('data key lifetime: %s', (_name, props, policy) => {
    const { template } = makeCluster(props);
    const [[, key]] = clusterResources(template, 'AWS::KMS::Key').filter(([id]) =>
      /^EtcdKey[0-9A-F]{8}$/.test(id),
    );
    expect(key.DeletionPolicy).toBe(policy);
  });
});
