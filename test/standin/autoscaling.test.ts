/* The real AutoScaling SDK v3 client against the stand-in: every operation, error shapes, retries, AWS_ENDPOINT_URL. */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  paginateDescribeAutoScalingInstances,
} from '@aws-sdk/client-auto-scaling';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import {
  CREDENTIALS,
  GROUP,
  LAUNCH_HOOK,
  REGION,
  TERMINATE_HOOK,
  instance,
  newStandIn,
  rejection,
  withEnv,
} from './helpers';

const HOST = '127.0.40.1';

let standIn: AwsStandIn;
let client: AutoScalingClient;
let a: StandInInstance;
let b: StandInInstance;
let c: StandInInstance;

beforeEach(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  client = new AutoScalingClient({ region: REGION, endpoint: standIn.endpoint, credentials: CREDENTIALS });
  a = instance('127.0.40.11', 0);
  b = instance('127.0.40.12', 1, { lifecycleState: 'Pending:Wait' });
  c = instance('127.0.40.13', 2, { lifecycleState: 'Pending:Wait', launchToken: 'launch-token-c' });
  for (const i of [a, b, c]) await standIn.addInstance(i);
});

afterEach(async () => {
  client?.destroy();
  await standIn?.stop();
});

test('DescribeAutoScalingInstances: the instance, its group and its lifecycle state', async () => {
  const res = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [b.instanceId] }));
  expect(res.AutoScalingInstances).toEqual([
    expect.objectContaining({
      InstanceId: b.instanceId,
      AutoScalingGroupName: GROUP,
      AvailabilityZone: 'local-1b',
      LifecycleState: 'Pending:Wait',
      HealthStatus: 'HEALTHY',
      ProtectedFromScaleIn: false,
      LaunchTemplate: expect.objectContaining({ LaunchTemplateId: expect.stringMatching(/^lt-/) }),
    }),
  ]);
  const unknown = await client.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0000000000000000f'] }),
  );
  expect(unknown.AutoScalingInstances).toEqual([]);
  const all = await client.send(new DescribeAutoScalingInstancesCommand({}));
  expect(all.AutoScalingInstances?.map((i) => i.InstanceId)).toEqual([a, b, c].map((i) => i.instanceId));
});

test('DescribeAutoScalingInstances paginates with MaxRecords / NextToken', async () => {
  const ids: string[] = [];
  let pages = 0;
  for await (const page of paginateDescribeAutoScalingInstances({ client, pageSize: 2 }, {})) {
    pages++;
    ids.push(...(page.AutoScalingInstances ?? []).map((i) => i.InstanceId!));
  }
  expect(pages).toBe(2);
  expect(ids).toEqual([a, b, c].map((i) => i.instanceId));
});

test('DescribeAutoScalingGroups: capacity, sizes, ARN and the Instances list; unknown names give no group', async () => {
  const res = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }));
  expect(res.AutoScalingGroups).toHaveLength(1);
  const g = res.AutoScalingGroups![0];
  expect(g).toEqual(
    expect.objectContaining({
      AutoScalingGroupName: GROUP,
      AutoScalingGroupARN: expect.stringMatching(
        new RegExp(`^arn:aws:autoscaling:${REGION}:\\d{12}:autoScalingGroup:.*/${GROUP}$`),
      ),
      DesiredCapacity: 3,
      MinSize: 0,
      MaxSize: 20,
      CreatedTime: expect.any(Date),
      AvailabilityZones: ['local-1a', 'local-1b', 'local-1c'],
    }),
  );
  expect(g.Instances).toEqual([
    expect.objectContaining({
      InstanceId: a.instanceId,
      LifecycleState: 'InService',
      HealthStatus: 'Healthy',
      AvailabilityZone: 'local-1a',
      ProtectedFromScaleIn: false,
    }),
    expect.objectContaining({ InstanceId: b.instanceId, LifecycleState: 'Pending:Wait' }),
    expect.objectContaining({ InstanceId: c.instanceId, LifecycleState: 'Pending:Wait' }),
  ]);
  const none = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['other'] }));
  expect(none.AutoScalingGroups).toEqual([]);
  const all = await client.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1 }));
  expect(all.AutoScalingGroups?.map((x) => x.AutoScalingGroupName)).toEqual([GROUP]);
  expect(all.NextToken).toBeUndefined();
});

