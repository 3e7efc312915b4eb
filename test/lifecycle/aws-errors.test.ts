/*
 * AWS error shapes the handler must survive, through aws-sdk-client-mock (the real SDK clients with their
 * send() stubbed). The etcd side is a small in-memory stand-in of the EtcdPort: these tests are about the AWS
 * answers; the decisions still come from the pure core, and the real-etcd behaviour is in handler.test.ts.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingGroupsCommandOutput,
  LifecycleState,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import type { MemberListResult } from '../../lambda/adapters/etcd';
import type { Member } from '../../lambda/core/types';
import { createContext, handler, setContextFactory } from '../../lambda/lifecycle';
import type { EtcdPort } from '../../lambda/lifecycle/context';
import { Logger } from '../../lambda/lifecycle/log';
import type { UnstartedStore } from '../../lambda/lifecycle/unstarted';

const GROUP = 'mock-group';
const TARGET = 'i-0aaaaaaaaaaaaaaa3';
const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
let lines: Record<string, unknown>[];
let etcd: FakeEtcd;
const savedEnv = { ...process.env };

const member = (n: number): Member => ({
  id: String(1000 + n),
  name: `i-0aaaaaaaaaaaaaaa${n}`,
  peerURLs: [`http://10.0.2.${n}:2380`],
  clientURLs: [`http://10.0.2.${n}:2379`],
  isLearner: false,
});

/** Members and health as data; remove() drops a member; withLock() runs fn after an optional delay. */
class FakeEtcd implements EtcdPort {
  members: Member[] = [1, 2, 3].map(member);
  health: Record<string, boolean> = { '1001': true, '1002': true, '1003': true };
  removedIds: string[] = [];
  lockDelayMs = 0;
  async memberList(endpoints: readonly string[]): Promise<MemberListResult | null> {
    return { members: [...this.members], clusterId: 'c1', leaderId: '1001', endpoint: endpoints[0] };
  }
  async healthOf(members: readonly Member[]): Promise<Record<string, boolean>> {
    return Object.fromEntries(members.map((m) => [m.id, this.health[m.id] === true]));
  }
  async remove(_endpoints: readonly string[], memberId: string): Promise<void> {
    this.members = this.members.filter((m) => m.id !== memberId);
    this.removedIds.push(memberId);
  }
  async withLock<T>(_e: readonly string[], _k: string, _t: number, fn: () => Promise<T>): Promise<T> {
    if (this.lockDelayMs) await new Promise((r) => setTimeout(r, this.lockDelayMs));
    return fn();
  }
  async isLocked(): Promise<boolean> {
    return false;
  }
}

/** No sizes, no alarms, no leader record: the reconcile's gauges stay off the (unreachable) member URLs. */
const noMaintenance = {
  statusOf: async () => ({}),
  alarms: async () => [],
  compact: async () => 0,
  defragment: async () => undefined,
  moveLeader: async () => undefined,
  disarmNospace: async () => undefined,
};
const noLeaderRecord = { load: async () => undefined, save: async () => undefined };

const noStore: UnstartedStore = {
  load: async () => ({}),
  markFirstSeen: async () => undefined,
  forget: async () => undefined,
};

