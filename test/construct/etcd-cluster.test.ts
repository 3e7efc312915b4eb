/* Resources and properties of EtcdCluster: network, IAM, launch template, group, Lambda, rules. */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { JoinStrategy as CoreJoinStrategy } from '../../lambda/core/types';
import { METRIC_NAMESPACE as lambdaNamespace, MetricName } from '../../lambda/lifecycle/log';
import { EtcdCluster, JoinStrategy } from '../../lib';
import { DEFAULT_NODE_IMAGE, LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../lib/etcd-cluster';
import { ACCOUNT, makeCluster, REGION, resolveIntrinsics } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function policyStatements(template: Template, rolePathPart: string): Json[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) => id.startsWith(rolePathPart));
  if (!entry) throw new Error(`no policy ${rolePathPart}* in ${Object.keys(policies).join(', ')}`);
  return entry[1].Properties.PolicyDocument.Statement.map((s: Json) => ({
    ...s,
    Resource: Array.isArray(s.Resource) ? s.Resource.map(resolveIntrinsics) : resolveIntrinsics(s.Resource),
  }));
}

describe('EtcdCluster with defaults', () => {
  const { stack, cluster, template } = makeCluster();
  const groupArn = `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${cluster.autoScalingGroupName}`;
  const describeStatement = {
    Effect: 'Allow',
    Action: [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'ec2:DescribeInstances',
    ],
    Resource: '*',
  };
  const backupBucketArn = expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn$/);
  const backupObjects = expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn\/\*$/);
  const lifecycleStatement = {
    Effect: 'Allow',
    Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
    Resource: groupArn,
  };

  test('exposes the composition properties', () => {
    expect(cluster.clientPort).toBe(2379);
    expect(cluster.peerPort).toBe(2380);
    expect(cluster.autoScalingGroupName).toMatch(/^TestStackEtcd[0-9A-F]{8}$/);
    // Each token is the resource that does the job: the group with the hooks, the function every rule
    // targets, the security group and the role (through its instance profile) of the launch template.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
    const ofType = (t: string) => Object.entries(resources).filter(([, r]) => r.Type === t);
    const [[groupId, group]] = ofType('AWS::AutoScaling::AutoScalingGroup');
    expect(group.Properties.AutoScalingGroupName).toBe(cluster.autoScalingGroupName);
    expect(stack.resolve(cluster.autoScalingGroup.autoScalingGroupName)).toEqual({ Ref: groupId });
    const rules = ofType('AWS::Events::Rule');
    expect(rules.length).toBeGreaterThanOrEqual(3);
    for (const [, rule] of rules) {
      expect(rule.Properties.Targets.map((t: { Arn: unknown }) => t.Arn)).toEqual([
        stack.resolve(cluster.lifecycleFunction.functionArn),
      ]);
    }
    const [[, launchTemplate]] = ofType('AWS::EC2::LaunchTemplate');
    const data = launchTemplate.Properties.LaunchTemplateData;
    expect(data.SecurityGroupIds).toEqual([stack.resolve(cluster.securityGroup.securityGroupId)]);
    const profileId = data.IamInstanceProfile.Arn['Fn::GetAtt'][0];
    expect(resources[profileId].Properties.Roles).toEqual([stack.resolve(cluster.role.roleName)]);
    expect(cluster.connections.defaultPort?.toString()).toBe('2379');
    expect(cluster.joinStrategy).toBe(JoinStrategy.REPLACE);
  });

  test('alarm-friendly metrics: the names and namespace the lifecycle Lambda publishes', () => {
    const metrics = [
      cluster.metricMemberRemovals(),
      cluster.metricRetainedTerminations(),
      cluster.metricReconcileRemovals(),
      cluster.metricStuckLearners(),
      cluster.metricBackupFailures(),
      cluster.metricRestores(),
      cluster.metricNewestSnapshotAge(),
      cluster.metricCertificateDaysLeft(),
      cluster.metricRetainedTerminationsFinished(),
      cluster.metricAwaitingRestoreTrigger(),
    ];
    expect(metrics.map((m) => m.metricName).sort()).toEqual(Object.values(MetricName).sort());
    for (const m of metrics) {
      expect(m.namespace).toBe(lambdaNamespace);
      expect(m.dimensions).toEqual({ AutoScalingGroupName: cluster.autoScalingGroupName });
      // Ages and days left are gauges (the freshest / lowest report counts), the awaited restore a flag;
      // everything else is a count.
      expect(m.statistic).toBe(
        ['NewestSnapshotAgeSeconds', 'CertificateDaysLeft'].includes(m.metricName)
          ? 'Minimum'
          : m.metricName === 'AwaitingRestoreTrigger'
            ? 'Maximum'
            : 'Sum',
      );
    }
    // usable for an alarm in the user's stack
    const alarm = cluster
      .metricRetainedTerminations()
      .createAlarm(stack, 'Retained', { threshold: 1, evaluationPeriods: 1 });
    expect(alarm.alarmArn).toBeDefined();
  });

  test('the lib enum has exactly the values of the core enum', () => {
    expect(Object.values(JoinStrategy).sort()).toEqual(Object.values(CoreJoinStrategy).sort());
  });

  test('cluster security group: HTTPS egress only, peer and client ports from itself', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('etcd members'),
      SecurityGroupEgress: [
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() },
      ],
    });
    const sgId = stack.resolve(cluster.securityGroup.securityGroupId);
    for (const port of [2379, 2380]) {
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        GroupId: sgId,
        SourceSecurityGroupId: sgId,
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        GroupId: sgId,
        DestinationSecurityGroupId: sgId,
      });
    }
  });

  test('the Lambda security group reaches the client port only', () => {
    const sgId = stack.resolve(cluster.securityGroup.securityGroupId);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 2379,
      ToPort: 2379,
      GroupId: sgId,
      SourceSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^EtcdLifecycleFunctionSecurityGroup'), 'GroupId'],
      },
    });
    const peerFromOthers = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) =>
        r.Properties.FromPort === 2380 &&
        JSON.stringify(r.Properties.SourceSecurityGroupId) !== JSON.stringify(sgId),
    );
    expect(peerFromOthers).toEqual([]);
  });

  test('nothing is open to the internet', () => {
    const ingress: Json[] = [];
    for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
      ingress.push(...(sg.Properties.SecurityGroupIngress ?? []));
    }
    for (const r of Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')))
      ingress.push(r.Properties);
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      expect(rule.CidrIpv6).not.toBe('::/0');
    }
  });

  test('connections.allowDefaultPortFrom opens the client port', () => {
    const app = new App();
    const st = new Stack(app, 'S');
    const vpc = new ec2.Vpc(st, 'Vpc');
    const c = new EtcdCluster(st, 'Etcd', {
      vpc,
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef1' }),
    });
    const client = new ec2.SecurityGroup(st, 'App', { vpc });
    c.connections.allowDefaultPortFrom(client);
    Template.fromStack(st).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 2379,
      ToPort: 2379,
      GroupId: st.resolve(c.securityGroup.securityGroupId),
      SourceSecurityGroupId: st.resolve(client.securityGroupId),
    });
  });

  const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } };
  const dataKeyArn = expect.stringMatching(/^GETATT-EtcdKey[0-9A-F]{8}\.Arn$/);
  const decryptStatement = {
    Effect: 'Allow',
    Action: 'kms:Decrypt',
    Resource: expect.stringMatching(/^GETATT-EtcdTlsKey[0-9A-F]{8}\.Arn$/),
    Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
  };

  test('instance role: exactly describe on *, lifecycle actions on this group, read of the agent object and the CA secret', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } },
        ],
      },
    });
    const statements = policyStatements(template, 'EtcdInstanceRoleDefaultPolicy');
    expect(statements).toEqual([
      describeStatement,
      lifecycleStatement,
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: expect.stringMatching(
          new RegExp(`^arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}/[0-9a-f]{64}\\.js$`),
        ),
      },
      {
        Effect: 'Allow',
        Action: 's3:GetBucketLocation',
        Resource: `arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`,
      },
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: expect.stringMatching(/^REF-EtcdTlsCaSecret[0-9A-F]{8}$/),
      },
      decryptStatement,
      // Backups: read-only access to the snapshot bucket (the restore gate), SSE-KMS decrypt through S3.
      { Effect: 'Allow', Action: 's3:GetObject', Resource: backupObjects },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: backupBucketArn },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKeyArn, Condition: viaS3 },
    ]);
  });

  test('Lambda role: exactly its own log group, describe on *, lifecycle actions on this group, read of the client identity secret; only the VPC managed policy', () => {
    const [role] = Object.entries(template.findResources('AWS::IAM::Role')).filter(([id]) =>
      id.startsWith('EtcdLifecycleFunctionServiceRole'),
    );
    expect(JSON.stringify(role[1].Properties.ManagedPolicyArns)).toContain('AWSLambdaVPCAccessExecutionRole');
    expect(role[1].Properties.ManagedPolicyArns).toHaveLength(1);
    expect(policyStatements(template, 'EtcdLifecycleFunctionServiceRoleDefaultPolicy')).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: expect.stringMatching(/^GETATT-EtcdLifecycleFunctionLogs[0-9A-F]{8}\.Arn$/),
      },
      describeStatement,
      lifecycleStatement,
      // The reconcile finishes retained terminations: only instances tagged with this group's name.
      {
        Effect: 'Allow',
        Action: 'ec2:TerminateInstances',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': cluster.autoScalingGroupName },
        },
      },
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: expect.stringMatching(/^REF-EtcdTlsClientSecret[0-9A-F]{8}$/),
      },
      decryptStatement,
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: backupObjects,
      },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: backupBucketArn },
      {
        Effect: 'Allow',
        Action: 'ec2:RebootInstances',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': cluster.autoScalingGroupName },
        },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: dataKeyArn,
        Condition: viaS3,
      },
    ]);
  });

  test('launch template: IMDSv2, encrypted gp3 root and data volumes, role, security group', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm6i.large',
        ImageId: Match.anyValue(),
        MetadataOptions: { HttpTokens: 'required' },
        IamInstanceProfile: { Arn: Match.anyValue() },
        SecurityGroupIds: [stack.resolve(cluster.securityGroup.securityGroupId)],
        BlockDeviceMappings: [
          {
            DeviceName: '/dev/xvda',
            Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 20, VolumeType: 'gp3' },
          },
          {
            DeviceName: '/dev/xvdf',
            Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 20, VolumeType: 'gp3' },
          },
        ],
        UserData: { 'Fn::Base64': Match.anyValue() },
      }),
    });
  });

  test('group: fixed size 3 over the private subnets of all AZs, named, hooks in the group itself', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      Properties: Match.objectLike({
        AutoScalingGroupName: cluster.autoScalingGroupName,
        MinSize: '3',
        MaxSize: '3',
        DesiredCapacity: '3',
        VPCZoneIdentifier: Match.arrayWith([{ Ref: Match.stringLikeRegexp('^VpcPrivateSubnet1') }]),
        LaunchTemplate: { LaunchTemplateId: Match.anyValue(), Version: Match.anyValue() },
        LifecycleHookSpecificationList: [
          {
            LifecycleHookName: LAUNCH_HOOK_NAME,
            LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
            DefaultResult: 'ABANDON',
            HeartbeatTimeout: 900,
          },
          {
            LifecycleHookName: TERMINATE_HOOK_NAME,
            LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
            DefaultResult: 'CONTINUE',
            HeartbeatTimeout: 900,
          },
        ],
        InstanceLifecyclePolicy: { RetentionTriggers: { TerminateHookAbandon: 'retain' } },
      }),
      DependsOn: Match.arrayWith([Match.stringLikeRegexp('^EtcdInstanceRoleDefaultPolicy')]),
      UpdatePolicy: Match.objectLike({
        AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 1, MinInstancesInService: 2 }),
      }),
    });
    const group = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
    expect(group.Properties.VPCZoneIdentifier).toHaveLength(3);
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    expect(cluster.autoScalingGroupName.length).toBeLessThanOrEqual(255);
  });

  test('lifecycle Lambda: Node 22, bundle handler, in the VPC with its own security group, config with the client secret ARN only', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      VpcConfig: {
        SubnetIds: Match.anyValue(),
        SecurityGroupIds: [
          { 'Fn::GetAtt': [Match.stringLikeRegexp('^EtcdLifecycleFunctionSecurityGroup'), 'GroupId'] },
        ],
      },
      Environment: {
        Variables: {
          GROUP_NAME: cluster.autoScalingGroupName,
          CLIENT_PORT: '2379',
          PEER_PORT: '2380',
          SCHEME: 'https',
          TLS_CLIENT_SECRET_ID: { Ref: Match.stringLikeRegexp('^EtcdTlsClientSecret[0-9A-F]{8}$') },
          STRATEGY: 'replace',
          LAUNCH_HOOK_NAME: LAUNCH_HOOK_NAME,
          TERMINATE_HOOK_NAME: TERMINATE_HOOK_NAME,
          UNSTARTED_GRACE_SECONDS: '1200',
          BACKUP_BUCKET: { Ref: Match.stringLikeRegexp('^EtcdBackupBucket') },
          BACKUP_PREFIX: '',
          RESTORE_POLICY: 'manual',
          RESTORE_AFTER_SECONDS: '600',
          SNAPSHOT_BEFORE_REMOVAL: 'true',
        },
      },
    });
  });

  test('EventBridge: launch and terminate actions of this group, and the reconcile schedule, to the Lambda', () => {
    const fnArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^EtcdLifecycleFunction[0-9A-F]{8}$'), 'Arn'] };
    for (const detailType of [
      'EC2 Instance-launch Lifecycle Action',
      'EC2 Instance-terminate Lifecycle Action',
    ]) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.autoscaling'],
          'detail-type': [detailType],
          detail: { AutoScalingGroupName: [cluster.autoScalingGroupName] },
        },
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: fnArn })],
      });
    }
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: fnArn, Input: '{"kind":"reconcile"}' })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Arn: fnArn, Input: '{"kind":"backup"}' })],
    });
    template.resourceCountIs('AWS::Events::Rule', 4);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' },
      4,
    );
  });
});

