/* The project's own AWS adapters (lambda/adapters/aws.ts) run their real SDK code against the stand-in. */
import {
  FleetAdapter,
  InstanceMetadata,
  createAwsClients,
  isNoActiveLifecycleAction,
} from '../../lambda/adapters/aws';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { GROUP, LAUNCH_HOOK, REGION, instance, newStandIn, withEnv } from './helpers';

const HOST = '127.0.40.4';

let standIn: AwsStandIn;
let members: StandInInstance[];

beforeEach(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  members = [];
  for (let n = 0; n < 3; n++) {
    const inst = instance(`127.0.40.${150 + n}`, n, n === 2 ? { lifecycleState: 'Pending:Wait' } : {});
    members.push(inst);
    await standIn.addInstance(inst);
  }
});

afterEach(async () => {
  await standIn?.stop();
});

test('identity from IMDS, group from DescribeAutoScalingInstances, IPs from EC2, launch completion', async () => {
  const joining = members[2];
  await withEnv(
    {
      AWS_ENDPOINT_URL: standIn.endpoint,
      AWS_ACCESS_KEY_ID: 'fleet',
      AWS_SECRET_ACCESS_KEY: 'fleet',
      AWS_SESSION_TOKEN: undefined,
    },
    async () => {
      const identity = await new InstanceMetadata(standIn.metadataEndpointFor(joining.instanceId)).identity();
      expect(identity).toEqual({
        instanceId: joining.instanceId,
        privateIp: joining.privateIp,
        region: REGION,
        availabilityZone: joining.availabilityZone,
      });
      const clients = createAwsClients(identity.region);
      try {
        const fleet = new FleetAdapter(clients);
        expect(await fleet.groupOf(identity.instanceId)).toBe(GROUP);
        const view = await fleet.describeGroup(GROUP);
        expect(view.desiredCapacity).toBe(3);
        expect(view.instances).toEqual(
          members.map((m) => ({
            instanceId: m.instanceId,
            privateIp: m.privateIp,
            lifecycleState: m.lifecycleState,
          })),
        );
        const events: unknown[] = [];
        standIn.on('complete-lifecycle-action', (e) => events.push(e));
        await fleet.heartbeat(GROUP, LAUNCH_HOOK, joining.instanceId);
        await fleet.completeLifecycleAction(GROUP, LAUNCH_HOOK, joining.instanceId, 'CONTINUE');
        expect(events).toEqual([
          expect.objectContaining({ instanceId: joining.instanceId, result: 'CONTINUE' }),
        ]);
        const again = await fleet
          .completeLifecycleAction(GROUP, LAUNCH_HOOK, joining.instanceId, 'CONTINUE')
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(isNoActiveLifecycleAction(again)).toBe(true);
      } finally {
        clients.autoscaling.destroy();
        clients.ec2.destroy();
      }
    },
  );
});

test('stop() while an instance is being added leaves no listener open', async () => {
  const own = newStandIn('127.0.40.5', { imdsPort: 40170 });
  await own.start();
  try {
    const adding = own.addInstance(instance('127.0.40.161', 9));
    await own.stop();
    await adding;
    await expect(fetch('http://127.0.40.161:40170/latest/api/token', { method: 'PUT' })).rejects.toThrow();
  } finally {
    await own.stop(); // cleanup when the check failed: closes whatever is still open
  }
});
