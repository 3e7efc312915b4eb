/* The real EC2 SDK v3 client against the stand-in: DescribeInstances by ids and filters, pagination, errors, retries. */
import { DescribeInstancesCommand, EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { CREDENTIALS, GROUP, REGION, instance, newStandIn, rejection, withEnv } from './helpers';

const HOST = '127.0.40.2';

let standIn: AwsStandIn;
let client: EC2Client;
let fleet: StandInInstance[];

beforeEach(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  client = new EC2Client({ region: REGION, endpoint: standIn.endpoint, credentials: CREDENTIALS });
  fleet = [];
  for (let n = 0; n < 12; n++) {
    const inst = instance(`127.0.40.${50 + n}`, n);
    fleet.push(inst);
    await standIn.addInstance(inst);
  }
});

afterEach(async () => {
  client?.destroy();
  await standIn?.stop();
});

test('paginateDescribeInstances with MaxResults 5 over 12 instances: pages of 5, 5, 2 and every instance once', async () => {
  const requests: unknown[] = [];
  standIn.on('request', (r) => requests.push(r));
  const sizes: number[] = [];
  const ids: string[] = [];
  for await (const page of paginateDescribeInstances({ client, pageSize: 5 }, {})) {
    const instances = (page.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    sizes.push(instances.length);
    ids.push(...instances.map((i) => i.InstanceId!));
  }
  expect(sizes).toEqual([5, 5, 2]);
  expect(ids).toEqual(fleet.map((i) => i.instanceId));
  expect(requests).toHaveLength(3);
  expect(requests[0]).toEqual(expect.objectContaining({ service: 'ec2', action: 'DescribeInstances' }));
});

test('an instance as the SDK reads it: id, private IP, state, placement, launch time, group tag', async () => {
  const res = await client.send(new DescribeInstancesCommand({ InstanceIds: [fleet[3].instanceId] }));
  expect(res.Reservations).toHaveLength(1);
  expect(res.Reservations![0].ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
  const i = res.Reservations![0].Instances![0];
  expect(i).toEqual(
    expect.objectContaining({
      InstanceId: fleet[3].instanceId,
      PrivateIpAddress: '127.0.40.53',
      State: { Code: 16, Name: 'running' },
      Placement: expect.objectContaining({ AvailabilityZone: 'local-1a' }),
      LaunchTime: fleet[3].launchTime,
      Tags: [{ Key: 'aws:autoscaling:groupName', Value: GROUP }],
    }),
  );
  expect(res.NextToken).toBeUndefined();
});

test('filters: instance-id, private-ip-address (wildcards), group tag, instance-state-name; several filters AND', async () => {
  const ids = async (Filters: Array<{ Name: string; Values: string[] }>) => {
    const out: string[] = [];
    for await (const page of paginateDescribeInstances({ client, pageSize: 5 }, { Filters })) {
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []).map((i) => i.InstanceId!));
    }
    return out;
  };
  const pick = (...n: number[]) => n.map((k) => fleet[k].instanceId);
  expect(await ids([{ Name: 'instance-id', Values: pick(7, 2) }])).toEqual(pick(2, 7));
  expect(await ids([{ Name: 'private-ip-address', Values: ['127.0.40.55'] }])).toEqual(pick(5));
  expect(await ids([{ Name: 'private-ip-address', Values: ['127.0.40.6?'] }])).toEqual(pick(10, 11));
  expect(await ids([{ Name: 'tag:aws:autoscaling:groupName', Values: [GROUP] }])).toEqual(
    pick(...fleet.keys()),
  );
  expect(await ids([{ Name: 'tag:aws:autoscaling:groupName', Values: ['other-*'] }])).toEqual([]);
  expect(
    await ids([
      { Name: 'instance-state-name', Values: ['running', 'pending'] },
      { Name: 'instance-id', Values: pick(0, 1) },
    ]),
  ).toEqual(pick(0, 1));
  const err = await rejection(
    client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
  );
  expect(err.name).toBe('InvalidParameterValue');
});

test('a removed instance is reported terminated, without a private IP, and drops out of IP lookups', async () => {
  await standIn.removeInstance(fleet[0].instanceId);
  const res = await client.send(new DescribeInstancesCommand({ InstanceIds: [fleet[0].instanceId] }));
  const i = res.Reservations![0].Instances![0];
  expect(i.State).toEqual({ Code: 48, Name: 'terminated' });
  expect(i.PrivateIpAddress).toBeUndefined();
  const byIp = await client.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'private-ip-address', Values: ['127.0.40.50'] }] }),
  );
  expect(byIp.Reservations).toEqual([]);
  const running = await client.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }),
  );
  expect(running.Reservations).toHaveLength(11);
});

test('error shapes: unknown id, malformed id, MaxResults with InstanceIds, MaxResults below 5', async () => {
  const notFound = await rejection(
    client.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000000000000000f'] })),
  );
  expect(notFound.name).toBe('InvalidInstanceID.NotFound');
  expect(notFound.message).toBe("The instance ID 'i-0000000000000000f' does not exist");
  expect(notFound.$metadata?.httpStatusCode).toBe(400);
  const malformed = await rejection(client.send(new DescribeInstancesCommand({ InstanceIds: ['nope'] })));
  expect(malformed.name).toBe('InvalidInstanceID.Malformed');
  const combo = await rejection(
    client.send(new DescribeInstancesCommand({ InstanceIds: [fleet[0].instanceId], MaxResults: 5 })),
  );
  expect(combo.name).toBe('InvalidParameterCombination');
  const small = await rejection(client.send(new DescribeInstancesCommand({ MaxResults: 4 })));
  expect(small.name).toBe('InvalidParameterValue');
});

test('RequestLimitExceeded and Unavailable are retried by the SDK, then the call succeeds', async () => {
  standIn.faults.throttle = 1;
  standIn.faults.unavailable = 1;
  const res = await client.send(new DescribeInstancesCommand({ InstanceIds: [fleet[1].instanceId] }));
  expect(res.Reservations).toHaveLength(1);
  expect(res.$metadata.attempts).toBe(3);
  standIn.faults.throttle = 1;
  const once = new EC2Client({
    region: REGION,
    endpoint: standIn.endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    const err = await rejection(once.send(new DescribeInstancesCommand({})));
    expect(err.name).toBe('RequestLimitExceeded');
  } finally {
    once.destroy();
  }
});

test('AWS_ENDPOINT_URL routes an EC2 client built without an endpoint to the stand-in', async () => {
  await withEnv({ AWS_ENDPOINT_URL: standIn.endpoint, AWS_ENDPOINT_URL_EC2: undefined }, async () => {
    const envClient = new EC2Client({ region: REGION, credentials: CREDENTIALS });
    try {
      const res = await envClient.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [fleet[4].instanceId] }] }),
      );
      expect(res.Reservations?.[0]?.Instances?.[0]?.PrivateIpAddress).toBe('127.0.40.54');
    } finally {
      envClient.destroy();
    }
  });
});
