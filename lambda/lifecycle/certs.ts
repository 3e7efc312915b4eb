/*
 * Certificate expiry monitoring (TLS clusters), run with every scheduled reconcile: the days left of the
 * CA, of the Lambda's own client identity and of the certificate each member actually serves (a TLS
 * handshake with the client identity, reading the peer certificate). The minimum goes out as the
 * CertificateDaysLeft metric (the construct alarms on it). Never fails the reconcile.
 */
import * as crypto from 'crypto';
import * as tls from 'tls';
import type { LifecycleContext } from './context';
import { errorMessage, Logger, MetricName } from './log';
import type { EtcdCredentials } from './tls';

/** Below this many days the reconcile logs a warning (the construct's alarm uses the same threshold). */
export const EXPIRY_WARNING_DAYS = 30;

/** notAfter of the certificate a TLS server presents to this client identity. */
export function servedCertificateNotAfter(
  host: string,
  port: number,
  creds: EtcdCredentials,
  timeoutMs = 3000,
): Promise<Date> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ca: creds.rootCertificate,
      cert: creds.certChain,
      key: creds.privateKey,
      timeout: timeoutMs, // an IP host is checked against the certificate's IP SANs (and sends no SNI)
    });
    socket.once('secureConnect', () => {
      const validTo = socket.getPeerCertificate().valid_to;
      socket.destroy();
      resolve(new Date(validTo));
    });
    socket.once('timeout', () => socket.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)));
    socket.once('error', reject);
  });
}

export async function reportCertificateExpiry(
  ctx: LifecycleContext,
  log: Logger,
  probe: typeof servedCertificateNotAfter = servedCertificateNotAfter,
): Promise<number | undefined> {
  const creds = ctx.tls;
  if (!creds) return undefined;
  try {
    const now = ctx.now();
    const expiries: Record<string, Date> = {
      ca: new Date(new crypto.X509Certificate(creds.rootCertificate).validTo),
      client: new Date(new crypto.X509Certificate(creds.certChain).validTo),
    };
    const group = await ctx.fleet.describeGroup(ctx.config.groupName);
    const unreachable: string[] = [];
    await Promise.all(
      group.instances
        .filter((i) => i.privateIp)
        .map(async (i) => {
          try {
            expiries[i.instanceId] = await probe(i.privateIp!, ctx.config.clientPort, creds);
          } catch {
            unreachable.push(i.instanceId);
          }
        }),
    );
    const [first, at] = Object.entries(expiries).sort((a, b) => a[1].getTime() - b[1].getTime())[0];
    const days = Math.floor((at.getTime() - now) / 86_400_000);
    const fields = { certificate: first, notAfter: at.toISOString(), daysLeft: days, unreachable };
    if (days < EXPIRY_WARNING_DAYS) log.warn('certificate expires soon', fields);
    log.metric(MetricName.CERTIFICATE_DAYS_LEFT, days, ctx.config.groupName, fields, 'None');
    return days;
  } catch (err) {
    log.warn('certificate expiry not measured', { error: errorMessage(err) });
    return undefined;
  }
}
