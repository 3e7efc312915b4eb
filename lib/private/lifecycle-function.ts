/*
 * The lifecycle/reconcile Lambda of an EtcdCluster (synth time only): its security group, log group, role and
 * permissions, its environment (what lambda/lifecycle/config.ts reads), and the EventBridge rules and schedule
 * that invoke it.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLE_DIR } from '../assets';
import { JoinStrategy } from '../join-strategy';
import { ClusterTls, decryptViaSecretsManager } from '../tls';
import { drillIntervalSeconds, incrementalBackupSeconds } from '../backup';
import { BackupWiring } from './backup-bucket';
import { GroupIdentity, lifecycleStatements } from './group-permissions';
import { lifecycleTiming, ResolvedMaintenance } from './maintenance';
import { renderLifecycleEnvironment } from './run-time-config';
import { vpcFunctionRole } from './function-role';

/** What the lifecycle function's environment is made of. */
export interface LifecycleEnvironmentInput {
  readonly groupName: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly joinStrategy: JoinStrategy;
  readonly unstartedGrace: Duration;
  readonly tls?: ClusterTls;
  readonly backup?: BackupWiring;
  /** The quota and the maintenance settings. */
  readonly maintenance: ResolvedMaintenance;
}

/** The lifecycle function's environment variables: ./run-time-config.ts renders them (read by lambda/lifecycle/config.ts). */
export function lifecycleEnvironment(input: LifecycleEnvironmentInput): Record<string, string> {
  const { tls, backup } = input;
  return renderLifecycleEnvironment({
    groupName: input.groupName,
    clientPort: input.clientPort,
    peerPort: input.peerPort,
    strategy: input.joinStrategy,
    unstartedGraceSeconds: input.unstartedGrace.toSeconds(),
    // The secret's ARN, not its value: the function reads the identity at run time.
    clientSecretId: tls?.clientSecret.secretArn,
    backup: backup && {
      bucket: backup.bucket.bucketName,
      prefix: backup.prefix,
      restorePolicy: backup.options.restorePolicy,
      restoreAfterSeconds: backup.options.restoreAfter?.toSeconds(),
      snapshotBeforeRemoval: backup.options.snapshotBeforeMembershipChange,
      incrementalBackupSeconds: incrementalBackupSeconds(backup.options),
      restoreDrills: drillIntervalSeconds(backup.options) !== undefined,
    },
    quotaBackendBytes: input.maintenance.backend.quotaBackendBytes,
    maintenance: maintenanceSettings(input),
    backend: input.maintenance.backend,
  });
}

/** The Lambda's maintenance settings: false when defragmentation is off, else the thresholds and the budget. */
function maintenanceSettings(input: LifecycleEnvironmentInput) {
  const { defrag } = input.maintenance;
  if (defrag === false) return false;
  const { budgetSeconds } = lifecycleTiming(input.backup !== undefined, true);
  return { ...defrag, budgetSeconds };
}

export interface LifecycleFunctionInput extends LifecycleEnvironmentInput {
  readonly group: GroupIdentity;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The members' connections: the function reaches their client port. */
  readonly memberConnections: ec2.Connections;
  readonly logRetention: logs.RetentionDays;
  readonly logKey: kms.IKey;
}

/** The lifecycle/reconcile function in the cluster's VPC, with its security group, log group and role. */
export function lifecycleFunction(cluster: Construct, input: LifecycleFunctionInput): lambda.Function {
  const { group, tls, backup } = input;
  const fnSg = new ec2.SecurityGroup(cluster, 'LifecycleFunctionSecurityGroup', {
    vpc: input.vpc,
    description: 'cdk-elastic-etcd lifecycle Lambda: etcd client port of the members, HTTPS to AWS APIs',
    allowAllOutbound: false,
  });
  fnSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs');
  input.memberConnections.allowDefaultPortFrom(fnSg, 'lifecycle Lambda');

  const fnLogs = new logs.LogGroup(cluster, 'LifecycleFunctionLogs', {
    retention: input.logRetention,
    encryptionKey: input.logKey,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fn = new lambda.Function(cluster, 'LifecycleFunction', {
    role: lifecycleFunctionRole(cluster, fnLogs),
    description: `cdk-elastic-etcd: lifecycle actions and reconcile of ${group.name}`,
    runtime: lambda.Runtime.NODEJS_22_X,
    code: lambda.Code.fromAsset(LAMBDA_BUNDLE_DIR),
    handler: 'index.handler',
    // Backups stream snapshots through the function (before removals too), maintenance runs defragment: more
    // time for them (./maintenance.ts, lifecycleTiming), more memory for the snapshots.
    timeout: lifecycleTiming(backup !== undefined, input.maintenance.defrag !== false).timeout,
    memorySize: backup ? 512 : 256,
    vpc: input.vpc,
    vpcSubnets: input.vpcSubnets,
    securityGroups: [fnSg],
    logGroup: fnLogs,
    environment: lifecycleEnvironment(input),
  });
  for (const statement of lifecycleStatements(group.arn)) fn.addToRolePolicy(statement);
  fn.addToRolePolicy(retainedTerminationStatement(group.name));
  if (tls) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [tls.clientSecret.secretArn],
      }),
    );
    fn.addToRolePolicy(decryptViaSecretsManager(tls.key, Stack.of(cluster).region));
  }
  return fn;
}

/**
 * What invokes the function: the group's launch and terminate lifecycle actions (EventBridge rules), and the
 * reconcile every `reconcileInterval`.
 */
export function lifecycleTriggers(
  cluster: Construct,
  fn: lambda.IFunction,
  groupName: string,
  reconcileInterval: Duration,
): void {
  const target = new targets.LambdaFunction(fn);
  const actions: [string, string][] = [
    ['LaunchActionRule', 'EC2 Instance-launch Lifecycle Action'],
    ['TerminateActionRule', 'EC2 Instance-terminate Lifecycle Action'],
  ];
  for (const [ruleId, detailType] of actions) {
    new events.Rule(cluster, ruleId, {
      description: `cdk-elastic-etcd: ${detailType} of ${groupName}`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: [detailType],
        detail: { AutoScalingGroupName: [groupName] },
      },
      targets: [target],
    });
  }
  new events.Rule(cluster, 'ReconcileSchedule', {
    description: `cdk-elastic-etcd: reconcile the members of ${groupName}`,
    schedule: events.Schedule.rate(reconcileInterval),
    targets: [
      new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ kind: 'reconcile' }) }),
    ],
  });
}

/** The lifecycle Lambda's role (./function-role.ts): its own log group, the VPC access policy. */
function lifecycleFunctionRole(scope: Construct, logGroup: logs.ILogGroup): iam.Role {
  return vpcFunctionRole(
    scope,
    'LifecycleFunctionServiceRole',
    'cdk-elastic-etcd lifecycle Lambda',
    logGroup,
  );
}

/**
 * The reconcile terminates a retained instance (Terminating:Retained) once its member is removed: EC2
 * TerminateInstances, only on instances tagged with this group's name (the group tags its instances).
 */
function retainedTerminationStatement(groupName: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['ec2:TerminateInstances'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': groupName } },
  });
}
