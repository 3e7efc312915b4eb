/* Secrets Manager in the stand-in, called through the real SDK v3 client (SecretsAdapter). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsAdapter } from '../../lambda/adapters/secrets';
import { AwsStandIn } from '../../fleet/standin';
import { CREDENTIALS, newStandIn, REGION } from './helpers';

const HOST = '127.0.40.6';
let standIn: AwsStandIn;
let adapter: SecretsAdapter;

beforeAll(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  adapter = new SecretsAdapter(
    new SecretsManagerClient({
      region: REGION,
      endpoint: standIn.endpoint,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    }),
  );
});
afterAll(() => standIn.stop());

it('GetSecretValue by name and by ARN; PutSecretValue replaces the value and keeps the ARN', async () => {
  const arn = standIn.secrets.put('etcd/ca', '{"a":1}');
  expect(arn).toMatch(/^arn:aws:secretsmanager:local-1:000000000000:secret:etcd\/ca-[0-9a-f]{6}$/);
  expect(await adapter.getString('etcd/ca')).toBe('{"a":1}');
  expect(await adapter.getString(arn)).toBe('{"a":1}');
  await adapter.putString(arn, '{"a":2}');
  expect(await adapter.getString('etcd/ca')).toBe('{"a":2}');
  expect(standIn.secrets.put('etcd/ca', 'x')).toBe(arn);
});

it('an unknown secret is ResourceNotFoundException (tryGetString: undefined)', async () => {
  await expect(adapter.getString('nope')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  expect(await adapter.tryGetString('nope')).toBeUndefined();
  await expect(adapter.putString('nope', 'x')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
});

it('AutoScaling and EC2 on the same endpoint still answer', async () => {
  const seen: string[] = [];
  standIn.on('request', (r: { service: string; action: string }) => seen.push(`${r.service}:${r.action}`));
  await adapter.tryGetString('nope');
  expect(seen).toContain('secretsmanager:GetSecretValue');
  const res = await fetch(`${standIn.endpoint}/?Action=DescribeAutoScalingGroups&Version=2011-01-01`);
  expect(res.status).toBe(200);
});
