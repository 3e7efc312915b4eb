/*
 * The production context factory with TLS: the client identity is read from Secrets Manager (the stand-in,
 * real SDK client) only for events it acts on; a failed read is thrown so Lambda retries the event.
 */
import { handler, setContextFactory } from '../../lambda/lifecycle';
import { clearClientCredentialsCache } from '../../lambda/lifecycle/tls';
import { AwsStandIn } from '../../fleet/standin';
import { newStandIn, withEnv } from '../standin/helpers';

const HOST = '127.0.40.8';
let standIn: AwsStandIn;
const requests: string[] = [];

beforeAll(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  standIn.on('request', (r: { service: string; action: string }) =>
    requests.push(`${r.service}:${r.action}`),
  );
  setContextFactory(); // the production factory
});
afterAll(() => standIn.stop());
beforeEach(() => {
  requests.length = 0;
  clearClientCredentialsCache();
});

function env(secretId: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: standIn.endpoint,
    AWS_REGION: 'local-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    GROUP_NAME: 'etcd-standin-test',
    STRATEGY: 'replace',
    SCHEME: 'https',
    TLS_CLIENT_SECRET_ID: secretId,
  };
}

it('an event that is ignored reads no secret', async () => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const res = await withEnv(env('missing'), () => handler({ source: 'aws.ec2', detail: {} }));
    expect(res).toMatchObject({ ok: true, kind: 'invalid', outcome: 'ignored' });
  } finally {
    log.mockRestore();
  }
  expect(requests).toEqual([]);
});

it('an unreadable client identity fails the invocation (Lambda retries it) before any action', async () => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await expect(withEnv(env('missing'), () => handler({ kind: 'reconcile' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(JSON.parse(String(log.mock.calls[0][0]))).toMatchObject({
      level: 'ERROR',
      message: 'could not set up: the event may be retried',
    });
    standIn.secrets.put('bad', '{"ca":"x"}');
    await expect(withEnv(env('bad'), () => handler({ kind: 'reconcile' }))).rejects.toThrow(
      /ca must be a PEM string/,
    );
  } finally {
    log.mockRestore();
  }
  expect(requests).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:GetSecretValue']);
});
