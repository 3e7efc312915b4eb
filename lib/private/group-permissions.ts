/*
 * The Auto Scaling group's identity as the IAM policies see it, and what both the agent (instance role) and
 * the lifecycle Lambda may do with it (synth time only).
 */
import { ArnFormat, Names, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The group's fixed name and its ARN (the group id part a wildcard: known only after creation). */
export interface GroupIdentity {
  readonly name: string;
  readonly arn: string;
}

/**
 * A fixed, deterministic group name: the IAM policies and the EventBridge patterns name the group
 * without referencing the group resource, which would make a cycle (role -> group -> launch
 * template -> instance profile -> role) and let instances boot before their permissions exist.
 * Changing the construct path changes the name, which replaces the group.
 */
export function groupIdentity(cluster: Construct): GroupIdentity {
  const name = Names.uniqueResourceName(cluster, { maxLength: 200 });
  const arn = Stack.of(cluster).formatArn({
    service: 'autoscaling',
    resource: 'autoScalingGroup',
    resourceName: `*:autoScalingGroupName/${name}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  return { name, arn };
}

/**
 * What both the agent (instance role) and the lifecycle Lambda may do in the Auto Scaling and EC2
 * APIs: look up groups and instances, and answer this group's lifecycle actions.
 */
export function lifecycleStatements(groupArn: string): iam.PolicyStatement[] {
  return [
    // These Describe* actions support no resource-level permissions: '*' is the only valid resource.
    new iam.PolicyStatement({
      actions: [
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'ec2:DescribeInstances',
      ],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      resources: [groupArn],
    }),
  ];
}
