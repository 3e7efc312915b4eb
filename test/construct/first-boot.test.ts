/*
 * Issue 11 section 2, construct side: what a real first boot needs from the template (the group waits for
 * the NAT routes, the data volume's device name, etcd 3.4 on arm64 refused at synth).
 */
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster } from '../../lib';
import { ACCOUNT, ignitionOf, makeCluster, REGION } from './helpers';

const AMI = ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef1' });
const ARM = ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE);

describe('the Auto Scaling group waits for its subnets to reach the internet', () => {
  test('DependsOn every selected private subnet default route (NAT), in a new VPC of the same stack', () => {
    const { template } = makeCluster();
    const natRoutes = Object.entries(template.findResources('AWS::EC2::Route'))
      .filter(([, r]) => r.Properties.NatGatewayId !== undefined)
      .map(([id]) => id)
      .sort();
    // The private subnets of the 3 AZs, each with its default route through the NAT gateway.
    expect(natRoutes).toHaveLength(3);
    expect(natRoutes.every((id) => /^VpcPrivateSubnet\dDefaultRoute/.test(id))).toBe(true);
    const [group] = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(group.DependsOn).toEqual(expect.arrayContaining(natRoutes));
  });

  test('with explicit vpcSubnets: the routes of exactly those subnets', () => {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
    new EtcdCluster(stack, 'Etcd', {
      vpc,
      machineImage: AMI,
      vpcSubnets: { subnets: [vpc.privateSubnets[1]] },
    });
    const template = Template.fromStack(stack);
    const [group] = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
    const deps = (group.DependsOn as string[]).filter((d) => /DefaultRoute/.test(d));
    expect(deps).toHaveLength(1);
    expect(deps[0]).toMatch(/^VpcPrivateSubnet2DefaultRoute/);
  });
});

describe('data volume device name', () => {
  test("from AWS's recommended EBS range, not the Flatcar AMI's instance-store name /dev/xvdb", () => {
    const { template } = makeCluster();
    const [lt] = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
    const names = lt.Properties.LaunchTemplateData.BlockDeviceMappings.map(
      (m: { DeviceName: string }) => m.DeviceName,
    );
    expect(names[0]).toBe('/dev/xvda');
    const data = names[1];
    expect(data).toMatch(/^\/dev\/(sd|xvd)[f-p]$/);
    // Ignition formats the same device (Flatcar links the NVMe device to the mapping's name).
    expect(ignitionOf(template).storage.filesystems[0].device).toBe(data);
  });
});

describe('etcdVersion 3.4 on arm64', () => {
  function build(props: Partial<ConstructorParameters<typeof EtcdCluster>[2]>) {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    return new EtcdCluster(stack, 'Etcd', { vpc, machineImage: AMI, ...props });
  }

  test('is refused at synth with an error that names etcdVersion and the instance type', () => {
    expect(() => build({ etcdVersion: '3.4.27', instanceType: ARM })).toThrow(
      /etcdVersion: 3\.4\.27 has no arm64 image .*instanceType m7g\.large is arm64/,
    );
  });

  test.each([
    ['3.5 on arm64', { etcdVersion: '3.5.26', instanceType: ARM }],
    ['3.4 on x86_64', { etcdVersion: '3.4.27' }],
    ['an explicit etcdImage on arm64', { etcdImage: 'quay.io/coreos/etcd:v3.4.27-arm64', instanceType: ARM }],
  ])('%s is accepted', (_name, props) => {
    expect(() => build(props)).not.toThrow();
  });

  test('an instance type from a token is not checked; a version from a token is refused (issue 15)', () => {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const version = new CfnParameter(stack, 'Version').valueAsString;
    const type = new ec2.InstanceType(new CfnParameter(stack, 'Type').valueAsString);
    new EtcdCluster(stack, 'B', { vpc, machineImage: AMI, etcdVersion: '3.4.27', instanceType: type });
    Template.fromStack(stack).resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    // The construct must know the release (restore tool, version-skew check): a token is not one.
    expect(
      () => new EtcdCluster(stack, 'A', { vpc, machineImage: AMI, etcdVersion: version, instanceType: ARM }),
    ).toThrow(/etcdVersion: must be known at synth time, not a token/);
  });
});
