/* Resources and properties of EtcdCluster: launch template, group, Lambda, rules (network and IAM: access.test.ts). */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { JoinStrategy as CoreJoinStrategy } from '../../lambda/core/types';
import { METRIC_NAMESPACE as lambdaNamespace, MetricName } from '../../lambda/lifecycle/log';
import { EtcdCluster, JoinStrategy } from '../../lib';
import { DEFAULT_NODE_IMAGE, LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../lib/private/names';
import { ACCOUNT, makeCluster, REGION } from './helpers';

describe('EtcdCluster with defaults', () => {
  const { stack, cluster, template } = makeCluster();

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
      cluster.metricHealthyVoters(),
      cluster.metricDesiredCapacity(),
      cluster.metricLearners(),
      cluster.metricUnstartedMembers(),
      cluster.metricDbSize(),
      cluster.metricDbSizeInUse(),
      cluster.metricQuotaUsedPercent(),
      cluster.metricLeaderChanges(),
      cluster.metricActiveAlarms(),
      cluster.metricCorruptAlarms(),
      cluster.metricDefragmentations(),
      cluster.metricLeaderMoves(),
      cluster.metricNospaceCompactions(),
      cluster.metricNospaceDisarms(),
      cluster.metricLastVerifiedRestoreAge(),
    ];
    expect(metrics.map((m) => m.metricName).sort()).toEqual(Object.values(MetricName).sort());
    // Ages, days left and healthy voters are gauges whose lowest report counts; the other gauges (sizes,
    // members, alarms, the awaited restore flag) show their highest; everything else is a count.
    const minimum = [
      'NewestSnapshotAgeSeconds',
      'LastVerifiedRestoreAgeSeconds',
      'CertificateDaysLeft',
      'HealthyVoters',
    ];
    const maximum = [
      'AwaitingRestoreTrigger',
      'DesiredCapacity',
      'Learners',
      'UnstartedMembers',
      'DbSizeBytes',
      'DbSizeInUseBytes',
      'QuotaUsedPercent',
      'ActiveAlarms',
      'CorruptAlarms',
    ];
    for (const m of metrics) {
      expect(m.namespace).toBe(lambdaNamespace);
      expect(m.dimensions).toEqual({ AutoScalingGroupName: cluster.autoScalingGroupName });
      expect({ name: m.metricName, statistic: m.statistic }).toEqual({
        name: m.metricName,
        statistic: minimum.includes(m.metricName)
          ? 'Minimum'
          : maximum.includes(m.metricName)
            ? 'Maximum'
            : 'Sum',
      });
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

  test('EventBridge: launch and terminate actions of this group, the reconcile, backup and maintenance schedules, to the Lambda', () => {
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
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: fnArn, Input: '{"kind":"maintenance"}' })],
    });
    template.resourceCountIs('AWS::Events::Rule', 5);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' },
      5,
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
