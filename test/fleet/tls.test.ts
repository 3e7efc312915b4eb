/*
 * TLS through the fleet (`etcd-fleet up --tls`): the CA lives in the stand-in's Secrets Manager, each
 * agent issues its own member certificate from it at boot, etcd serves https on client and peer ports
 * with client-certificate auth, and the lifecycle Lambda bundle talks to etcd with the client identity
 * secret. Refusals (plain http, no certificate, a certificate of another CA, an expired certificate) are
 * checked against a control that succeeds the same way with a good identity. FAILURE-SCENARIOS 1 and 6
 * with TLS on.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Etcd3 } from 'etcd3';
import { SecretsAdapter } from '../../lambda/adapters/secrets';
import { parseCaSecret } from '../../lambda/certs/policy';
import { generateCa, issueClientIdentity } from '../../lambda/certs/x509';
import { CA_SECRET_NAME } from '../../fleet/tls';
import {
  client,
  etcdctlTls,
  expectAllReadable,
  expectConverged,
  live,
  logLines,
  StatusJson,
  StatusSampler,
  TestFleet,
  Writer,
} from './harness';

jest.setTimeout(400_000);

function etcdctl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      args,
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

/** A put through a client with the given credentials: 'ok' or the error message. */
async function tryPut(
  endpoint: string,
  credentials: { rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer } | undefined,
): Promise<string> {
  const c = new Etcd3({
    hosts: [endpoint],
    credentials,
    dialTimeout: 3000,
    defaultCallOptions: () => ({ deadline: Date.now() + 4000 }),
  });
  try {
    await c.put('tls-probe').value('x');
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    c.close();
  }
}

