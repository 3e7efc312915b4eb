/*
 * Numbers that end up in the user data (the agent's config) or in the lifecycle Lambda's environment, given
 * as tokens (CfnParameter.valueAsNumber): either CloudFormation fills them in at the right place, or synth
 * refuses them with an error that names the prop.
 */
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster, EtcdClusterProps } from '../../lib';
import { ACCOUNT, REGION, TEST_AMI } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The parameters every token test declares, with the values a deployment would give them. */
const PARAMETERS: Record<string, number> = {
  ClientPort: 12379,
  PeerPort: 12380,
  GraceSeconds: 1500,
  RestoreAfterSeconds: 900,
  Size: 5,
  Minutes: 10,
};

function build(props: (p: Record<string, number>) => Partial<EtcdClusterProps>) {
  const app = new App();
  const stack = new Stack(app, 'S', { env: { account: ACCOUNT, region: REGION } });
  const params: Record<string, number> = {};
  for (const name of Object.keys(PARAMETERS)) {
    params[name] = new CfnParameter(stack, name, { type: 'Number' }).valueAsNumber;
  }
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
  const make = () =>
    new EtcdCluster(stack, 'Etcd', {
      vpc,
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      ...props(params),
    });
  return { stack, vpc, make };
}

/**
 * What CloudFormation makes of a value: the parameters replaced by their deployed values, every Fn::Join
 * joined; other references become fixed placeholders.
 */
function deploy(value: Json): Json {
  if (Array.isArray(value)) return value.map(deploy);
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') {
      return value.Ref in PARAMETERS ? String(PARAMETERS[value.Ref]) : `REF-${value.Ref}`;
    }
    if (Array.isArray(value['Fn::GetAtt'])) return `GETATT-${value['Fn::GetAtt'].join('.')}`;
    if (Array.isArray(value['Fn::Join'])) {
      const [delimiter, parts] = value['Fn::Join'];
      return (parts as Json[]).map((p) => String(deploy(p))).join(delimiter);
    }
    if (value['Fn::Base64'] !== undefined) return deploy(value['Fn::Base64']);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deploy(v)]));
  }
  return value;
}

/** The agent's config file as the instance gets it: decoded from its data URL in the deployed user data. */
function agentConfig(template: Template): Json {
  const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0];
  const ignition = JSON.parse(deploy(lt.Properties.LaunchTemplateData.UserData));
  const file = ignition.storage.files.find((f: Json) => f.path === '/etc/etcd-agent/config.json');
  return JSON.parse(decodeURIComponent(file.contents.source.replace(/^data:,/, '')));
}

function lambdaEnvironment(template: Template): Record<string, string> {
  const fns = template.findResources('AWS::Lambda::Function', {
    Properties: { Handler: 'index.handler', Environment: {} },
  });
  const withGroup = Object.values(fns).filter((f: Json) => f.Properties.Environment.Variables.GROUP_NAME);
  expect(withGroup).toHaveLength(1);
  return deploy(withGroup[0].Properties.Environment.Variables);
}

