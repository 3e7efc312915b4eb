/*
 * Each instance's metadata service: the IMDSv2 token flow with plain fetch, the SDK's instance-metadata
 * credential provider, and the SDK default credential chain signing real AutoScaling calls with IMDS credentials.
 */
import * as os from 'os';
import * as path from 'path';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { GROUP, REGION, instance, newStandIn, withEnv } from './helpers';

const HOST = '127.0.40.3';
const IMDS_PORT = 40169;

let standIn: AwsStandIn;
let x: StandInInstance;
let y: StandInInstance;

beforeEach(async () => {
  standIn = newStandIn(HOST, { imdsPort: IMDS_PORT });
  await standIn.start();
  x = instance('127.0.40.100', 0);
  y = instance('127.0.40.101', 1, { lifecycleState: 'Pending:Wait' });
  await standIn.addInstance(x);
  await standIn.addInstance(y);
});

afterEach(async () => {
  await standIn?.stop();
});

async function token(endpoint: string, ttl = '60'): Promise<string> {
  const res = await fetch(`${endpoint}/latest/api/token`, {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': ttl },
  });
  expect(res.status).toBe(200);
  return res.text();
}

async function get(endpoint: string, p: string, tok?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${endpoint}${p}`, { headers: tok ? { 'X-aws-ec2-metadata-token': tok } : {} });
  return { status: res.status, text: await res.text() };
}

test('each instance has its own metadata service on privateIp:imdsPort', () => {
  expect(standIn.metadataEndpointFor(x.instanceId)).toBe(`http://127.0.40.100:${IMDS_PORT}`);
  expect(standIn.metadataEndpointFor(y.instanceId)).toBe(`http://127.0.40.101:${IMDS_PORT}`);
});

test('IMDSv2 with plain fetch: token, then identity paths; 401 without or with a bad token', async () => {
  const ep = standIn.metadataEndpointFor(x.instanceId);
  expect((await get(ep, '/latest/meta-data/instance-id')).status).toBe(401);
  expect((await get(ep, '/latest/meta-data/instance-id', 'bogus')).status).toBe(401);
  const tok = await token(ep);
  expect(await get(ep, '/latest/meta-data/instance-id', tok)).toEqual({ status: 200, text: x.instanceId });
  expect((await get(ep, '/latest/meta-data/local-ipv4', tok)).text).toBe('127.0.40.100');
  expect((await get(ep, '/latest/meta-data/placement/availability-zone', tok)).text).toBe('local-1a');
  expect((await get(ep, '/latest/meta-data/placement/region', tok)).text).toBe(REGION);
  const doc = JSON.parse((await get(ep, '/latest/dynamic/instance-identity/document', tok)).text);
  expect(doc).toEqual(
    expect.objectContaining({
      instanceId: x.instanceId,
      privateIp: '127.0.40.100',
      region: REGION,
      availabilityZone: 'local-1a',
      accountId: expect.stringMatching(/^\d{12}$/),
    }),
  );
  expect((await get(ep, '/latest/meta-data/no-such-thing', tok)).status).toBe(404);
  // The other instance answers with its own identity, and a token of one instance is no good on the other.
  const ep2 = standIn.metadataEndpointFor(y.instanceId);
  expect((await get(ep2, '/latest/meta-data/instance-id', tok)).status).toBe(401);
  expect((await get(ep2, '/latest/meta-data/instance-id', await token(ep2))).text).toBe(y.instanceId);
});

test('token TTL must be 1..21600; a token expires after its TTL', async () => {
  const ep = standIn.metadataEndpointFor(x.instanceId);
  for (const ttl of [undefined, '0', '21601', 'abc']) {
    const res = await fetch(`${ep}/latest/api/token`, {
      method: 'PUT',
      headers: ttl === undefined ? {} : { 'X-aws-ec2-metadata-token-ttl-seconds': ttl },
    });
    expect(res.status).toBe(400);
  }
  const tok = await token(ep, '1');
  expect((await get(ep, '/latest/meta-data/instance-id', tok)).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1100));
  expect((await get(ep, '/latest/meta-data/instance-id', tok)).status).toBe(401);
});

