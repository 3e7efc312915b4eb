/*
 * Certificate policy (pure) and issuance (@peculiar/x509), the issued certificates checked independently
 * with Node's own X509Certificate (OpenSSL) and a real TLS handshake on 127.0.0.1.
 */
import * as crypto from 'crypto';
import * as tls from 'tls';
import {
  daysLeft,
  memberSans,
  parseCaSecret,
  parseClientIdentitySecret,
  renewalDecision,
  RENEW_BEFORE_DAYS,
  splitPem,
  validityWindow,
} from '../../lambda/certs/policy';
import {
  generateCa,
  inspect,
  issueClientIdentity,
  issueMemberCert,
  keyMatchesCert,
  notAfterOf,
} from '../../lambda/certs/x509';

const NOW = new Date('2026-06-01T00:00:00Z');

describe('certificate policy', () => {
  it('member SANs: private IP, 127.0.0.1, localhost and the private DNS name, sorted and unique', () => {
    expect(memberSans('10.0.1.5', 'ip-10-0-1-5.ec2.internal')).toEqual({
      ips: ['10.0.1.5', '127.0.0.1'],
      dnsNames: ['ip-10-0-1-5.ec2.internal', 'localhost'],
    });
    expect(memberSans('127.0.0.1')).toEqual({ ips: ['127.0.0.1'], dnsNames: ['localhost'] });
    // a malformed DNS name is left out rather than put into a certificate
    expect(memberSans('10.0.1.5', 'bad name!').dnsNames).toEqual(['localhost']);
    expect(() => memberSans('10.0.1', 'x')).toThrow(/not an IPv4 address/);
    expect(() => memberSans('300.0.0.1')).toThrow(/not an IPv4 address/);
  });

  const wanted = memberSans('10.0.1.5', 'ip-10-0-1-5.ec2.internal');
  const good = {
    notBefore: new Date(NOW.getTime() - 86_400_000),
    notAfter: new Date(NOW.getTime() + 365 * 86_400_000),
    sans: wanted,
    signedByCa: true,
  };
  it.each([
    ['no certificate', undefined, false, /no certificate/],
    ['valid, same SANs, same CA', good, true, undefined],
    ['another CA', { ...good, signedByCa: false }, false, /current CA/],
    [
      'expires within the renewal window',
      { ...good, notAfter: new Date(NOW.getTime() + (RENEW_BEFORE_DAYS - 1) * 86_400_000) },
      false,
      /expires in 89 days/,
    ],
    ['expired', { ...good, notAfter: new Date(NOW.getTime() - 1000) }, false, /expires in -1 days/],
    ['not valid yet', { ...good, notBefore: new Date(NOW.getTime() + 86_400_000) }, false, /not valid yet/],
    [
      'different IP',
      { ...good, sans: memberSans('10.0.1.6', 'ip-10-0-1-5.ec2.internal') },
      false,
      /alternative names changed/,
    ],
  ])('renewal decision: %s', (_name, existing, reuse, reason) => {
    const d = renewalDecision(existing, wanted, NOW);
    expect(d.reuse).toBe(reuse);
    if (!d.reuse) expect(d.reason).toMatch(reason as RegExp);
  });

  it('validity window is backdated 5 minutes and rejects non-whole days', () => {
    const w = validityWindow(NOW, 10);
    expect(NOW.getTime() - w.notBefore.getTime()).toBe(300_000);
    expect(daysLeft(w.notAfter, NOW)).toBe(10);
    expect(() => validityWindow(NOW, 0)).toThrow(/whole number of days/);
  });

  it('secret parsers name the missing field', () => {
    expect(() => parseCaSecret('{"caCert":"x"}')).toThrow(/caCert must be a PEM/);
    expect(() => parseCaSecret('nope')).toThrow(/not JSON/);
    expect(() => parseClientIdentitySecret('{"ca":"-----BEGIN X","cert":"-----BEGIN Y"}')).toThrow(
      /key must be/,
    );
  });
});

