/*
 * The members' instances (synth time only): the launch template with the agent config, then the Auto Scaling
 * group that runs it. The agent config names the group as the target of the rollout signal, but the group is
 * made after its launch template: its logical id reaches the user data through a Lazy value.
 */
import { Lazy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ClusterTls } from '../tls';
import { BackupWiring } from './backup-bucket';
import { agentConfig, memberLaunchTemplate } from './launch-template';
import { AgentBundle, memberGroup, MemberNetwork } from './members';
import { ResolvedProps } from './props';

export interface MemberInstancesInput {
  readonly props: ResolvedProps;
  readonly vpc: ec2.IVpc;
  readonly groupName: string;
  readonly role: iam.IRole;
  readonly network: MemberNetwork;
  readonly agent: AgentBundle;
  readonly tls?: ClusterTls;
  readonly backup?: BackupWiring;
}

/** The launch template (Ignition user data with the agent config) and the group with its hooks and policies. */
export function memberInstances(
  cluster: Construct,
  input: MemberInstancesInput,
): autoscaling.AutoScalingGroup {
  const { props: p, tls, backup } = input;
  const stack = Stack.of(cluster);
  // Set once the group exists (below); read when CloudFormation values are resolved, at synth.
  const made: { group?: autoscaling.AutoScalingGroup } = {};
  const launchTemplate = memberLaunchTemplate(cluster, {
    instanceType: p.instanceType,
    machineImage: p.machineImage,
    role: input.role,
    securityGroup: input.network.securityGroup,
    agent: input.agent,
    agentConfig: agentConfig({
      ...p,
      tls,
      backup,
      // The rollout gate: SignalResource(StackName, LogicalResourceId = the group's, UniqueId = instance id).
      // The logical id as CloudFormation will know it (resolved at synth, so also after overrideLogicalId).
      rolloutSignal: {
        stackName: stack.stackName,
        logicalResourceId: Lazy.string({
          // CfnElement.logicalId: the final id (an overrideLogicalId included); Stack.getLogicalId is not.
          produce: () => (made.group!.node.defaultChild as autoscaling.CfnAutoScalingGroup).logicalId,
        }),
      },
    }),
    nodeImage: p.nodeImage,
    etcdImage: p.etcdImage,
    etcdVersion: p.etcdVersion,
    dataVolumeSize: p.dataVolumeSize,
    backup,
  });
  const group = memberGroup(cluster, {
    vpc: input.vpc,
    vpcSubnets: p.vpcSubnets,
    launchTemplate,
    groupName: input.groupName,
    size: p.size,
    heartbeatTimeout: p.heartbeatTimeout,
    rolloutSignalTimeout: p.rolloutSignalTimeout,
    role: input.role,
    tls,
  });
  made.group = group;
  return group;
}