test('DescribeLifecycleHooks: both hooks, filtered by name; unknown group is a ValidationError', async () => {
  const res = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: GROUP }));
  expect(res.LifecycleHooks).toEqual([
    expect.objectContaining({
      LifecycleHookName: LAUNCH_HOOK,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      HeartbeatTimeout: 300,
      DefaultResult: 'ABANDON',
    }),
    expect.objectContaining({
      LifecycleHookName: TERMINATE_HOOK,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
    }),
  ]);
  const one = await client.send(
    new DescribeLifecycleHooksCommand({ AutoScalingGroupName: GROUP, LifecycleHookNames: [TERMINATE_HOOK] }),
  );
  expect(one.LifecycleHooks?.map((h) => h.LifecycleHookName)).toEqual([TERMINATE_HOOK]);
  const err = await rejection(
    client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'nope' })),
  );
  expect(err.name).toBe('ValidationError');
});

test('CompleteLifecycleAction by instance id: event, state, and a second completion finds no active action', async () => {
  const events: unknown[] = [];
  standIn.on('complete-lifecycle-action', (e) => events.push(e));
  const token = standIn.getInstance(b.instanceId)!.launchToken;
  expect(token).toMatch(/^[0-9a-f-]{36}$/); // generated for an instance added in Pending:Wait
  await client.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: LAUNCH_HOOK,
      InstanceId: b.instanceId,
      LifecycleActionResult: 'CONTINUE',
    }),
  );
  expect(events).toEqual([{ instanceId: b.instanceId, hookName: LAUNCH_HOOK, token, result: 'CONTINUE' }]);
  expect(standIn.getInstance(b.instanceId)).toEqual(
    expect.objectContaining({ lifecycleState: 'Pending:Proceed', launchToken: undefined }),
  );
  const err = await rejection(
    client.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: LAUNCH_HOOK,
        InstanceId: b.instanceId,
        LifecycleActionResult: 'CONTINUE',
      }),
    ),
  );
  expect(err.name).toBe('ValidationError');
  expect(err.message).toBe(`No active Lifecycle Action found with instance ID ${b.instanceId}`);
  expect(err.$metadata?.httpStatusCode).toBe(400);
  expect(events).toHaveLength(1);
});

test('CompleteLifecycleAction by token only, ABANDON; a wrong token or hook finds no active action', async () => {
  const events: Array<{ instanceId: string; result: string }> = [];
  standIn.on('complete-lifecycle-action', (e) => events.push(e));
  const wrong = await rejection(
    client.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: LAUNCH_HOOK,
        LifecycleActionToken: 'not-the-token',
        LifecycleActionResult: 'CONTINUE',
      }),
    ),
  );
  expect(wrong.message).toBe('No active Lifecycle Action found with token not-the-token');
  const wrongHook = await rejection(
    client.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: TERMINATE_HOOK,
        InstanceId: c.instanceId,
        LifecycleActionResult: 'CONTINUE',
      }),
    ),
  );
  expect(wrongHook.name).toBe('ValidationError');
  await client.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: LAUNCH_HOOK,
      LifecycleActionToken: 'launch-token-c',
      LifecycleActionResult: 'ABANDON',
    }),
  );
  expect(events).toEqual([
    expect.objectContaining({ instanceId: c.instanceId, result: 'ABANDON', token: 'launch-token-c' }),
  ]);
  expect(standIn.getInstance(c.instanceId)?.lifecycleState).toBe('Terminating');
});

test('terminate hook: Terminating:Wait with the driver token, heartbeat, then CONTINUE', async () => {
  standIn.setLifecycleState(a.instanceId, 'Terminating:Wait', 'term-token-a');
  const beats: unknown[] = [];
  const done: unknown[] = [];
  standIn.on('heartbeat', (e) => beats.push(e));
  standIn.on('complete-lifecycle-action', (e) => done.push(e));
  await client.send(
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: TERMINATE_HOOK,
      InstanceId: a.instanceId,
      LifecycleActionToken: 'term-token-a',
    }),
  );
  expect(beats).toEqual([{ instanceId: a.instanceId, hookName: TERMINATE_HOOK, token: 'term-token-a' }]);
  await client.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: TERMINATE_HOOK,
      InstanceId: a.instanceId,
      LifecycleActionToken: 'term-token-a',
      LifecycleActionResult: 'CONTINUE',
    }),
  );
  expect(done).toEqual([
    { instanceId: a.instanceId, hookName: TERMINATE_HOOK, token: 'term-token-a', result: 'CONTINUE' },
  ]);
  expect(standIn.getInstance(a.instanceId)?.lifecycleState).toBe('Terminating:Proceed');
  const late = await rejection(
    client.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: GROUP,
        LifecycleHookName: TERMINATE_HOOK,
        InstanceId: a.instanceId,
      }),
    ),
  );
  expect(late.name).toBe('ValidationError');
  expect(late.message).toMatch(/No active Lifecycle Action found/);
});