function groupWith(ids: string[]): Omit<DescribeAutoScalingGroupsCommandOutput, '$metadata'> {
  return {
    AutoScalingGroups: [
      {
        AutoScalingGroupName: GROUP,
        MinSize: 0,
        MaxSize: 5,
        DesiredCapacity: 3,
        DefaultCooldown: 300,
        AvailabilityZones: ['x'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(),
        Instances: ids.map((id) => ({
          InstanceId: id,
          LifecycleState: (id === TARGET ? 'Terminating:Wait' : 'InService') as LifecycleState,
          AvailabilityZone: 'x',
          HealthStatus: 'Healthy',
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  };
}

function reservations(ids: string[]) {
  return {
    Reservations: [
      {
        Instances: ids.map((id) => ({ InstanceId: id, PrivateIpAddress: `10.0.2.${id.slice(-1)}` })),
      },
    ],
  };
}

function terminateEvent(detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: 'e-1',
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    detail: {
      LifecycleActionToken: 'tok-1',
      AutoScalingGroupName: GROUP,
      LifecycleHookName: 'terminate-hook',
      EC2InstanceId: TARGET,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...detail,
    },
  };
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

beforeEach(() => {
  asg.reset();
  ec2.reset();
  lines = [];
  etcd = new FakeEtcd();
  Object.assign(process.env, {
    AWS_REGION: 'local-1',
    AWS_ACCESS_KEY_ID: 'mock',
    AWS_SECRET_ACCESS_KEY: 'mock',
    GROUP_NAME: GROUP,
    STRATEGY: 'replace',
  });
  setContextFactory((env) =>
    createContext(env, {
      etcd,
      unstarted: noStore,
      maintenance: noMaintenance,
      leaderRecord: noLeaderRecord,
      log: new Logger({}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      heartbeatIntervalMs: 20,
      retryDelayMs: 1,
    }),
  );
  const all = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', TARGET];
  asg.on(DescribeAutoScalingGroupsCommand).resolves(groupWith(all));
  ec2.on(DescribeInstancesCommand).resolves(reservations(all));
  asg.on(CompleteLifecycleActionCommand).resolves({});
  asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
});

afterEach(() => {
  setContextFactory();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

afterAll(() => {
  asg.restore();
  ec2.restore();
});

test('CompleteLifecycleAction "No active Lifecycle Action found" is logged and swallowed', async () => {
  asg
    .on(CompleteLifecycleActionCommand)
    .rejects(awsError('ValidationError', `No active Lifecycle Action found with instance ID ${TARGET}`));
  const res = await handler(terminateEvent());
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: ['1003'] });
  expect(lines.some((l) => /no active lifecycle action/i.test(String(l.message)))).toBe(true);
  expect(asg.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
    AutoScalingGroupName: GROUP,
    LifecycleHookName: 'terminate-hook',
    InstanceId: TARGET,
    LifecycleActionToken: 'tok-1',
    LifecycleActionResult: 'CONTINUE',
  });
});

test('any other CompleteLifecycleAction error is logged and thrown (Lambda retries; the retry is idempotent)', async () => {
  asg.on(CompleteLifecycleActionCommand).rejects(awsError('AccessDenied', 'not authorized'));
  await expect(handler(terminateEvent())).rejects.toThrow(/not authorized/);
  expect(lines.some((l) => l.level === 'ERROR' && /handler failed/.test(String(l.message)))).toBe(true);

  // The retry: the member is gone now → absent → CONTINUE.
  asg.on(CompleteLifecycleActionCommand).resolves({});
  lines = [];
  const retry = await handler(terminateEvent());
  expect(retry).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(lines.filter((l) => l.message === 'decision').map((l) => l.decision)).toEqual(['absent']);
  expect(etcd.removedIds).toEqual(['1003']);
});

test('an instance already out of the group is located through DescribeInstances on its id', async () => {
  const others = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2'];
  asg.on(DescribeAutoScalingGroupsCommand).resolves(groupWith(others));
  ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: { Values?: string[] }[] }) => {
    const ids = input.Filters?.[0]?.Values ?? [];
    return reservations(ids);
  });
  const res = await handler(terminateEvent());
  expect(res).toMatchObject({ outcome: 'CONTINUE', removed: ['1003'] });
  const asked = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters?.[0]?.Values);
  expect(asked).toContainEqual([TARGET]);
});

test('unknown instance (EC2: InvalidInstanceID.NotFound) → CONTINUE, nothing removed', async () => {
  asg.on(DescribeAutoScalingGroupsCommand).resolves(groupWith(['i-0aaaaaaaaaaaaaaa1']));
  ec2
    .on(DescribeInstancesCommand)
    .resolves(reservations(['i-0aaaaaaaaaaaaaaa1']))
    .on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [TARGET] }] })
    .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${TARGET}' does not exist`));
  const res = await handler(terminateEvent());
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(etcd.removedIds).toEqual([]);
});

test('heartbeats are recorded while the handler waits, and stop once the action is completed', async () => {
  etcd.lockDelayMs = 150;
  const res = await handler(terminateEvent());
  expect(res).toMatchObject({ outcome: 'CONTINUE' });
  const beats = asg.commandCalls(RecordLifecycleActionHeartbeatCommand).length;
  expect(beats).toBeGreaterThanOrEqual(2);
  expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)[0].args[0].input).toMatchObject({
    AutoScalingGroupName: GROUP,
    InstanceId: TARGET,
    LifecycleActionToken: 'tok-1',
  });
  await new Promise((r) => setTimeout(r, 100));
  expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand).length).toBe(beats);
});

test('a failed removal is retried with back-off; the core decides again each round', async () => {
  let failures = 2;
  const remove = etcd.remove.bind(etcd);
  etcd.remove = async (e, id) => {
    if (failures-- > 0) throw new Error('etcdserver: unhealthy cluster');
    return remove(e, id);
  };
  const res = await handler(terminateEvent());
  expect(res).toMatchObject({ outcome: 'CONTINUE', removed: ['1003'] });
  expect(lines.filter((l) => /removal failed/.test(String(l.message)))).toHaveLength(2);
});

test('missing or invalid configuration: a clear error line, no AWS call, no throw', async () => {
  delete process.env.GROUP_NAME;
  process.env.SCHEME = 'ftp';
  setContextFactory();
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const res = await handler(terminateEvent());
    expect(res).toMatchObject({ ok: false, kind: 'config', outcome: 'ignored' });
    expect(res.reason).toMatch(/GROUP_NAME: required/);
    expect(res.reason).toMatch(/SCHEME: must be http or https/);
    const line = JSON.parse(String(log.mock.calls[0][0])) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'ERROR', message: 'configuration error: no action taken' });
  } finally {
    log.mockRestore();
  }
  expect(asg.calls()).toHaveLength(0);
  expect(ec2.calls()).toHaveLength(0);
});
