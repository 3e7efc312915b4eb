/*
 * The members of an EtcdCluster (synth time only): their security group, their instance role and what it may
 * read (the agent bundle, the CA), and the Auto Scaling group with its lifecycle hooks. The launch template
 * is in ./launch-template.ts.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AGENT_BUNDLE } from '../assets';
import { ClusterTls, decryptViaSecretsManager } from '../tls';
import { tcpPort } from '../tokens';
import { lifecycleStatements } from './group-permissions';
import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from './names';

/** The members' security group and the cluster's connections (default port: the client port). */
export interface MemberNetwork {
  readonly securityGroup: ec2.SecurityGroup;
  readonly connections: ec2.Connections;
}

/**
 * Egress is limited to HTTPS (S3 for the agent bundle, the Auto Scaling and EC2 APIs, the image
 * registries, Flatcar updates) plus etcd's own ports inside the group. DNS, NTP and the instance
 * metadata service use link-local addresses that security groups do not filter.
 */
export function memberNetwork(
  cluster: Construct,
  vpc: ec2.IVpc,
  clientPort: number,
  peerPort: number,
): MemberNetwork {
  const sg = new ec2.SecurityGroup(cluster, 'SecurityGroup', {
    vpc,
    description: 'etcd members (cdk-elastic-etcd): peers and clients from the cluster itself',
    allowAllOutbound: false,
  });
  sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: S3, AWS APIs, container registries');
  const clientTcp = tcpPort(clientPort, 'clientPort');
  const connections = new ec2.Connections({ securityGroups: [sg], defaultPort: clientTcp });
  connections.allowInternally(tcpPort(peerPort, 'peerPort'), 'etcd peers');
  connections.allowInternally(clientTcp, 'etcd clients (members and agents)');
  return { securityGroup: sg, connections };
}

/** The instance role: the join agent's lookups and this group's lifecycle actions. */
export function memberRole(cluster: Construct, groupArn: string): iam.Role {
  const role = new iam.Role(cluster, 'InstanceRole', {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: 'etcd members (cdk-elastic-etcd): join agent',
  });
  for (const statement of lifecycleStatements(groupArn)) role.addToPrincipalPolicy(statement);
  return role;
}

/** Where Ignition fetches the agent from, and the sha512 it checks. */
export interface AgentBundle {
  readonly source: string;
  readonly sha512: string;
}

/** The agent bundle: Ignition fetches it from S3 with the instance role and checks its sha512. */
export function agentBundle(cluster: Construct, role: iam.IRole): AgentBundle {
  const agent = new s3assets.Asset(cluster, 'AgentBundle', { path: AGENT_BUNDLE });
  // Read on this one object only (Asset.grantRead would grant read on the whole staging bucket).
  // GetBucketLocation lets Ignition find the bucket's region.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [agent.bucket.arnForObjects(agent.s3ObjectKey)],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [agent.bucket.bucketArn] }),
  );
  return {
    source: `s3://${agent.s3BucketName}/${agent.s3ObjectKey}`,
    sha512: crypto.createHash('sha512').update(fs.readFileSync(AGENT_BUNDLE)).digest('hex'),
  };
}

/**
 * The members read the CA and sign their own certificate at boot (they already hold all the data, so the
 * CA key adds little to what a member can do); nothing else reads the CA. `caSecret` is the CA the user
 * brought, if any (its own key decrypts it).
 */
export function grantMemberTls(role: iam.IRole, tls: ClusterTls, caSecret?: secretsmanager.ISecret): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: [tls.caSecret.secretArn],
    }),
  );
  const caKey = caSecret ? caSecret.encryptionKey : tls.key;
  if (caKey) role.addToPrincipalPolicy(decryptViaSecretsManager(caKey, Stack.of(role).region));
}

export interface MemberGroupInput {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly launchTemplate: ec2.ILaunchTemplate;
  readonly groupName: string;
  readonly size: number;
  readonly heartbeatTimeout: Duration;
  /** The rollout gate's wait for signals: the creation's timeout and each rolling-update batch's PauseTime. */
  readonly rolloutSignalTimeout: Duration;
  readonly role: iam.IRole;
  readonly tls?: ClusterTls;
}

