/*
 * Findings of cdk-nag (AwsSolutions) and of AWS Control Tower's proactive controls (cfn-guard rules, as
 * @cdklabs/cdk-validator-cfnguard runs them) that are inherent to the design, acknowledged on the exact
 * resources with the reason (CDK's Validations API, which cdk-nag 3 reads). Listed in docs/CONSTRUCT.md.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CFN_GUARD } from '../controls';

export interface NagFindingsInput {
  readonly groupArn: string;
  readonly instanceRole: iam.IRole;
  readonly lifecycleFunction: lambda.Function;
  readonly group: autoscaling.AutoScalingGroup;
  /** The backup bucket and the cluster's key prefix in it (backups on). */
  readonly backupBucket?: s3.IBucket;
  readonly backupPrefix: string;
  /** The incremental backup log is on: the instance role writes chunks and snapshots. */
  readonly incrementalLog?: boolean;
  /** The restore drills are on: the instance role writes drill results. */
  readonly restoreDrills?: boolean;
}

/** The cdk-nag (AwsSolutions) findings. */
export function acknowledgeNagFindings(input: NagFindingsInput): void {
  const stack = Stack.of(input.group);
  const groupArnFinding = `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(input.groupArn))}]`;
  const iamAcks = [
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeAutoScalingInstances and ec2:DescribeInstances ' +
        'support no resource-level permissions; "*" is the only resource they accept. ' +
        'ec2:RebootInstances (lifecycle Lambda, backups on) and ec2:TerminateInstances (lifecycle Lambda, ' +
        'retained terminations) are limited by the condition on the group tag.',
    },
    {
      id: groupArnFinding,
      reason:
        'The wildcard is the group id part of the Auto Scaling group ARN, which is only known after creation; ' +
        'the ARN is pinned to this group by its name.',
    },
  ];
  if (input.backupBucket) {
    const objects = input.backupBucket.arnForObjects(`${input.backupPrefix}*`);
    iamAcks.push({
      id: `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(objects))}]`,
      reason:
        "Snapshots and restore records are objects under this cluster's prefix of the backup bucket, named by " +
        'time and generation at run time; the grant is limited to that prefix.',
    });
  }
  // The incremental log's shipper on the members (lib/private/backup-schedule.ts): chunks and snapshots.
  const shipAcks =
    input.backupBucket && input.incrementalLog
      ? ['incremental/*', 'snapshots/*'].map((sub) => ({
          id: `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(input.backupBucket!.arnForObjects(`${input.backupPrefix}${sub}`)))}]`,
          reason:
            'The incremental backup log writes chunks (named by revisions, time and sha256) and the snapshots ' +
            "that base or close it, named at run time, under these two parts of this cluster's prefix only.",
        }))
      : [];
  // The restore drills on the members (lib/private/backup-schedule.ts): result objects.
  const drillAcks =
    input.backupBucket && input.restoreDrills
      ? [
          {
            id: `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(input.backupBucket.arnForObjects(`${input.backupPrefix}drills/*`)))}]`,
            reason:
              'The restore drills write one result object per drill (named by snapshot, time and outcome at run ' +
              "time) under this part of this cluster's prefix only.",
          },
        ]
      : [];
  Validations.of(input.instanceRole).acknowledge(...iamAcks, ...shipAcks, ...drillAcks);
  const fn = input.lifecycleFunction;
  Validations.of(fn.role!).acknowledge(...iamAcks, {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    reason:
      'The AWS managed policy that lets Lambda create the network interfaces of a function in a VPC (needed to reach etcd).',
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Pinned to Node.js 22, the runtime the lifecycle bundle is built and tested for (supported until 2027); ' +
      'raised deliberately with the bundle target.',
  });
  Validations.of(input.group).acknowledge({
    id: 'AwsSolutions-AS3',
    reason:
      'Scaling and lifecycle events go to EventBridge (rules to the lifecycle Lambda), not SNS notifications.',
  });
}

/** The AWS Control Tower proactive controls the construct does not meet on purpose. */
export function acknowledgeControlTowerFindings(group: autoscaling.AutoScalingGroup): void {
  Validations.of(group).acknowledge({
    id: `${CFN_GUARD}::autoscaling_mixed_instances_policy_multiple_instance_types_check`,
    reason:
      'CT.AUTOSCALING.PR.6 (multiple instance types): etcd members should be alike. Raft commits at the pace of ' +
      'the slowest voter of a quorum, and the AMI (x86_64 or arm64) and the etcd image follow the one instanceType.',
  });
}

/** Flattens a resolved CloudFormation value the way cdk-nag names a finding: Ref X becomes <X>. */
function flattenForNag(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return `<${v.Ref}>`;
    if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if (Array.isArray(v['Fn::Join'])) {
      const [delimiter, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(flattenForNag).join(delimiter);
    }
  }
  return JSON.stringify(value);
}
