/*
 * The example app's stack: a VPC (or an existing one) and a 3-member EtcdCluster. Exported so the
 * construct tests can instantiate exactly what `cdk synth` renders.
 */
import { Annotations, CfnOutput, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EtcdCluster, FlatcarAmi } from '../lib';

/**
 * Placeholder AMI ids used only when the example stack is environment-agnostic (no credentials, so
 * no account/region and no AMI lookup) and no `cdk-elastic-etcd:flatcarAmi` context is given. They
 * let `cdk synth` render the whole template offline; they are NOT real Flatcar images, so such a
 * template cannot be deployed. With credentials the CLI sets CDK_DEFAULT_ACCOUNT/REGION, the stack
 * gets an env, and the construct looks up the newest Flatcar stable AMI instead.
 */
export const EXAMPLE_FALLBACK_AMIS: Readonly<Record<string, string>> = {
  'us-east-1': 'ami-00000000000000000',
  'us-east-2': 'ami-00000000000000000',
  'us-west-2': 'ami-00000000000000000',
  'eu-west-1': 'ami-00000000000000000',
  'eu-central-1': 'ami-00000000000000000',
  'ap-northeast-1': 'ami-00000000000000000',
};

export interface EtcdExampleStackProps extends StackProps {
  /**
   * Use this existing VPC (looked up with Vpc.fromLookup, which needs a concrete env) instead of
   * creating one. Members go to its private subnets with egress.
   *
   * @default - a new VPC with 3 AZs (2 when environment-agnostic), one NAT gateway and flow logs
   */
  readonly vpcId?: string;

  /**
   * etcd release of the cluster (EtcdCluster's `etcdVersion`).
   *
   * @default - EtcdCluster's default
   */
  readonly etcdVersion?: string;
}

/** How long the example keeps the VPC flow logs (Control Tower CT.CLOUDWATCH.PR.2 asks for a year or more). */
const FLOW_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

export class EtcdExampleStack extends Stack {
  public readonly cluster: EtcdCluster;
  /** The topic every alarm of the cluster notifies. */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: EtcdExampleStackProps = {}) {
    super(scope, id, props);

    let vpc: ec2.IVpc;
    let newVpc: ec2.Vpc | undefined;
    if (props.vpcId) {
      vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId });
    } else {
      newVpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 3,
        natGateways: 1,
        subnetConfiguration: [
          // Only the NAT gateway lives here, with its own Elastic IP: nothing needs a public address at launch
          // (Control Tower CT.EC2.PR.11: no auto-assigned public IPs).
          { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, mapPublicIpOnLaunch: false },
          { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        ],
      });
      vpc = newVpc;
    }

    // Where the cluster's alarms go: an SNS topic (subscribe your on-call to it), encrypted with a key that
    // CloudWatch may use (an alarm cannot publish to a topic under the AWS managed SNS key).
    const alarmKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'cdk-elastic-etcd example: encrypts the alarm topic',
      enableKeyRotation: true,
    });
    alarmKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    // Nothing here creates KMS grants (Control Tower CT.KMS.PR.3).
    alarmKey.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'cdk-elastic-etcd example alarms',
      masterKey: alarmKey,
      enforceSSL: true,
    });

    let machineImage: ec2.IMachineImage | undefined;
    const agnostic = Token.isUnresolved(this.account) || Token.isUnresolved(this.region);
    if (agnostic && this.node.tryGetContext(FlatcarAmi.CONTEXT_KEY) === undefined) {
      machineImage = ec2.MachineImage.genericLinux({ ...EXAMPLE_FALLBACK_AMIS });
      Annotations.of(this).addWarningV2(
        'cdk-elastic-etcd-example:fallbackAmi',
        'The stack has no account/region, so the Flatcar AMI comes from the placeholder map EXAMPLE_FALLBACK_AMIS ' +
          '(synth only, not deployable). Deploy with credentials (the CLI then sets CDK_DEFAULT_ACCOUNT/REGION and ' +
          `the AMI is looked up), or pass -c ${FlatcarAmi.CONTEXT_KEY}='{"<region>":"ami-..."}'.`,
      );
    }

    this.cluster = new EtcdCluster(this, 'Etcd', {
      vpc,
      machineImage,
      etcdVersion: props.etcdVersion,
      alarmActions: [new cloudwatchActions.SnsAction(this.alarmTopic)],
    });

    // Flow logs of a new VPC, in a log group encrypted with the cluster's key (its policy lets CloudWatch Logs
    // use it for the log groups of this account and region).
    if (newVpc) {
      const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
        retention: FLOW_LOG_RETENTION,
        encryptionKey: this.cluster.encryptionKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      newVpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
    }

    new CfnOutput(this, 'AutoScalingGroupName', { value: this.cluster.autoScalingGroupName });
    new CfnOutput(this, 'ClusterSecurityGroupId', { value: this.cluster.securityGroup.securityGroupId });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }
}