describe('issuance (checked with Node/OpenSSL)', () => {
  it('CA, member and client certificates chain to the CA with the right constraints, SANs and usages', async () => {
    const ca = await generateCa({ now: NOW });
    const caX = new crypto.X509Certificate(ca.caCert);
    expect(caX.ca).toBe(true);
    expect(caX.verify(caX.publicKey)).toBe(true);
    expect(caX.subject).toMatch(/CN=cdk-elastic-etcd CA/);
    expect(daysLeft(new Date(caX.validTo), NOW)).toBeGreaterThan(3649);
    expect(parseCaSecret(JSON.stringify(ca))).toEqual(ca);

    const sans = memberSans('10.0.1.5', 'ip-10-0-1-5.ec2.internal');
    const member = await issueMemberCert(ca, 'i-0123456789abcdef0', sans, NOW);
    const mX = new crypto.X509Certificate(member.cert);
    expect(mX.ca).toBe(false);
    expect(mX.verify(caX.publicKey)).toBe(true);
    expect(mX.checkIssued(caX)).toBe(true);
    expect(mX.checkIP('10.0.1.5')).toBe('10.0.1.5');
    expect(mX.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(mX.checkIP('10.0.1.6')).toBeUndefined();
    expect(mX.checkHost('ip-10-0-1-5.ec2.internal')).toBe('ip-10-0-1-5.ec2.internal');
    expect(mX.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(mX.subject).toBe('CN=i-0123456789abcdef0');
    expect(await keyMatchesCert(member.cert, member.key)).toBe(true);
    expect(crypto.createPrivateKey(member.key).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });

    const info = await inspect(member.cert, ca.caCert);
    expect(info.signedByCa).toBe(true);
    expect(info.sans).toEqual(sans);
    expect(renewalDecision(info, sans, NOW).reuse).toBe(true);

    const other = await generateCa({ now: NOW });
    expect((await inspect(member.cert, other.caCert)).signedByCa).toBe(false);
    expect(await keyMatchesCert(member.cert, (await issueMemberCert(other, 'x', sans, NOW)).key)).toBe(false);

    const client = await issueClientIdentity(ca, { now: NOW });
    const cX = new crypto.X509Certificate(client.cert);
    expect(cX.verify(caX.publicKey)).toBe(true);
    expect(cX.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(client.ca).toBe(ca.caCert);
  });

  it('a member certificate serves TLS on 127.0.0.1 with client-certificate authentication', async () => {
    const ca = await generateCa();
    const server = await issueMemberCert(ca, 'i-0123456789abcdef0', memberSans('127.0.0.1'));
    const good = await issueClientIdentity(ca);
    const foreign = await issueClientIdentity(await generateCa());
    const srv = tls.createServer(
      { cert: server.cert, key: server.key, ca: ca.caCert, requestCert: true, rejectUnauthorized: true },
      (s) => s.end('ok'),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const attempt = (id?: { cert: string; key: string }) => connectAndRead(port, ca.caCert, id);
    try {
      expect(await attempt(good)).toBe('ok');
      expect(await attempt(foreign)).not.toBe('ok');
      expect(await attempt()).not.toBe('ok');
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('CA rotation with a bundle: the first certificate issues, all are trusted; old and new members talk both ways', async () => {
    const oldCa = await generateCa({ commonName: 'old' });
    const newCa = await generateCa({ commonName: 'new' });
    expect(splitPem(oldCa.caCert + newCa.caCert)).toEqual([oldCa.caCert.trim(), newCa.caCert.trim()]);
    // phase 1: trust both, still issue from the old CA
    const phase1 = { caCert: oldCa.caCert + newCa.caCert, caKey: oldCa.caKey };
    const sans = memberSans('127.0.0.1');
    const oldMember = await issueMemberCert(phase1, 'i-old', sans);
    expect(
      new crypto.X509Certificate(oldMember.cert).checkIssued(new crypto.X509Certificate(oldCa.caCert)),
    ).toBe(true);
    expect((await inspect(oldMember.cert, phase1.caCert)).signedByCa).toBe(true);
    // phase 2: issue from the new CA, still trust the old one; an old-CA certificate is due for re-issue
    const phase2 = { caCert: newCa.caCert + oldCa.caCert, caKey: newCa.caKey };
    expect(renewalDecision(await inspect(oldMember.cert, phase2.caCert), sans, new Date())).toEqual({
      reuse: false,
      reason: 'not signed by the current CA',
    });
    const newMember = await issueMemberCert(phase2, 'i-new', sans);
    expect(
      new crypto.X509Certificate(newMember.cert).checkIssued(new crypto.X509Certificate(newCa.caCert)),
    ).toBe(true);
    expect(notAfterOf(phase2.caCert).getTime()).toBe(
      Math.min(notAfterOf(oldCa.caCert).getTime(), notAfterOf(newCa.caCert).getTime()),
    );
    // an old member (trusting the phase-1 bundle) and a new one (phase-2 bundle) accept each other
    expect(await handshake(oldMember, phase1.caCert, newMember, phase2.caCert)).toBe('ok');
    expect(await handshake(newMember, phase2.caCert, oldMember, phase1.caCert)).toBe('ok');
    // but a member that trusts only the new CA refuses an old-CA peer: why the bundle phases exist
    expect(await handshake(newMember, newCa.caCert, oldMember, phase1.caCert)).not.toBe('ok');
  });
});

/** A TLS client on 127.0.0.1:port: what the server sent before closing, or 'error: …' / 'timeout'. */
function connectAndRead(
  port: number,
  ca: string | string[],
  id?: { cert: string; key: string },
): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, cert: id?.cert, key: id?.key, timeout: 5000 });
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data || 'closed'));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
  });
}

/** mTLS between a server identity and a client identity, each with its own trust bundle. */
async function handshake(
  server: { cert: string; key: string },
  serverTrust: string,
  clientId: { cert: string; key: string },
  clientTrust: string,
): Promise<string> {
  const srv = tls.createServer(
    {
      cert: server.cert,
      key: server.key,
      ca: splitPem(serverTrust),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (s) => s.end('ok'),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await connectAndRead(port, splitPem(clientTrust), clientId);
  } finally {
    await new Promise((r) => srv.close(r));
  }
}
