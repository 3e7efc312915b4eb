/* EC2 RebootInstances on the stand-in, through the real SDK client and the FleetAdapter (the restore trigger's call). */
import { EC2Client, RebootInstancesCommand } from '@aws-sdk/client-ec2';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { FleetAdapter } from '../../lambda/adapters/aws';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { CREDENTIALS, REGION, instance, newStandIn } from './helpers';

const HOST = '127.0.41.2';

let standIn: AwsStandIn;
let ec2: EC2Client;
let autoscaling: AutoScalingClient;
let fleet: StandInInstance[];

beforeEach(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  ec2 = new EC2Client({
    region: REGION,
    endpoint: standIn.endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  autoscaling = new AutoScalingClient({
    region: REGION,
    endpoint: standIn.endpoint,
    credentials: CREDENTIALS,
  });
  fleet = [];
  for (let n = 0; n < 3; n++) {
    const inst = instance(`127.0.41.${50 + n}`, n);
    fleet.push(inst);
    await standIn.addInstance(inst);
  }
});

afterEach(async () => {
  ec2?.destroy();
  autoscaling?.destroy();
  await standIn?.stop();
});

test('FleetAdapter.rebootInstances: one request, the stand-in reports exactly those ids', async () => {
  const events: Array<{ instanceIds: string[] }> = [];
  standIn.on('reboot-instances', (e: { instanceIds: string[] }) => events.push(e));
  const adapter = new FleetAdapter({ ec2, autoscaling });
  await adapter.rebootInstances([fleet[0].instanceId, fleet[2].instanceId]);
  expect(events).toEqual([{ instanceIds: [fleet[0].instanceId, fleet[2].instanceId] }]);
  await adapter.rebootInstances([]); // nothing to reboot: no request
  expect(events).toHaveLength(1);
});

test('an id that is not a live instance of the group: InvalidInstanceID.NotFound, nothing rebooted', async () => {
  const events: unknown[] = [];
  standIn.on('reboot-instances', (e) => events.push(e));
  const err = await ec2
    .send(new RebootInstancesCommand({ InstanceIds: [fleet[0].instanceId, 'i-0123456789abcdef0'] }))
    .catch((e: Error) => e);
  expect((err as Error).name).toBe('InvalidInstanceID.NotFound');
  expect((err as Error).message).toMatch(/i-0123456789abcdef0/);
  expect(events).toEqual([]);
});

test('a malformed id: InvalidInstanceID.Malformed', async () => {
  const err = await ec2.send(new RebootInstancesCommand({ InstanceIds: ['bogus'] })).catch((e: Error) => e);
  expect((err as Error).name).toBe('InvalidInstanceID.Malformed');
});

test('FleetAdapter.terminateInstances: one request, a retained instance included; an unknown id is refused', async () => {
  const events: Array<{ instanceIds: string[] }> = [];
  standIn.on('terminate-instances', (e: { instanceIds: string[] }) => events.push(e));
  standIn.setLifecycleState(fleet[1].instanceId, 'Terminating:Retained');
  const adapter = new FleetAdapter({ ec2, autoscaling });
  await adapter.terminateInstances([fleet[1].instanceId]);
  expect(events).toEqual([{ instanceIds: [fleet[1].instanceId] }]);
  await adapter.terminateInstances([]); // nothing to terminate: no request
  const err = await adapter.terminateInstances(['i-0123456789abcdef0']).catch((e: Error) => e);
  expect((err as Error).name).toBe('InvalidInstanceID.NotFound');
  expect(events).toHaveLength(1);
});