test('role credentials: the role name, then JSON credentials expiring in the future', async () => {
  const ep = standIn.metadataEndpointFor(x.instanceId);
  const tok = await token(ep);
  const role = (await get(ep, '/latest/meta-data/iam/security-credentials/', tok)).text;
  expect(role).toBe('etcd-fleet-instance-role');
  const creds = JSON.parse((await get(ep, `/latest/meta-data/iam/security-credentials/${role}`, tok)).text);
  expect(creds).toEqual({
    Code: 'Success',
    LastUpdated: expect.any(String),
    Type: 'AWS-HMAC',
    AccessKeyId: expect.stringMatching(/^ASIA[0-9A-F]{16}$/),
    SecretAccessKey: expect.any(String),
    Token: expect.any(String),
    Expiration: expect.any(String),
  });
  expect(new Date(creds.Expiration).getTime()).toBeGreaterThan(Date.now() + 3600_000);
});

test('imdsDown: the instance refuses metadata with 500 until it is taken out of the set', async () => {
  const ep = standIn.metadataEndpointFor(x.instanceId);
  const tok = await token(ep);
  standIn.faults.imdsDown.add(x.instanceId);
  expect((await get(ep, '/latest/meta-data/instance-id', tok)).status).toBe(500);
  const put = await fetch(`${ep}/latest/api/token`, {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
  });
  expect(put.status).toBe(500);
  standIn.faults.imdsDown.delete(x.instanceId);
  expect((await get(ep, '/latest/meta-data/instance-id', tok)).status).toBe(200);
});

test('removeInstance closes the metadata listener', async () => {
  const ep = standIn.metadataEndpointFor(x.instanceId);
  await token(ep);
  await standIn.removeInstance(x.instanceId);
  await expect(fetch(`${ep}/latest/api/token`, { method: 'PUT' })).rejects.toThrow();
  expect(standIn.getInstance(x.instanceId)).toBeUndefined();
  expect(() => standIn.metadataEndpointFor(x.instanceId)).toThrow(/no instance/);
});

test("the SDK's fromInstanceMetadata reads credentials through AWS_EC2_METADATA_SERVICE_ENDPOINT", async () => {
  await withEnv(
    { AWS_EC2_METADATA_SERVICE_ENDPOINT: standIn.metadataEndpointFor(y.instanceId) },
    async () => {
      const creds = await fromInstanceMetadata({ timeout: 2000 })();
      expect(creds.accessKeyId).toMatch(/^ASIA/);
      expect(creds.sessionToken).toBeTruthy();
      expect(creds.expiration!.getTime()).toBeGreaterThan(Date.now());
    },
  );
});

test('the default credential chain signs real AutoScaling calls with IMDS credentials when no keys are set', async () => {
  const requests: Array<{ accessKeyId?: string }> = [];
  standIn.on('request', (r) => requests.push(r));
  const none = path.join(os.tmpdir(), 'standin-no-such-aws-config');
  await withEnv(
    {
      AWS_ENDPOINT_URL: standIn.endpoint,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: standIn.metadataEndpointFor(x.instanceId),
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_EC2_METADATA_DISABLED: undefined,
      AWS_SHARED_CREDENTIALS_FILE: none,
      AWS_CONFIG_FILE: none,
    },
    async () => {
      const client = new AutoScalingClient({ region: REGION });
      try {
        const res = await client.send(
          new DescribeAutoScalingInstancesCommand({ InstanceIds: [x.instanceId] }),
        );
        expect(res.AutoScalingInstances?.[0]?.AutoScalingGroupName).toBe(GROUP);
      } finally {
        client.destroy();
      }
    },
  );
  expect(requests).toHaveLength(1);
  expect(requests[0].accessKeyId).toMatch(/^ASIA[0-9A-F]{16}$/);
});
