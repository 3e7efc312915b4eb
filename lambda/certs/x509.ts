/*
 * X.509 work for the cluster's TLS with @peculiar/x509 over Node's WebCrypto: the CA, member
 * (server + peer) certificates and client certificates, all ECDSA P-256 / SHA-256. Shared by the agent,
 * the CA custom resource, the lifecycle Lambda and the local fleet. No hand-rolled ASN.1.
 */
import 'reflect-metadata';
import { webcrypto } from 'crypto';
import * as x509 from '@peculiar/x509';
import {
  CA_COMMON_NAME,
  CA_VALIDITY_DAYS,
  CaSecret,
  CLIENT_CERT_VALIDITY_DAYS,
  CLIENT_COMMON_NAME,
  ClientIdentitySecret,
  ExistingCert,
  MEMBER_CERT_VALIDITY_DAYS,
  splitPem,
  SubjectAltNames,
  validityWindow,
} from './policy';

/** The issuing CA of a CA secret's caCert (its first certificate; the rest of a bundle is trust only). */
function issuingCa(caCertPem: string): x509.X509Certificate {
  const [first] = splitPem(caCertPem);
  if (!first) throw new Error('the CA certificate is not a PEM certificate');
  return new x509.X509Certificate(first);
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive
  b[0] |= 0x01; // no leading zero byte
  return Buffer.from(b).toString('hex');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

export interface GenerateCaOptions {
  readonly now?: Date;
  readonly days?: number;
  readonly commonName?: string;
}

/** A new self-signed CA (basicConstraints CA:true, pathLen 0; keyCertSign + cRLSign). */
export async function generateCa(opts: GenerateCaOptions = {}): Promise<CaSecret> {
  const keys = await newKeys();
  const { notBefore, notAfter } = validityWindow(opts.now ?? new Date(), opts.days ?? CA_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.commonName ?? CA_COMMON_NAME] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { caCert: cert.toString('pem'), caKey: await keyToPem(keys.privateKey) };
}

export interface IssueOptions {
  readonly commonName: string;
  readonly sans?: SubjectAltNames;
  /** serverAuth + clientAuth (members: etcd uses the same certificate for both sides of peer TLS), or clientAuth only. */
  readonly usage: 'member' | 'client';
  readonly days: number;
  readonly now?: Date;
}

/** Issues a certificate with a fresh key, signed by the CA. */
export async function issue(ca: CaSecret, opts: IssueOptions): Promise<KeyPairPem> {
  const caCert = issuingCa(ca.caCert);
  const signingKey = await importSigningKey(ca.caKey);
  const keys = await newKeys();
  const { notBefore, notAfter } = validityWindow(opts.now ?? new Date(), opts.days);
  const eku =
    opts.usage === 'member'
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const names: x509.JsonGeneralName[] = [
    ...(opts.sans?.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.sans?.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.commonName] }],
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await keyToPem(keys.privateKey) };
}

/** A member's server/peer certificate. */
export function issueMemberCert(
  ca: CaSecret,
  commonName: string,
  sans: SubjectAltNames,
  now?: Date,
  days = MEMBER_CERT_VALIDITY_DAYS,
): Promise<KeyPairPem> {
  return issue(ca, { commonName, sans, usage: 'member', days, now });
}

/** A client identity (clientAuth only) with the CA certificate, as stored in a client identity secret. */
export async function issueClientIdentity(
  ca: CaSecret,
  opts: { commonName?: string; days?: number; now?: Date } = {},
): Promise<ClientIdentitySecret> {
  const kp = await issue(ca, {
    commonName: opts.commonName ?? CLIENT_COMMON_NAME,
    usage: 'client',
    days: opts.days ?? CLIENT_CERT_VALIDITY_DAYS,
    now: opts.now,
  });
  return { ca: ca.caCert, cert: kp.cert, key: kp.key };
}

/** What the renewal decision needs to know about a certificate found on disk. */
export async function inspect(certPem: string, caCertPem: string): Promise<ExistingCert> {
  const cert = new x509.X509Certificate(certPem);
  const ca = issuingCa(caCertPem);
  const ips: string[] = [];
  const dnsNames: string[] = [];
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const n of san?.names.toJSON() ?? []) {
    if (n.type === 'ip') ips.push(n.value);
    if (n.type === 'dns') dnsNames.push(n.value);
  }
  let signedByCa = false;
  try {
    signedByCa = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    signedByCa = false;
  }
  return { notBefore: cert.notBefore, notAfter: cert.notAfter, sans: { ips, dnsNames }, signedByCa };
}

/** notAfter of a PEM certificate (of a bundle: the earliest). */
export function notAfterOf(certPem: string): Date {
  const all = splitPem(certPem).map((p) => new x509.X509Certificate(p).notAfter.getTime());
  if (all.length === 0) throw new Error('not a PEM certificate');
  return new Date(Math.min(...all));
}

/** Whether the private key (PKCS#8 PEM) belongs to the certificate. */
export async function keyMatchesCert(certPem: string, keyPem: string): Promise<boolean> {
  const cert = new x509.X509Certificate(certPem);
  const key = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), ALG, true, [
    'sign',
  ]);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  const pub = await crypto.subtle.exportKey('jwk', await cert.publicKey.export(ALG, ['verify'], crypto));
  return jwk.x === pub.x && jwk.y === pub.y;
}
