/*
 * The TLS material custom resource against the stand-in's Secrets Manager (real SDK client) and a local
 * HTTP server standing in for the pre-signed response URL.
 */
import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as http from 'http';
import * as path from 'path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsAdapter } from '../../lambda/adapters/secrets';
import { CustomResourceEvent, handler, setSecretsFactory } from '../../lambda/ca';
import { parseCaSecret, parseClientIdentitySecret } from '../../lambda/certs/policy';
import { generateCa, issueClientIdentity } from '../../lambda/certs/x509';
import { AwsStandIn } from '../../fleet/standin';
import { CA_BUNDLE_DIR } from '../../lib/assets';
import { CREDENTIALS, newStandIn, REGION } from '../standin/helpers';

const HOST = '127.0.40.7';
let standIn: AwsStandIn;
let server: http.Server;
let responses: { headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
let responseUrl = '';

beforeAll(async () => {
  standIn = newStandIn(HOST);
  await standIn.start();
  const adapter = new SecretsAdapter(
    new SecretsManagerClient({
      region: REGION,
      endpoint: standIn.endpoint,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    }),
  );
  setSecretsFactory(() => adapter);
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      responses.push({ headers: req.headers, body: JSON.parse(body) });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  responseUrl = `http://${HOST}:${(server.address() as { port: number }).port}/response?X-Amz-Signature=x`;
});
afterAll(async () => {
  setSecretsFactory();
  await standIn.stop();
  await new Promise((r) => server.close(r));
});
beforeEach(() => (responses = []));

function event(
  type: CustomResourceEvent['RequestType'],
  props: Record<string, unknown>,
): CustomResourceEvent {
  return {
    RequestType: type,
    ResponseURL: responseUrl,
    StackId: 'arn:aws:cloudformation:local-1:000000000000:stack/s/1',
    RequestId: crypto.randomUUID(),
    LogicalResourceId: 'TlsMaterial',
    PhysicalResourceId: type === 'Create' ? undefined : 'TlsMaterial-tls-material',
    ResourceProperties: props,
  };
}

it('Create generates the CA and a client identity from it; Update keeps both; Delete changes nothing', async () => {
  const caArn = standIn.secrets.put('gen/ca', 'initial random password');
  const clientArn = standIn.secrets.put('gen/client', 'initial random password');
  const props = { CaSecretId: caArn, ClientSecretId: clientArn, GenerateCa: 'true', ServiceToken: 'x' };
  await handler(event('Create', props));
  expect(responses).toHaveLength(1);
  expect(responses[0].headers['content-type']).toBe('');
  expect(responses[0].body).toMatchObject({
    Status: 'SUCCESS',
    PhysicalResourceId: 'TlsMaterial-tls-material',
  });
  const data = responses[0].body.Data as Record<string, string>;
  expect(Object.keys(data).sort()).toEqual(['CaNotAfter', 'ClientNotAfter']); // no secret material
  const adapter = new SecretsAdapter(
    new SecretsManagerClient({ region: REGION, endpoint: standIn.endpoint, credentials: CREDENTIALS }),
  );
  const ca = parseCaSecret(await adapter.getString(caArn));
  const client = parseClientIdentitySecret(await adapter.getString(clientArn));
  expect(client.ca).toBe(ca.caCert);
  expect(
    new crypto.X509Certificate(client.cert).verify(new crypto.X509Certificate(ca.caCert).publicKey),
  ).toBe(true);

  await handler(event('Update', props));
  expect(responses[1].body).toMatchObject({ Status: 'SUCCESS', Reason: 'valid client identity kept' });
  expect(await adapter.getString(caArn)).toBe(JSON.stringify(ca));
  expect(parseClientIdentitySecret(await adapter.getString(clientArn)).cert).toBe(client.cert);

  await handler(event('Delete', props));
  expect(responses[2].body).toMatchObject({ Status: 'SUCCESS' });
  expect(await adapter.getString(caArn)).toBe(JSON.stringify(ca));
});

it('a brought CA is used as is; a client identity from another CA is re-issued; a bad brought CA fails the resource', async () => {
  const brought = await generateCa();
  const caArn = standIn.secrets.put('byo/ca', JSON.stringify(brought));
  const stale = await issueClientIdentity(await generateCa());
  const clientArn = standIn.secrets.put('byo/client', JSON.stringify(stale));
  const props = { CaSecretId: caArn, ClientSecretId: clientArn, GenerateCa: 'false' };
  await handler(event('Create', props));
  expect(responses[0].body).toMatchObject({
    Status: 'SUCCESS',
    Reason: 'client identity is from another CA',
  });
  const adapter = new SecretsAdapter(
    new SecretsManagerClient({ region: REGION, endpoint: standIn.endpoint, credentials: CREDENTIALS }),
  );
  expect(await adapter.getString(caArn)).toBe(JSON.stringify(brought));
  const client = parseClientIdentitySecret(await adapter.getString(clientArn));
  expect(client.ca).toBe(brought.caCert);
  expect(client.cert).not.toBe(stale.cert);

  const badArn = standIn.secrets.put('byo/bad', '{"caCert":"not pem"}');
  await handler(event('Create', { ...props, CaSecretId: badArn }));
  expect(responses[1].body).toMatchObject({ Status: 'FAILED' });
  expect(String(responses[1].body.Reason)).toMatch(/must hold JSON \{"caCert": PEM/);

  await handler(event('Create', { CaSecretId: caArn }));
  expect(responses[2].body).toMatchObject({ Status: 'FAILED' });
  expect(String(responses[2].body.Reason)).toMatch(/ClientSecretId: required; GenerateCa: must be/);
});

it('the bundle the construct deploys (build/ca/index.js) runs a Create with its own SDK client against the stand-in', async () => {
  // In a plain Node process, as Lambda runs it (the SDK's lazy imports do not run inside jest's VM).
  const caArn = standIn.secrets.put('bundle/ca', 'initial');
  const clientArn = standIn.secrets.put('bundle/client', 'initial');
  const ev = event('Create', { CaSecretId: caArn, ClientSecretId: clientArn, GenerateCa: 'true' });
  const script = `require(${JSON.stringify(path.join(CA_BUNDLE_DIR, 'index.js'))}).handler(JSON.parse(process.argv[1])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const code = await new Promise<number>((resolve) => {
    const child = execFile(
      process.execPath,
      ['-e', script, JSON.stringify(ev)],
      {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '',
          AWS_ENDPOINT_URL: standIn.endpoint,
          AWS_REGION: REGION,
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        },
      },
      (err) => resolve(err ? 1 : 0),
    );
    child.stdout?.resume();
  });
  expect(code).toBe(0);
  expect(responses[0].body).toMatchObject({ Status: 'SUCCESS', Reason: 'no client identity' });
  const adapter = new SecretsAdapter(
    new SecretsManagerClient({ region: REGION, endpoint: standIn.endpoint, credentials: CREDENTIALS }),
  );
  const ca = parseCaSecret(await adapter.getString(caArn));
  expect(parseClientIdentitySecret(await adapter.getString(clientArn)).ca).toBe(ca.caCert);
});