test('group name mismatch is a ValidationError for the lifecycle and capacity calls', async () => {
  for (const cmd of [
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: 'other',
      LifecycleHookName: LAUNCH_HOOK,
      InstanceId: b.instanceId,
      LifecycleActionResult: 'CONTINUE',
    }),
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: 'other',
      LifecycleHookName: LAUNCH_HOOK,
      InstanceId: b.instanceId,
    }),
    new SetDesiredCapacityCommand({ AutoScalingGroupName: 'other', DesiredCapacity: 1 }),
  ]) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const err = await rejection(client.send(cmd as any));
    expect(err.name).toBe('ValidationError');
    expect(err.message).toMatch(/AutoScalingGroup name not found/);
  }
  expect(standIn.getInstance(b.instanceId)?.lifecycleState).toBe('Pending:Wait');
});

test('SetDesiredCapacity sets the group, emits, and refuses values outside min..max', async () => {
  const events: unknown[] = [];
  standIn.on('set-desired-capacity', (e) => events.push(e));
  await client.send(
    new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 5, HonorCooldown: false }),
  );
  expect(standIn.group.desiredCapacity).toBe(5);
  expect(events).toEqual([{ desired: 5 }]);
  const err = await rejection(
    client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 21 })),
  );
  expect(err.name).toBe('ValidationError');
  expect(err.message).toMatch(/above max value 20/);
  expect(standIn.group.desiredCapacity).toBe(5);
});

test('TerminateInstanceInAutoScalingGroup: activity, decrement, event; unknown instance is a ValidationError', async () => {
  const events: unknown[] = [];
  standIn.on('terminate-instance', (e) => events.push(e));
  const res = await client.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: a.instanceId,
      ShouldDecrementDesiredCapacity: true,
    }),
  );
  expect(res.Activity).toEqual(
    expect.objectContaining({
      AutoScalingGroupName: GROUP,
      StatusCode: 'InProgress',
      StartTime: expect.any(Date),
      Progress: 0,
    }),
  );
  expect(standIn.group.desiredCapacity).toBe(2);
  await client.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: b.instanceId,
      ShouldDecrementDesiredCapacity: false,
    }),
  );
  expect(standIn.group.desiredCapacity).toBe(2);
  expect(events).toEqual([
    { instanceId: a.instanceId, decrement: true },
    { instanceId: b.instanceId, decrement: false },
  ]);
  const err = await rejection(
    client.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: 'i-0000000000000000f',
        ShouldDecrementDesiredCapacity: false,
      }),
    ),
  );
  expect(err.name).toBe('ValidationError');
});

test('Throttling and ServiceUnavailable are retried by the SDK, then the call succeeds', async () => {
  const requests: Array<{ action: string; fault?: string }> = [];
  standIn.on('request', (r) => requests.push(r));
  standIn.faults.throttle = 1;
  standIn.faults.unavailable = 1;
  const res = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }));
  expect(res.AutoScalingGroups).toHaveLength(1);
  expect(requests.map((r) => r.fault)).toEqual(['throttle', 'unavailable', undefined]);
  expect(res.$metadata.attempts).toBe(3);
  standIn.faults.throttle = 5;
  const noRetry = new AutoScalingClient({
    region: REGION,
    endpoint: standIn.endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    const err = await rejection(noRetry.send(new DescribeAutoScalingGroupsCommand({})));
    expect(err.name).toBe('Throttling');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  } finally {
    noRetry.destroy();
  }
});

test('AWS_ENDPOINT_URL routes a client built without an endpoint to the stand-in (signed with the given keys)', async () => {
  const requests: Array<{ service: string; action: string; accessKeyId?: string }> = [];
  standIn.on('request', (r) => requests.push(r));
  await withEnv(
    { AWS_ENDPOINT_URL: standIn.endpoint, AWS_ENDPOINT_URL_AUTO_SCALING: undefined },
    async () => {
      const envClient = new AutoScalingClient({ region: REGION, credentials: CREDENTIALS });
      try {
        const res = await envClient.send(
          new DescribeAutoScalingInstancesCommand({ InstanceIds: [a.instanceId] }),
        );
        expect(res.AutoScalingInstances?.[0]?.AutoScalingGroupName).toBe(GROUP);
      } finally {
        envClient.destroy();
      }
    },
  );
  expect(requests).toEqual([
    { service: 'autoscaling', action: 'DescribeAutoScalingInstances', accessKeyId: CREDENTIALS.accessKeyId },
  ]);
});
