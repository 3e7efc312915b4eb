/*
 * One instance's metadata service (IMDSv2 only): PUT /latest/api/token, then GETs with the token header.
 * Serves the identity paths the join agent reads and the role credentials the SDK's default credential
 * chain fetches when no AWS_ACCESS_KEY_ID is set.
 */
import * as crypto from 'crypto';
import * as http from 'http';
import { IMAGE_ID, INSTANCE_TYPE } from './context';
import type { StandInInstance } from './types';

export interface ImdsSource {
  /** The instance as it is now (undefined once removed). */
  instance(): StandInInstance | undefined;
  /** True while the instance's metadata service is made to fail (HTTP 500). */
  down(): boolean;
  readonly region: string;
  readonly accountId: string;
  readonly roleName: string;
}

const MAX_TTL = 21600;

export function createImdsServer(src: ImdsSource): http.Server {
  const tokens = new Map<string, number>(); // token -> expiry (ms since epoch)
  return http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'text/plain') => {
      // Connection: close — a replacement instance often gets a removed instance's address (and so the same
      // ip:port): a pooled keep-alive socket to the old listener would fail the next request.
      res.writeHead(status, {
        connection: 'close',
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        server: 'EC2ws',
      });
      res.end(body);
    };
    req.resume();
    req.on('end', () => {
      const inst = src.instance();
      if (src.down() || !inst) return send(500, 'Internal Server Error');
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/latest/api/token') {
        if (req.method !== 'PUT') return send(405, 'Method Not Allowed');
        if (req.headers['x-forwarded-for']) return send(403, 'Forbidden');
        const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) return send(400, 'Bad Request');
        const token = crypto.randomBytes(32).toString('base64');
        tokens.set(token, Date.now() + ttl * 1000);
        res.setHeader('x-aws-ec2-metadata-token-ttl-seconds', String(ttl));
        return send(200, token);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'Method Not Allowed');
      const token = req.headers['x-aws-ec2-metadata-token'];
      const expiry = typeof token === 'string' ? tokens.get(token) : undefined;
      if (expiry === undefined || expiry < Date.now()) {
        if (typeof token === 'string') tokens.delete(token);
        return send(401, 'Unauthorized');
      }
      const body = answer(src, inst, path);
      if (body === undefined) return send(404, 'Not Found');
      return send(200, body.text, body.type);
    });
  });
}

function answer(
  src: ImdsSource,
  inst: StandInInstance,
  path: string,
): { text: string; type?: string } | undefined {
  const hostname = `ip-${inst.privateIp.replace(/\./g, '-')}.${src.region}.compute.internal`;
  const meta: Record<string, string> = {
    'ami-id': IMAGE_ID,
    hostname,
    'instance-id': inst.instanceId,
    'instance-type': INSTANCE_TYPE,
    'local-hostname': hostname,
    'local-ipv4': inst.privateIp,
    'placement/availability-zone': inst.availabilityZone,
    'placement/region': src.region,
  };
  const prefix = '/latest/meta-data/';
  if (path === '/latest/meta-data' || path === prefix) {
    return {
      text: [
        'ami-id',
        'hostname',
        'iam/',
        'instance-id',
        'instance-type',
        'local-hostname',
        'local-ipv4',
        'placement/',
      ].join('\n'),
    };
  }
  if (path === prefix + 'placement' || path === prefix + 'placement/') {
    return { text: 'availability-zone\nregion' };
  }
  if (path.startsWith(prefix) && meta[path.slice(prefix.length)] !== undefined) {
    return { text: meta[path.slice(prefix.length)] };
  }
  if (path === prefix + 'iam' || path === prefix + 'iam/') return { text: 'info\nsecurity-credentials/' };
  if (path === prefix + 'iam/info') {
    return {
      text: JSON.stringify({
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        InstanceProfileArn: `arn:aws:iam::${src.accountId}:instance-profile/${src.roleName}`,
        InstanceProfileId: 'AIPA0000000000000000',
      }),
    };
  }
  const creds = prefix + 'iam/security-credentials/';
  if (path === creds || path === creds.slice(0, -1)) return { text: src.roleName };
  if (path === creds + src.roleName) {
    const now = Date.now();
    return {
      text: JSON.stringify(
        {
          Code: 'Success',
          LastUpdated: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          Type: 'AWS-HMAC',
          AccessKeyId: 'ASIA' + crypto.randomBytes(8).toString('hex').toUpperCase(),
          SecretAccessKey: crypto.randomBytes(30).toString('base64'),
          Token: crypto.randomBytes(64).toString('base64'),
          Expiration: new Date(now + 6 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        },
        null,
        2,
      ),
    };
  }
  if (path === '/latest/dynamic/instance-identity/document') {
    return {
      type: 'application/json',
      text: JSON.stringify(
        {
          accountId: src.accountId,
          architecture: 'x86_64',
          availabilityZone: inst.availabilityZone,
          billingProducts: null,
          devpayProductCodes: null,
          marketplaceProductCodes: null,
          imageId: IMAGE_ID,
          instanceId: inst.instanceId,
          instanceType: INSTANCE_TYPE,
          kernelId: null,
          pendingTime: inst.launchTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          privateIp: inst.privateIp,
          ramdiskId: null,
          region: src.region,
          version: '2017-09-30',
        },
        null,
        2,
      ),
    };
  }
  return undefined;
}