describe('numbers from tokens: rendered where CloudFormation fills them in', () => {
  test('clientPort and peerPort: the agent config (as JSON numbers), the Lambda environment, the security group', () => {
    const { stack, vpc, make } = build((p) => ({ clientPort: p.ClientPort, peerPort: p.PeerPort }));
    const cluster = make();
    // A client allowed on the default port gets the client port.
    const client = new ec2.SecurityGroup(stack, 'Client', { vpc });
    cluster.connections.allowDefaultPortFrom(client);
    const template = Template.fromStack(stack);
    const config = agentConfig(template);
    expect([config.clientPort, config.peerPort]).toEqual([12379, 12380]);
    const env = lambdaEnvironment(template);
    expect([env.CLIENT_PORT, env.PEER_PORT]).toEqual(['12379', '12380']);
    // The members' own rules: one per port (both ports are tokens, and neither rule may hide the other).
    const sgId = stack.resolve((cluster.securityGroup as ec2.SecurityGroup).securityGroupId)['Fn::GetAtt'][0];
    const selfRules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r: Json) => r.Properties)
      .filter(
        (r: Json) =>
          r.GroupId['Fn::GetAtt']?.[0] === sgId && r.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === sgId,
      );
    expect(selfRules.map((r: Json) => [deploy(r.FromPort), deploy(r.ToPort)]).sort()).toEqual([
      ['12379', '12379'],
      ['12380', '12380'],
    ]);
    const clientId = stack.resolve(client.securityGroupId)['Fn::GetAtt'][0];
    const clientRules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r: Json) => r.Properties)
      .filter((r: Json) => r.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === clientId);
    expect(clientRules.map((r: Json) => [deploy(r.FromPort), deploy(r.ToPort)])).toEqual([
      ['12379', '12379'],
    ]);
  });

  test('unstartedGrace and backup.restoreAfter (seconds): the Lambda environment', () => {
    const { stack, make } = build((p) => ({
      unstartedGrace: Duration.seconds(p.GraceSeconds),
      backup: { restoreAfter: Duration.seconds(p.RestoreAfterSeconds) },
    }));
    make();
    const env = lambdaEnvironment(Template.fromStack(stack));
    expect([env.UNSTARTED_GRACE_SECONDS, env.RESTORE_AFTER_SECONDS]).toEqual(['1500', '900']);
  });
});

describe('durations from tokens that go into CloudFormation properties', () => {
  test('lifecycleHeartbeatTimeout (seconds) on both hooks, reconcileInterval (minutes) in the schedule', () => {
    const { stack, make } = build((p) => ({
      lifecycleHeartbeatTimeout: Duration.seconds(p.GraceSeconds),
      reconcileInterval: Duration.minutes(p.Minutes),
    }));
    make();
    const template = Template.fromStack(stack);
    const group = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0] as Json;
    expect(
      group.Properties.LifecycleHookSpecificationList.map((h: Json) => deploy(h.HeartbeatTimeout)),
    ).toEqual(['1500', '1500']);
    const rules = Object.entries(template.findResources('AWS::Events::Rule')) as [string, Json][];
    const reconcile = rules.find(([id]) => id.includes('ReconcileSchedule'))![1];
    expect(deploy(reconcile.Properties.ScheduleExpression)).toBe('rate(10 minutes)');
  });
});

describe('numbers from tokens: refused with an error that names the prop', () => {
  test('size (it sets the rolling update bound size - 1 and the quorum checks at synth)', () => {
    const { make } = build((p) => ({ size: p.Size }));
    expect(make).toThrow(/\n {2}- size: .*token/);
  });

  test.each([
    ['unstartedGrace', (p: Record<string, number>) => ({ unstartedGrace: Duration.minutes(p.Minutes) })],
    [
      'lifecycleHeartbeatTimeout',
      (p: Record<string, number>) => ({ lifecycleHeartbeatTimeout: Duration.minutes(p.Minutes) }),
    ],
    [
      'backup.restoreAfter',
      (p: Record<string, number>) => ({ backup: { restoreAfter: Duration.minutes(p.Minutes) } }),
    ],
  ])('%s from a token in minutes (only seconds convert without arithmetic)', (prop, props) => {
    const { make } = build(props);
    expect(make).toThrow(new RegExp(`\\n {2}- ${prop.replace('.', '\\.')}: .*Duration\\.seconds`));
  });

  test('reconcileInterval from a token in seconds (a schedule rate takes minutes, hours or days)', () => {
    const { make } = build((p) => ({ reconcileInterval: Duration.seconds(p.GraceSeconds) }));
    expect(make).toThrow(/\n {2}- reconcileInterval: .*minutes, hours or days/);
  });

  test('backup.backupInterval (the snapshot age alarm is computed from it)', () => {
    const { make } = build((p) => ({ backup: { backupInterval: Duration.minutes(p.Minutes) } }));
    expect(make).toThrow(/\n {2}- backup\.backupInterval: .*token/);
  });
});
