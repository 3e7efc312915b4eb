/* Shared fixtures of the construct tests: a stack with an EtcdCluster, and the rendered user data. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster, EtcdClusterProps } from '../../lib';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const TEST_AMI = 'ami-0123456789abcdef0';

export interface Fixture {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly cluster: EtcdCluster;
  readonly template: Template;
}

/** A stack with a concrete env, a 3-AZ VPC and an EtcdCluster (the AMI given, so no lookup). */
export function makeCluster(props: Partial<EtcdClusterProps> = {}, env = true): Fixture {
  const app = new App();
  const stack = new Stack(app, 'TestStack', env ? { env: { account: ACCOUNT, region: REGION } } : {});
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
  const cluster = new EtcdCluster(stack, 'Etcd', {
    vpc,
    machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
    ...props,
  });
  return { app, stack, vpc, cluster, template: Template.fromStack(stack) };
}

/** Resolves the few intrinsics that appear in the user data, with fixed stand-ins for references. */
export function resolveIntrinsics(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    return (
      (
        { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws' } as Record<
          string,
          string
        >
      )[v.Ref] ?? `REF-${v.Ref}`
    );
  }
  if (Array.isArray(v['Fn::GetAtt'])) return `GETATT-${(v['Fn::GetAtt'] as string[]).join('.')}`;
  if (typeof v['Fn::Sub'] === 'string') {
    return (v['Fn::Sub'] as string)
      .replace(/\$\{AWS::AccountId\}/g, ACCOUNT)
      .replace(/\$\{AWS::Region\}/g, REGION);
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [delimiter, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(resolveIntrinsics).join(delimiter);
  }
  throw new Error(`unexpected intrinsic in user data: ${JSON.stringify(value)}`);
}

/** The launch template's user data as raw text (what the instance receives, before base64). */
export function rawUserData(template: Template): string {
  const lts = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
  if (lts.length !== 1) throw new Error(`expected one launch template, found ${lts.length}`);
  const userData = lts[0].Properties.LaunchTemplateData.UserData;
  return resolveIntrinsics(userData['Fn::Base64']);
}

/** The user data parsed as the Ignition config. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ignitionOf(template: Template): any {
  return JSON.parse(rawUserData(template));
}

/** The agent config file of the Ignition user data, parsed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function agentConfigOf(template: Template): any {
  const file = ignitionOf(template).storage.files.find(
    (f: { path: string }) => f.path === '/etc/etcd-agent/config.json',
  );
  return JSON.parse(decodeURIComponent(file.contents.source.slice('data:,'.length)));
}

/** The lifecycle function's resource properties (the function with GROUP_NAME in its environment). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function lifecycleFunctionOf(template: Template): any {
  const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter(
    (f) => f.Properties?.Environment?.Variables?.GROUP_NAME !== undefined,
  );
  if (fns.length !== 1) throw new Error(`expected one lifecycle function, found ${fns.length}`);
  return fns[0].Properties;
}

/** A systemd unit of the Ignition user data, by name (undefined when absent). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function unitOf(template: Template, name: string): any {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return ignitionOf(template).systemd.units.find((u: any) => u.name === name);
}

/** The instance role's statements, resources resolved to stand-in strings. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function instanceStatements(template: Template): any[] {
  const [, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
    id.startsWith('EtcdInstanceRoleDefaultPolicy'),
  )!;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return policy.Properties.PolicyDocument.Statement.map((s: any) => ({
    ...s,
    Resource: Array.isArray(s.Resource) ? s.Resource.map(resolveIntrinsics) : resolveIntrinsics(s.Resource),
  }));
}

/** A policy statement's actions as a list. */
export const actionsOf = (s: { Action: string | string[] }): string[] =>
  Array.isArray(s.Action) ? s.Action : [s.Action];

/** The statements that write, delete or abort in S3. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const s3Writes = (statements: any[]) =>
  statements.filter((s) => actionsOf(s).some((a) => /^s3:(Put|Delete|Abort)/.test(a)));

/** The key operations through S3 (the instance role has a kms:Decrypt through Secrets Manager too, for TLS). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const kmsViaS3 = (statements: any[]) =>
  statements
    .filter((s) => JSON.stringify(s.Condition ?? {}).includes('"s3.'))
    .flatMap(actionsOf)
    .sort();
