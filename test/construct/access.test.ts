/*
 * EtcdCluster with defaults: who may reach what (security groups) and who may do what (the instance role
 * and the lifecycle Lambda's role), statement by statement.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster } from '../../lib';
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

describe('EtcdCluster with defaults: network and IAM', () => {
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
  const backupUnder = (p: string) =>
    expect.stringMatching(new RegExp(`^GETATT-EtcdBackupBucket[0-9A-F]{8}\\.Arn/${p}/\\*$`));
  const lifecycleStatement = {
    Effect: 'Allow',
    Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
    Resource: groupArn,
  };

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
      // The rollout gate: SignalResource on this stack only (aws-cdk-lib adds it for the group's signals).
      { Effect: 'Allow', Action: 'cloudformation:SignalResource', Resource: 'REF-AWS::StackId' },
      // Backups: read access to the snapshot bucket (the restore gate, the shipper's listing); the incremental
      // log's shipper writes chunks and (no base, a gap) snapshots, nothing else; SSE-KMS through S3.
      { Effect: 'Allow', Action: 's3:GetObject', Resource: backupObjects },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: backupBucketArn },
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: [backupUnder('incremental'), backupUnder('snapshots')],
      },
      {
        Effect: 'Allow',
        Action: 's3:AbortMultipartUpload',
        Resource: backupUnder('snapshots'),
      },
      // The restore drills' results (on by default).
      { Effect: 'Allow', Action: 's3:PutObject', Resource: backupUnder('drills') },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: dataKeyArn,
        Condition: viaS3,
      },
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
});