/** A plain-HTTP request to a TLS port: the status code, or the error. */
function plainHttp(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 4000 }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error: ${e.message}`));
  });
}

describe('TLS fleet (etcd-fleet up --tls)', () => {
  const fleet = new TestFleet('tls');
  afterAll(() => fleet.down());
  let s: StatusJson;

  it('scenario 1 with TLS: 3 instances launched at once form one cluster over https with member certificates from the CA', async () => {
    s = await fleet.up('--size', '3', '--tls');
    expectConverged(s, 3);
    expect(s.endpoints.every((e) => e.startsWith('https://'))).toBe(true);
    expect(s.tls).toEqual({
      ca: path.join(fleet.dir, 'tls', 'ca.crt'),
      cert: path.join(fleet.dir, 'tls', 'client.crt'),
      key: path.join(fleet.dir, 'tls', 'client.key'),
    });
    expect(fs.statSync(s.tls!.key).mode & 0o077).toBe(0);
    expect(await fleet.ok('status')).toContain(
      `tls: etcdctl --cacert ${s.tls!.ca} --cert ${s.tls!.cert} --key ${s.tls!.key}`,
    );
    const logs = fleet.agentLogs();
    const tokens = new Set<unknown>();
    for (const log of Object.values(logs)) {
      const lines = logLines(log);
      const cert = lines.find((l) => l.message === 'member certificate');
      expect(cert).toMatchObject({ issued: true, reason: 'no certificate' });
      const settings = lines.find((l) => l.message === 'settings written')!;
      expect(['bootstrap-new', 'reuse-unstarted']).toContain(settings.step);
      if (settings.step === 'bootstrap-new') tokens.add(settings.token);
      expect(log).not.toMatch(/"message":"added as learner"/);
    }
    expect(tokens.size).toBe(1);
    // Every member's etcd runs with client-cert auth on both ports (the settings the agent wrote).
    for (const d of fs.readdirSync(path.join(fleet.dir, 'instances'))) {
      const env = fs.readFileSync(path.join(fleet.dir, 'instances', d, 'etcd.env'), 'utf8');
      expect(env).toMatch(/^ETCD_CLIENT_CERT_AUTH=true$/m);
      expect(env).toMatch(/^ETCD_PEER_CLIENT_CERT_AUTH=true$/m);
      expect(env).toMatch(/^ETCD_LISTEN_PEER_URLS=https:/m);
      expect(fs.statSync(path.join(fleet.dir, 'instances', d, 'tls', 'member.key')).mode & 0o077).toBe(0);
    }
    // etcdctl with the client identity sees one cluster on every endpoint.
    for (const e of s.endpoints) {
      const r = await etcdctl(['--endpoints', e, ...etcdctlTls(s.tls), 'endpoint', 'status', '-w', 'json']);
      expect(r.code).toBe(0);
      expect(BigInt(/"cluster_id":(\d+)/.exec(r.out)![1]).toString(16)).toBe(s.clusterId);
    }
  });

  it("expiry monitoring: the reconcile measures the members' served certificates and emits CertificateDaysLeft", async () => {
    // The fleet's reconcile runs every 5 s; the Lambda bundle's EMF lines go to supervisor.out.
    const out = path.join(fleet.dir, 'supervisor.out');
    const deadline = Date.now() + 60_000;
    let metric: Record<string, unknown> | undefined;
    while (!metric && Date.now() < deadline) {
      const lines = fs.existsSync(out) ? logLines(fs.readFileSync(out, 'utf8')) : [];
      metric = lines.find(
        (l) => l.message === 'metric CertificateDaysLeft' && (l.unreachable as string[]).length === 0,
      );
      if (!metric) await new Promise((r) => setTimeout(r, 500));
    }
    expect(metric).toBeDefined();
    // member and client certificates: 730 days; the CA: 3650 days
    expect(metric!.CertificateDaysLeft).toBeGreaterThanOrEqual(728);
    expect(metric!.CertificateDaysLeft).toBeLessThanOrEqual(730);
    expect(metric!.certificate).not.toBe('ca');
    expect(JSON.stringify(metric!._aws)).toContain('"Unit":"None"');
  });

  it('refuses plain http (client and peer ports), a client without a certificate, one from another CA and an expired one', async () => {
    const e = s.endpoints[0];
    const ip = new URL(e).hostname;
    const good = {
      rootCertificate: fs.readFileSync(s.tls!.ca),
      certChain: fs.readFileSync(s.tls!.cert),
      privateKey: fs.readFileSync(s.tls!.key),
    };
    // control: the fleet's client identity works
    expect(await tryPut(e, good)).toBe('ok');
    expect((await etcdctl(['--endpoints', e, ...etcdctlTls(s.tls), 'get', 'tls-probe'])).code).toBe(0);

    // plain http
    expect(await tryPut(`http://${ip}:2379`, undefined)).not.toBe('ok');
    for (const port of [2379, 2380])
      expect(await plainHttp(`http://${ip}:${port}/version`)).not.toBe('HTTP 200');
    const plain = await etcdctl([
      '--endpoints',
      `http://${ip}:2379`,
      '--command-timeout=3s',
      'get',
      'tls-probe',
    ]);
    expect(plain.code).not.toBe(0);

    // TLS without a client certificate
    expect(await tryPut(e, { rootCertificate: good.rootCertificate })).not.toBe('ok');
    const noCert = await etcdctl([
      '--endpoints',
      e,
      '--cacert',
      s.tls!.ca,
      '--command-timeout=3s',
      'get',
      'tls-probe',
    ]);
    expect(noCert.code).not.toBe(0);

    // a client certificate from another CA
    const foreign = await issueClientIdentity(await generateCa());
    expect(
      await tryPut(e, {
        rootCertificate: good.rootCertificate,
        certChain: Buffer.from(foreign.cert),
        privateKey: Buffer.from(foreign.key),
      }),
    ).not.toBe('ok');

    // an expired certificate from the fleet's own CA (read from the stand-in's Secrets Manager with the
    // real SDK client, as the agents do), next to a fresh one issued the same way as the control
    const started = logLines(fs.readFileSync(path.join(fleet.dir, 'supervisor.log'), 'utf8')).find(
      (l) => l.message === 'fleet started',
    )!;
    const secrets = new SecretsAdapter(
      new SecretsManagerClient({
        region: 'local-1',
        endpoint: String(started.standIn),
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      }),
    );
    const ca = parseCaSecret(await secrets.getString(CA_SECRET_NAME));
    const longAgo = new Date(Date.now() - 3 * 86_400_000);
    const expired = await issueClientIdentity(ca, { now: longAgo, days: 1 });
    const fresh = await issueClientIdentity(ca);
    const withId = (id: { cert: string; key: string }) => ({
      rootCertificate: good.rootCertificate,
      certChain: Buffer.from(id.cert),
      privateKey: Buffer.from(id.key),
    });
    expect(await tryPut(e, withId(expired))).not.toBe('ok');
    expect(await tryPut(e, withId(fresh))).toBe('ok');
  });

  it('scenario 6 with TLS: the Lambda removes the terminated member before the replacement joins; quorum never lost', async () => {
    const before = await fleet.status();
    const victim = live(before).find((i) => !i.leader)!;
    const writer = new Writer(fleet, 'tls6');
    const sampler = new StatusSampler(fleet);
    writer.start();
    sampler.start();
    let after: StatusJson & { result?: string };
    try {
      after = JSON.parse(await fleet.ok('terminate', victim.id, '--json'));
    } finally {
      await sampler.stop();
      await writer.stop();
    }
    expect(after.result).toBe('terminated');
    expectConverged(after, 3);
    expect(live(after).map((i) => i.memberId)).not.toContain(victim.memberId);
    const heir = live(after).find((i) => !before.instances.some((o) => o.id === i.id))!;
    const lines = logLines(fleet.agentLogs()[heir.id]);
    expect(lines.find((l) => l.message === 'member certificate')).toMatchObject({ issued: true });
    expect(lines.find((l) => l.message === 'plan' && l.step === 'add-learner')).toMatchObject({ members: 2 });
    expect(lines.some((l) => l.message === 'promoted to voter')).toBe(true);
    expect(writer.acked.length).toBeGreaterThan(0);
    expect(sampler.samples).toBeGreaterThan(3);
    expect(sampler.quorumLost).toBe(0);
    expect(sampler.maxPending).toBeLessThanOrEqual(1);
    await expectAllReadable(fleet, writer.expected(), 'tls6/');
    const c = client(after.endpoints, after.tls);
    try {
      expect(await c.get('tls-probe').string()).toBe('x');
    } finally {
      c.close();
    }
  });

  it('reboot with TLS: the member keeps its certificate (still valid, same addresses) and rejoins', async () => {
    const before = await fleet.status();
    const target = live(before).find((i) => !i.leader)!;
    const after = JSON.parse(await fleet.ok('reboot', target.id, '--json')) as StatusJson;
    expectConverged(after, 3);
    expect(after.instances.find((i) => i.id === target.id)?.memberId).toBe(target.memberId);
    const certs = logLines(fleet.agentLogs()[target.id]).filter((l) => l.message === 'member certificate');
    expect(certs[0]).toMatchObject({ issued: true });
    expect(certs[certs.length - 1]).toMatchObject({ issued: false, reason: 'valid certificate on disk' });
    expect(certs.length).toBeGreaterThanOrEqual(3); // join + promote at boot, join again after the reboot
  });

  it('scale 5 and back to 3 with TLS: new members join with their own certificates, scale-in removes through the Lambda', async () => {
    const up = JSON.parse(await fleet.ok('scale', '5', '--json')) as StatusJson;
    expectConverged(up, 5);
    const logs = fleet.agentLogs();
    for (const i of live(up)) {
      expect(logLines(logs[i.id]).find((l) => l.message === 'member certificate')).toMatchObject({
        issued: true,
      });
    }
    const down = JSON.parse(await fleet.ok('scale', '3', '--json')) as StatusJson;
    expectConverged(down, 3);
    const c = client(down.endpoints, down.tls);
    try {
      expect(await c.get('tls-probe').string()).toBe('x');
    } finally {
      c.close();
    }
  });
});
