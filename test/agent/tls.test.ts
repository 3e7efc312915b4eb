/* The agent's TLS: config validation, etcd's TLS settings, and the member certificate on disk (reuse / renew). */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseConfig } from '../../lambda/agent/config';
import { OutputFormat } from '../../lambda/agent/config';
import { renderSettings } from '../../lambda/agent/output';
import { ensureMemberCert } from '../../lambda/agent/tls';
import { generateCa } from '../../lambda/certs/x509';
import { readConfig } from '../../lambda/lifecycle/config';
import { clearClientCredentialsCache, clientCredentials } from '../../lambda/lifecycle/tls';

const base = {
  strategy: 'replace',
  sizeCap: 3,
  peerPort: 2380,
  clientPort: 2379,
  dataDir: '/var/lib/etcd',
  envFile: '/run/etcd/env',
};

describe('agent config', () => {
  it('tls needs https and a secret id and absolute dirs; etcdCertDir defaults to certDir', () => {
    const ok = parseConfig(
      JSON.stringify({ ...base, scheme: 'https', tls: { caSecretId: 'arn:x', certDir: '/etc/etcd-tls' } }),
    );
    expect(ok.tls).toEqual({ caSecretId: 'arn:x', certDir: '/etc/etcd-tls', etcdCertDir: '/etc/etcd-tls' });
    expect(() =>
      parseConfig(JSON.stringify({ ...base, scheme: 'http', tls: { caSecretId: 'a', certDir: '/d' } })),
    ).toThrow(/scheme: must be https when tls is set/);
    expect(() => parseConfig(JSON.stringify({ ...base, scheme: 'https' }))).toThrow(
      /tls: required when scheme is https/,
    );
    expect(() =>
      parseConfig(JSON.stringify({ ...base, scheme: 'https', tls: { caSecretId: '', certDir: 'rel' } })),
    ).toThrow(/tls.caSecretId: must be a secret name or ARN; tls.certDir: must be an absolute path/);
  });

  it('etcd settings with TLS: client and peer certificates and client-cert auth on both', () => {
    const text = renderSettings(
      {
        name: 'i-1',
        dataDir: '/var/lib/etcd',
        initialCluster: 'i-1=https://10.0.0.1:2380',
        initialClusterState: 'existing',
        peerURL: 'https://10.0.0.1:2380',
        clientURL: 'https://10.0.0.1:2379',
        tls: { caFile: '/c/ca.crt', certFile: '/c/member.crt', keyFile: '/c/member.key' },
      },
      OutputFormat.ENV,
    );
    for (const line of [
      'ETCD_TRUSTED_CA_FILE=/c/ca.crt',
      'ETCD_CERT_FILE=/c/member.crt',
      'ETCD_KEY_FILE=/c/member.key',
      'ETCD_CLIENT_CERT_AUTH=true',
      'ETCD_PEER_TRUSTED_CA_FILE=/c/ca.crt',
      'ETCD_PEER_CERT_FILE=/c/member.crt',
      'ETCD_PEER_KEY_FILE=/c/member.key',
      'ETCD_PEER_CLIENT_CERT_AUTH=true',
    ])
      expect(text.split('\n')).toContain(line);
  });
});

