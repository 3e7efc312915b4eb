/*
 * FAILURE-SCENARIOS 18. The rollout gate (issue 15): CloudFormation waits for every member's signal at creation and for each
 * replacement's signal in a rolling update, one member at a time; the instances may signal this stack only;
 * the agent config names exactly the group as CloudFormation knows it. And the prop that bounds the wait.
 */
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { readAgentConfig } from '../../lib/contract';
import { EtcdCluster } from '../../lib';
import { agentConfigOf, makeCluster, REGION } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function groupOf(template: Template): [string, Json] {
  const groups = Object.entries(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
  expect(groups).toHaveLength(1);
  return groups[0];
}

describe('defaults (size 3)', () => {
  const { template, stack } = makeCluster();
  const [logicalId, group] = groupOf(template);

  test('creation waits for a SUCCESS signal from each of the 3 members, 30 minutes at most', () => {
    expect(group.CreationPolicy).toEqual({ ResourceSignal: { Count: 3, Timeout: 'PT30M' } });
  });

  test('a rolling update replaces one member at a time and waits for its signal (PauseTime = the signal timeout)', () => {
    expect(group.UpdatePolicy.AutoScalingRollingUpdate).toEqual({
      MaxBatchSize: 1,
      MinInstancesInService: 2,
      WaitOnResourceSignals: true,
      PauseTime: 'PT30M',
      // Nothing else replaces or rebalances members meanwhile (aws-cdk-lib's defaults, rendered explicitly).
      SuspendProcesses: [
        'HealthCheck',
        'ReplaceUnhealthy',
        'AZRebalance',
        'AlarmNotification',
        'ScheduledActions',
        'InstanceRefresh',
      ],
    });
    // 100 % of the replacements must signal SUCCESS (CloudFormation's default when the key is absent).
    expect(group.UpdatePolicy.AutoScalingRollingUpdate.MinSuccessfulInstancesPercent).toBeUndefined();
    expect(group.CreationPolicy.AutoScalingCreationPolicy).toBeUndefined();
  });

  test("the agent config names this stack and the group's logical id in the synthesized template", () => {
    const config = agentConfigOf(template);
    expect(config.rolloutSignal).toEqual({ stackName: 'TestStack', logicalResourceId: logicalId });
    expect(stack.stackName).toBe('TestStack');
    // The agent's own reader accepts it as written.
    expect(readAgentConfig(config).rolloutSignal).toEqual(config.rolloutSignal);
  });

  test('the instances may call cloudformation:SignalResource on this stack only, and nothing else of CloudFormation', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p: Json) => p.Properties.PolicyDocument.Statement,
    );
    const cfn = statements.filter((s: Json) => JSON.stringify(s.Action).includes('cloudformation:'));
    expect(cfn).toEqual([
      { Action: 'cloudformation:SignalResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
    ]);
    const [policyId] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([, p]) =>
      JSON.stringify(p).includes('cloudformation:SignalResource'),
    )!;
    expect(policyId).toMatch(/^EtcdInstanceRoleDefaultPolicy/);
    // The instances boot (and signal) only once that policy exists.
    expect(group.DependsOn).toEqual(expect.arrayContaining([policyId]));
  });
});

test('the logical id is resolved at synth: an overridden logical id reaches the agent config', () => {
  const app = new App();
  const stack = new Stack(app, 'Named', {
    env: { account: '123456789012', region: REGION },
    stackName: 'etcd-prod',
  });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
  const cluster = new EtcdCluster(stack, 'Etcd', {
    vpc,
    size: 5,
    rolloutSignalTimeout: Duration.seconds(90),
    machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
  });
  (cluster.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup).overrideLogicalId(
    'EtcdMembers',
  );
  const template = Template.fromStack(stack);
  const [logicalId, group] = groupOf(template);
  expect(logicalId).toBe('EtcdMembers');
  expect(agentConfigOf(template).rolloutSignal).toEqual({
    stackName: 'etcd-prod',
    logicalResourceId: 'EtcdMembers',
  });
  expect(group.CreationPolicy).toEqual({ ResourceSignal: { Count: 5, Timeout: 'PT1M30S' } });
  expect(group.UpdatePolicy.AutoScalingRollingUpdate).toMatchObject({
    MinInstancesInService: 4,
    PauseTime: 'PT1M30S',
  });
});

describe('rolloutSignalTimeout', () => {
  test.each([
    [
      Duration.seconds(59),
      /rolloutSignalTimeout: must be a whole number of seconds from 1 to 60 minutes .*\(got 59 s\)/,
    ],
    [Duration.minutes(61), /rolloutSignalTimeout: .*PauseTime.* at most PT1H.*\(got 3660 s\)/],
    [Duration.millis(60500), /rolloutSignalTimeout: must be a whole number of seconds .*\(got 60\.5 s\)/],
  ])('%s is refused, naming the prop', (timeout, message) => {
    expect(() => makeCluster({ rolloutSignalTimeout: timeout })).toThrow(message);
  });

  test.each([
    [Duration.minutes(1), 'PT1M'],
    [Duration.hours(1), 'PT1H'],
  ])('the bounds are accepted: %s → %s', (timeout, iso) => {
    const [, group] = groupOf(makeCluster({ rolloutSignalTimeout: timeout }).template);
    expect(group.CreationPolicy.ResourceSignal.Timeout).toBe(iso);
    expect(group.UpdatePolicy.AutoScalingRollingUpdate.PauseTime).toBe(iso);
  });

  test("a timeout shorter than the join agent's deadline (15 min) warns; the default does not", () => {
    const short = makeCluster({ rolloutSignalTimeout: Duration.minutes(10) });
    Annotations.fromStack(short.stack).hasWarning(
      '/TestStack/Etcd',
      Match.stringLikeRegexp(
        'rolloutSignalTimeout .600 s. is shorter.*deadline .900 s.*shortRolloutSignalTimeout',
      ),
    );
    for (const timeout of [undefined, Duration.minutes(15)]) {
      const ok = makeCluster(timeout ? { rolloutSignalTimeout: timeout } : {});
      Annotations.fromStack(ok.stack).hasNoWarning(
        '/TestStack/Etcd',
        Match.stringLikeRegexp('shortRolloutSignalTimeout'),
      );
    }
  });

  test('a token is refused with a clear error, not a crash', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: REGION } });
    const minutes = new CfnParameter(stack, 'Minutes', { type: 'Number' });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    expect(
      () =>
        new EtcdCluster(stack, 'Etcd', {
          vpc,
          rolloutSignalTimeout: Duration.minutes(minutes.valueAsNumber),
          machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
        }),
    ).toThrow(/rolloutSignalTimeout: must be known at synth time, not a token/);
  });
});
