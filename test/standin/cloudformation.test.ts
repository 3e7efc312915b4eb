/*
 * CloudFormation SignalResource on the stand-in, through the agent's real adapter (the SDK's awsQuery client):
 * accepted while the group waits for signals, refused with CloudFormation's ValidationError otherwise, and
 * a misaddressed signal refused before it is recorded.
 */
import { RolloutSignaller } from '../../lambda/adapters/cloudformation';
import { AwsStandIn, ResourceSignal } from '../../fleet/standin';
import { REGION, instanceId, newStandIn, withEnv } from './helpers';

const HOST = '127.0.40.9';
const TARGET = { stackName: 'etcd-fleet', logicalResourceId: 'GroupA1B2C3' };

let standIn: AwsStandIn;
const env = () => ({
  AWS_ENDPOINT_URL: standIn.endpoint,
  AWS_ACCESS_KEY_ID: 'fleet',
  AWS_SECRET_ACCESS_KEY: 'fleet',
  AWS_SESSION_TOKEN: undefined,
});

beforeEach(async () => {
  standIn = newStandIn(HOST, { signalTarget: TARGET });
  await standIn.start();
});
afterEach(async () => {
  await standIn?.stop();
});

test('a signal is accepted while the group waits for signals, and recorded with its instance and status', async () => {
  const seen: ResourceSignal[] = [];
  standIn.on('signal-resource', (s: ResourceSignal) => seen.push(s));
  standIn.signalBoard!.waiting = true;
  const a = instanceId();
  const b = instanceId();
  await withEnv(env(), async () => {
    const signaller = new RolloutSignaller(REGION, TARGET);
    await signaller.signal(a, 'SUCCESS');
    await signaller.signal(b, 'FAILURE');
  });
  expect(seen.map((s) => [s.uniqueId, s.status, s.accepted, s.stackName, s.logicalResourceId])).toEqual([
    [a, 'SUCCESS', true, TARGET.stackName, TARGET.logicalResourceId],
    [b, 'FAILURE', true, TARGET.stackName, TARGET.logicalResourceId],
  ]);
  expect(standIn.signalBoard!.signals).toEqual(seen);
});

test('outside a creation or rolling update the signal is refused with a ValidationError, and still recorded', async () => {
  const id = instanceId();
  await withEnv(env(), async () => {
    const err = await new RolloutSignaller(REGION, TARGET).signal(id, 'SUCCESS').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe('ValidationError');
    expect(err?.message).toBe(
      `Resource ${TARGET.logicalResourceId} is in UPDATE_COMPLETE state and cannot be signaled`,
    );
  });
  expect(standIn.signalBoard!.signals.map((s) => [s.uniqueId, s.accepted])).toEqual([[id, false]]);
});

test('a signal for another stack or resource is refused and not recorded', async () => {
  standIn.signalBoard!.waiting = true;
  await withEnv(env(), async () => {
    const wrongStack = await new RolloutSignaller(REGION, { ...TARGET, stackName: 'other' })
      .signal(instanceId(), 'SUCCESS')
      .catch((e: Error) => e);
    expect((wrongStack as Error).message).toBe('Stack with id other does not exist');
    const wrongResource = await new RolloutSignaller(REGION, { ...TARGET, logicalResourceId: 'Other' })
      .signal(instanceId(), 'SUCCESS')
      .catch((e: Error) => e);
    expect((wrongResource as Error).message).toBe(
      `Resource Other does not exist for stack ${TARGET.stackName}`,
    );
  });
  expect(standIn.signalBoard!.signals).toEqual([]);
});

test('a stand-in without a signal target does not know SignalResource', async () => {
  const plain = newStandIn('127.0.40.10');
  await plain.start();
  try {
    await withEnv({ ...env(), AWS_ENDPOINT_URL: plain.endpoint }, async () => {
      const err = await new RolloutSignaller(REGION, TARGET)
        .signal(instanceId(), 'SUCCESS')
        .catch((e: Error) => e);
      expect((err as Error).name).toBe('InvalidAction');
    });
  } finally {
    await plain.stop();
  }
});