/** The Auto Scaling group of the members, with its launch and terminate lifecycle hooks. */
export function memberGroup(cluster: Construct, input: MemberGroupInput): autoscaling.AutoScalingGroup {
  const { size, vpcSubnets } = input;
  const groupSubnets = input.vpc.selectSubnets(vpcSubnets);
  const group = new autoscaling.AutoScalingGroup(cluster, 'Group', {
    vpc: input.vpc,
    vpcSubnets,
    launchTemplate: input.launchTemplate,
    autoScalingGroupName: input.groupName,
    minCapacity: size,
    maxCapacity: size,
    desiredCapacity: size,
    // A terminate action the Lambda abandons (removal would lose quorum) keeps the instance.
    instanceLifecyclePolicy: {
      retentionTriggers: { terminateHookAbandon: autoscaling.TerminateHookAbandonAction.RETAIN },
    },
    // The rollout gate. Creation: CloudFormation waits for `size` SUCCESS signals (CreationPolicy
    // ResourceSignal Count = desired capacity). Template changes (a new AMI, etcd version or user data) replace
    // one member at a time, and CloudFormation waits up to PauseTime for the replacement's signal before the
    // next: each agent signals SUCCESS once its member is a healthy voter, FAILURE when it refuses to join.
    // A FAILURE or a missing signal fails the update and CloudFormation rolls back by itself, so nothing of
    // ours must run during a rollout. aws-cdk-lib (2.276) renders Signals.waitForAll with the desired
    // capacity as the count, adds cloudformation:SignalResource on the stack's id (AWS::StackId) to the
    // launch template's role (the instance role), and keeps its default SuspendProcesses (HealthCheck,
    // ReplaceUnhealthy, AZRebalance, AlarmNotification, ScheduledActions, InstanceRefresh) so that no
    // other process replaces or rebalances members during a rollout.
    signals: autoscaling.Signals.waitForAll({ timeout: input.rolloutSignalTimeout }),
    updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
      maxBatchSize: 1,
      minInstancesInService: size - 1,
      waitOnResourceSignals: true,
      pauseTime: input.rolloutSignalTimeout,
    }),
  });
  // The hooks are part of the group itself, so even the very first instances launch through them
  // (hooks added with addLifecycleHook are created after the group and miss the first launches).
  // Both results are explicit: CloudFormation's default is ABANDON whatever CDK's docs say.
  const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
  cfnGroup.lifecycleHookSpecificationList = [
    {
      lifecycleHookName: LAUNCH_HOOK_NAME,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      // An instance whose agent never reports a healthy voter is terminated and replaced.
      defaultResult: 'ABANDON',
      heartbeatTimeout: input.heartbeatTimeout.toSeconds(),
    },
    {
      lifecycleHookName: TERMINATE_HOOK_NAME,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      // A silent Lambda must not pin instances forever: on timeout the instance goes and the
      // reconcile removes its member later. The Lambda answers ABANDON itself when removal is unsafe.
      defaultResult: 'CONTINUE',
      heartbeatTimeout: input.heartbeatTimeout.toSeconds(),
    },
  ];
  // The group's zones, next to its subnets (the same zones): AWS Control Tower's CT.AUTOSCALING.PR.1 reads
  // AvailabilityZones. Left out when a subnet's zone is unknown (a subnet imported by id alone).
  const zones = availabilityZonesOf(groupSubnets);
  if (zones) cfnGroup.availabilityZones = zones;
  // min = max = desired on purpose: every deployment resets the group to `size`.
  Annotations.of(group).acknowledgeWarning(
    '@aws-cdk/aws-autoscaling:desiredCapacitySet',
    'min = max = desired = size: resetting the size on deployment is the intent',
  );
  // Instances boot only once the role's policy (lifecycle + S3 permissions) exists, and with TLS once
  // the CA is in its secret.
  group.node.addDependency(input.role);
  // ... and only once their subnets' default routes (NAT) exist: on a first deploy with a new VPC an
  // instance could otherwise boot before it can reach S3, Ignition's fetch of the agent would fail, and
  // the launch hook would abandon it after its timeout. (Empty for an imported VPC.)
  group.node.addDependency(groupSubnets.internetConnectivityEstablished);
  if (input.tls) group.node.addDependency(input.tls.material);
  return group;
}

/**
 * The distinct Availability Zones of the selected subnets, or undefined when a subnet's zone is unknown
 * (`Subnet.fromSubnetId` without a zone throws on access).
 */
function availabilityZonesOf(selected: ec2.SelectedSubnets): string[] | undefined {
  try {
    return [...new Set(selected.subnets.map((subnet) => subnet.availabilityZone))];
  } catch {
    return undefined;
  }
}