describe('member certificate on disk', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-tls-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('issues once, reuses while valid, re-issues for a new IP, a new CA or near expiry; the key is 0600', async () => {
    const ca = await generateCa();
    const cfg = { caSecretId: 'ca', certDir: path.join(dir, 'tls'), etcdCertDir: '/etc/ssl/certs' };
    const self = {
      instanceId: 'i-0123456789abcdef0',
      privateIp: '10.0.1.5',
      dnsName: 'ip-10-0-1-5.ec2.internal',
    };
    const read = async () => JSON.stringify(ca);
    const first = await ensureMemberCert(cfg, self, read);
    expect(first).toMatchObject({ issued: true, reason: 'no certificate' });
    expect(first.etcdFiles).toEqual({
      caFile: '/etc/ssl/certs/ca.crt',
      certFile: '/etc/ssl/certs/member.crt',
      keyFile: '/etc/ssl/certs/member.key',
    });
    expect(fs.statSync(path.join(cfg.certDir, 'member.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(cfg.certDir, 'ca.crt'), 'utf8')).toBe(ca.caCert);
    const cert1 = fs.readFileSync(path.join(cfg.certDir, 'member.crt'), 'utf8');
    expect(new crypto.X509Certificate(cert1).checkIP('10.0.1.5')).toBe('10.0.1.5');

    const again = await ensureMemberCert(cfg, self, read);
    expect(again).toMatchObject({ issued: false, reason: 'valid certificate on disk' });
    expect(fs.readFileSync(path.join(cfg.certDir, 'member.crt'), 'utf8')).toBe(cert1);

    const moved = await ensureMemberCert(cfg, { ...self, privateIp: '10.0.1.6' }, read);
    expect(moved).toMatchObject({ issued: true, reason: 'subject alternative names changed' });

    const later = new Date(Date.now() + 700 * 86_400_000); // 30 days before the 730-day expiry
    const due = await ensureMemberCert(cfg, { ...self, privateIp: '10.0.1.6' }, read, later);
    expect(due.issued).toBe(true);
    expect(due.reason).toMatch(/^expires in \d+ days$/);

    const ca2 = await generateCa();
    const rotated = await ensureMemberCert(cfg, self, async () => JSON.stringify(ca2));
    expect(rotated).toMatchObject({ issued: true, reason: 'not signed by the current CA' });
    expect(fs.readFileSync(path.join(cfg.certDir, 'ca.crt'), 'utf8')).toBe(ca2.caCert);

    // a key that does not belong to the certificate (e.g. a crash between the two writes) is replaced
    fs.writeFileSync(path.join(cfg.certDir, 'member.key'), (await generateCa()).caKey);
    const fixed = await ensureMemberCert(cfg, self, async () => JSON.stringify(ca2));
    expect(fixed).toMatchObject({ issued: true, reason: 'no certificate' });
  });
});

describe('lifecycle Lambda TLS config', () => {
  const env = { GROUP_NAME: 'g', AWS_REGION: 'r', STRATEGY: 'replace' };
  it('SCHEME https needs TLS_CLIENT_SECRET_ID and http refuses it', () => {
    expect(readConfig({ ...env, SCHEME: 'https', TLS_CLIENT_SECRET_ID: 'arn:s' }).tlsClientSecretId).toBe(
      'arn:s',
    );
    expect(() => readConfig({ ...env, SCHEME: 'https' })).toThrow(
      /TLS_CLIENT_SECRET_ID: required when SCHEME is https/,
    );
    expect(() => readConfig({ ...env, TLS_CLIENT_SECRET_ID: 'arn:s' })).toThrow(/only with SCHEME https/);
  });

  it('client credentials: none without TLS; read once and cached for 10 minutes', async () => {
    clearClientCredentialsCache();
    const reads: string[] = [];
    const secret = JSON.stringify({ ca: '-----BEGIN CA', cert: '-----BEGIN CERT', key: '-----BEGIN KEY' });
    const read = async (id: string) => (reads.push(id), secret);
    expect(await clientCredentials({}, 0, read)).toBeUndefined();
    const tlsEnv = { TLS_CLIENT_SECRET_ID: 'arn:client' };
    const c = await clientCredentials(tlsEnv, 1000, read);
    expect(c!.certChain.toString()).toBe('-----BEGIN CERT');
    await clientCredentials(tlsEnv, 1000 + 9 * 60_000, read);
    expect(reads).toEqual(['arn:client']);
    await clientCredentials(tlsEnv, 1000 + 11 * 60_000, read);
    expect(reads).toEqual(['arn:client', 'arn:client']);
    await expect(clientCredentials({ TLS_CLIENT_SECRET_ID: 'other' }, 0, async () => '{}')).rejects.toThrow(
      /ca must be a PEM string/,
    );
  });
});
