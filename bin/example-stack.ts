/*
 * The example app's stack: a VPC (or an existing one) and a 3-member EtcdCluster. Exported so the
 * construct tests can instantiate exactly what `cdk synth` renders.
 */
import { Annotations, CfnOutput, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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
}

export class EtcdExampleStack extends Stack {
  public readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: EtcdExampleStackProps = {}) {
    super(scope, id, props);

    let vpc: ec2.IVpc;
    if (props.vpcId) {
      vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId });
    } else {
      const newVpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 3, natGateways: 1 });
      newVpc.addFlowLog('FlowLog');
      vpc = newVpc;
    }

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

    this.cluster = new EtcdCluster(this, 'Etcd', { vpc, machineImage });

    new CfnOutput(this, 'AutoScalingGroupName', { value: this.cluster.autoScalingGroupName });
    new CfnOutput(this, 'ClusterSecurityGroupId', { value: this.cluster.securityGroup.securityGroupId });
  }
}
