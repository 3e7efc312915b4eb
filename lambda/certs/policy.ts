/*
 * Certificate policy of the cluster: names, subject alternative names, validity and the renewal decision.
 * Pure: no I/O, no crypto, no SDK imports (lambda/certs/x509.ts does the X.509 work).
 */

/** Validity of the cluster CA the construct (or the fleet) generates, in days (10 years). */
export const CA_VALIDITY_DAYS = 3650;
/** Validity of a member's server/peer certificate, in days (2 years). */
export const MEMBER_CERT_VALIDITY_DAYS = 730;
/** Validity of a client identity certificate, in days (2 years). */
export const CLIENT_CERT_VALIDITY_DAYS = 730;
/** A certificate with less than this many days left is re-issued at the next boot / deployment. */
export const RENEW_BEFORE_DAYS = 90;
/** notBefore is backdated by this much so a member with a slightly slow clock accepts a fresh certificate. */
export const BACKDATE_MS = 5 * 60 * 1000;

export const CA_COMMON_NAME = 'cdk-elastic-etcd CA';
export const CLIENT_COMMON_NAME = 'cdk-elastic-etcd client';

/** The JSON stored in the CA secret (PEM strings). */
export interface CaSecret {
  readonly caCert: string;
  readonly caKey: string;
}

/** The JSON stored in a client identity secret (PEM strings): what etcdctl's --cacert/--cert/--key take. */
export interface ClientIdentitySecret {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface SubjectAltNames {
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DNS_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return Boolean(m && m.slice(1).every((p) => Number(p) <= 255));
}

/**
 * The SANs of a member's certificate: its private IP, its private DNS name (when known and well formed)
 * and the loopback address and name (etcd on the instance is also reached on 127.0.0.1). Sorted, unique.
 */
export function memberSans(privateIp: string, privateDnsName?: string): SubjectAltNames {
  if (!isIpv4(privateIp)) throw new Error(`private IP ${JSON.stringify(privateIp)} is not an IPv4 address`);
  const ips = [...new Set([privateIp, '127.0.0.1'])].sort();
  const dns = ['localhost'];
  const name = privateDnsName?.trim().toLowerCase();
  if (name && DNS_NAME.test(name) && !isIpv4(name)) dns.push(name);
  return { ips, dnsNames: [...new Set(dns)].sort() };
}

/** Common name of a member's certificate: its instance id (member names are instance ids too). */
export function memberCommonName(instanceId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(instanceId))
    throw new Error(`instance id ${instanceId} is not a valid name`);
  return instanceId;
}

export interface ExistingCert {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly sans: SubjectAltNames;
  /** Whether it was signed by the current CA (its signature verifies with the CA's public key). */
  readonly signedByCa: boolean;
}

export type RenewalDecision = { readonly reuse: true } | { readonly reuse: false; readonly reason: string };

/** Whether a certificate found on disk can be used again, or a new one must be issued (and why). */
export function renewalDecision(
  existing: ExistingCert | undefined,
  wanted: SubjectAltNames,
  now: Date,
  renewBeforeDays = RENEW_BEFORE_DAYS,
): RenewalDecision {
  if (!existing) return { reuse: false, reason: 'no certificate' };
  if (!existing.signedByCa) return { reuse: false, reason: 'not signed by the current CA' };
  if (existing.notBefore.getTime() > now.getTime() + BACKDATE_MS)
    return { reuse: false, reason: 'not valid yet' };
  const left = daysLeft(existing.notAfter, now);
  if (left < renewBeforeDays) return { reuse: false, reason: `expires in ${Math.floor(left)} days` };
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
  if (!same(existing.sans.ips, wanted.ips) || !same(existing.sans.dnsNames, wanted.dnsNames))
    return { reuse: false, reason: 'subject alternative names changed' };
  return { reuse: true };
}

/** Days from now until notAfter (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return (notAfter.getTime() - now.getTime()) / 86_400_000;
}

/** notBefore / notAfter of a certificate issued now for `days`. */
export function validityWindow(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`validity must be a whole number of days (got ${days})`);
  return {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * 86_400_000),
  };
}

/**
 * The PEM certificates of a bundle, in order. A CA secret's caCert may be a bundle during a CA rotation:
 * the first certificate is the issuing CA (the one caKey belongs to); all of them are trusted.
 */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** Parses and checks a CA secret's JSON. */
export function parseCaSecret(text: string): CaSecret {
  const v = parseJsonObject(text, 'CA secret');
  for (const f of ['caCert', 'caKey'] as const) {
    if (typeof v[f] !== 'string' || !(v[f] as string).includes('-----BEGIN '))
      throw new Error(`CA secret: ${f} must be a PEM string`);
  }
  return { caCert: v.caCert as string, caKey: v.caKey as string };
}

/** Parses and checks a client identity secret's JSON. */
export function parseClientIdentitySecret(text: string): ClientIdentitySecret {
  const v = parseJsonObject(text, 'client identity secret');
  for (const f of ['ca', 'cert', 'key'] as const) {
    if (typeof v[f] !== 'string' || !(v[f] as string).includes('-----BEGIN '))
      throw new Error(`client identity secret: ${f} must be a PEM string`);
  }
  return { ca: v.ca as string, cert: v.cert as string, key: v.key as string };
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what}: not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what}: not a JSON object`);
  return v as Record<string, unknown>;
}
