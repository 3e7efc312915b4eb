/*
 * InstanceMetadata reuses its IMDSv2 session token and fetches the identity document once per process
 * (the agent asks for it for the member certificate, the restore gate and the join). A failed fetch is not
 * kept. A small counting metadata server on 127.0.0.1 (port chosen by the OS) answers.
 */
import * as http from 'http';
import { AddressInfo } from 'net';
import { InstanceMetadata } from '../../lambda/adapters/aws';

const DOC = {
  instanceId: 'i-0123456789abcdef0',
  privateIp: '10.0.1.23',
  region: 'eu-west-1',
  availabilityZone: 'eu-west-1a',
};

describe('InstanceMetadata', () => {
  let server: http.Server;
  let endpoint: string;
  const calls: string[] = [];
  let failNextDocument = false;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('tok');
      if (req.headers['x-aws-ec2-metadata-token'] !== 'tok') return void res.writeHead(401).end();
      if (req.url === '/latest/dynamic/instance-identity/document') {
        if (failNextDocument) {
          failNextDocument = false;
          return void res.writeHead(500).end();
        }
        return void res.end(JSON.stringify(DOC));
      }
      if (req.url === '/latest/meta-data/local-hostname') return void res.end('ip-10-0-1-23.internal\n');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    calls.length = 0;
  });

  it('fetches the identity once and reuses the session token for the host name', async () => {
    const md = new InstanceMetadata(endpoint);
    const [a, b] = await Promise.all([md.identity(), md.identity()]);
    expect(a).toEqual(DOC);
    expect(b).toEqual(DOC);
    expect(await md.identity()).toEqual(DOC);
    expect(await md.localHostname()).toBe('ip-10-0-1-23.internal');
    expect(calls).toEqual([
      'PUT /latest/api/token',
      'GET /latest/dynamic/instance-identity/document',
      'GET /latest/meta-data/local-hostname',
    ]);
  });

  it('does not keep a failed identity fetch: the next call asks again', async () => {
    const md = new InstanceMetadata(endpoint);
    failNextDocument = true;
    await expect(md.identity()).rejects.toThrow(/HTTP 500/);
    expect(await md.identity()).toEqual(DOC);
    expect(calls.filter((c) => c.endsWith('/instance-identity/document'))).toHaveLength(2);
  });
});