describe('EtcdCluster props', () => {
  test('size, strategy, volume, ports, intervals and images reach the template', () => {
    const { template } = makeCluster({
      size: 5,
      joinStrategy: JoinStrategy.PRUNE,
      dataVolumeSize: 100,
      clientPort: 12379,
      peerPort: 12380,
      reconcileInterval: Duration.minutes(10),
      unstartedGrace: Duration.minutes(30),
      lifecycleHeartbeatTimeout: Duration.minutes(10),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
    });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '5',
      MaxSize: '5',
      DesiredCapacity: '5',
      LifecycleHookSpecificationList: [
        Match.objectLike({ HeartbeatTimeout: 600 }),
        Match.objectLike({ HeartbeatTimeout: 600 }),
      ],
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm7g.large',
        BlockDeviceMappings: Match.arrayWith([
          Match.objectLike({ DeviceName: '/dev/xvdf', Ebs: Match.objectLike({ VolumeSize: 100 }) }),
        ]),
      }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          STRATEGY: 'prune',
          CLIENT_PORT: '12379',
          PEER_PORT: '12380',
          UNSTARTED_GRACE_SECONDS: '1800',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 12380, ToPort: 12380 });
  });

  test('explicit subnets are used for the group and the Lambda', () => {
    const app = new App();
    const st = new Stack(app, 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(st, 'Vpc', { maxAzs: 3 });
    new EtcdCluster(st, 'Etcd', {
      vpc,
      vpcSubnets: { subnets: [vpc.privateSubnets[1]] },
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef1' }),
    });
    const template = Template.fromStack(st);
    const only = [{ Ref: Match.stringLikeRegexp('^VpcPrivateSubnet2') }];
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { VPCZoneIdentifier: only });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({ SubnetIds: only }),
    });
  });

  test('default node image is the official Node image pinned by digest', () => {
    expect(DEFAULT_NODE_IMAGE).toMatch(/^docker\.io\/library\/node:22[-a-z]*@sha256:[0-9a-f]{64}$/);
  });
});
