/*
 * The agent's side of TLS: make sure this member has a certificate from the cluster CA before etcd starts.
 * The CA comes from Secrets Manager; the agent reuses the certificate on disk while it is valid, from the
 * current CA, for this member's addresses and not within the renewal window, and issues a new one
 * otherwise (so a reboot rotates a certificate that is due). The same certificate is the agent's own
 * client identity towards etcd (its usages are serverAuth + clientAuth).
 */
import * as fs from 'fs';
import * as path from 'path';
import { memberCommonName, memberSans, parseCaSecret, renewalDecision } from '../certs/policy';
import { inspect, issueMemberCert, keyMatchesCert } from '../certs/x509';
import type { InstanceMetadata } from '../adapters/aws';
import { retryWithBackoff } from '../adapters/backoff';
import { createSecretsClient, SecretsAdapter } from '../adapters/secrets';
import type { AgentTlsConfig } from './config';
import type { EtcdTlsFiles } from './output';

export const CA_FILE = 'ca.crt';
export const CERT_FILE = 'member.crt';
export const KEY_FILE = 'member.key';

export interface MemberIdentity {
  readonly instanceId: string;
  readonly privateIp: string;
  /** Private DNS name; '' when unknown. */
  readonly dnsName: string;
}

/** PEM material for the etcd3 client (grpc credentials). */
export interface EtcdCredentials {
  readonly rootCertificate: Buffer;
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
}

export interface MemberTls {
  readonly credentials: EtcdCredentials;
  /** The files as etcd sees them (for the ETCD_* settings). */
  readonly etcdFiles: EtcdTlsFiles;
  /** Whether a new certificate was issued (false: the one on disk was reused). */
  readonly issued: boolean;
  readonly reason: string;
  readonly notAfter: Date;
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Reads the CA (readCaSecret returns the secret's JSON), then reuses or issues this member's certificate. */
export async function ensureMemberCert(
  cfg: AgentTlsConfig,
  self: MemberIdentity,
  readCaSecret: () => Promise<string>,
  now: Date = new Date(),
): Promise<MemberTls> {
  const ca = parseCaSecret(await readCaSecret());
  const wanted = memberSans(self.privateIp, self.dnsName || undefined);
  const certPath = path.join(cfg.certDir, CERT_FILE);
  const keyPath = path.join(cfg.certDir, KEY_FILE);
  let cert = readIfExists(certPath);
  let key = readIfExists(keyPath);
  let existing;
  if (cert && key) {
    try {
      existing = (await keyMatchesCert(cert, key)) ? await inspect(cert, ca.caCert) : undefined;
    } catch {
      existing = undefined; // unreadable: issue a new one
    }
  }
  const decision = renewalDecision(existing, wanted, now);
  fs.mkdirSync(cfg.certDir, { recursive: true, mode: 0o755 });
  writeAtomic(path.join(cfg.certDir, CA_FILE), ca.caCert, 0o644);
  let issued = false;
  if (!decision.reuse) {
    const kp = await issueMemberCert(ca, memberCommonName(self.instanceId), wanted, now);
    // key first: a crash in between leaves a mismatched pair, which the next run detects and replaces
    writeAtomic(keyPath, kp.key, 0o600);
    writeAtomic(certPath, kp.cert, 0o644);
    cert = kp.cert;
    key = kp.key;
    issued = true;
  }
  const info = await inspect(cert!, ca.caCert);
  return {
    credentials: {
      rootCertificate: Buffer.from(ca.caCert),
      certChain: Buffer.from(cert!),
      privateKey: Buffer.from(key!),
    },
    etcdFiles: {
      caFile: path.posix.join(cfg.etcdCertDir, CA_FILE),
      certFile: path.posix.join(cfg.etcdCertDir, CERT_FILE),
      keyFile: path.posix.join(cfg.etcdCertDir, KEY_FILE),
    },
    issued,
    reason: decision.reuse ? 'valid certificate on disk' : decision.reason,
    notAfter: info.notAfter,
  };
}

/**
 * ensureMemberCert with this instance's identity from the metadata service and the CA from Secrets
 * Manager (region: AWS_REGION or the instance's), retried with back-off: at boot the network or the
 * credentials may take a moment.
 */
export async function memberTlsFromAws(
  cfg: AgentTlsConfig,
  metadata: InstanceMetadata,
  log: (message: string, fields?: Record<string, unknown>) => void,
  attempts = 5,
): Promise<MemberTls> {
  return retryWithBackoff(
    async () => {
      const id = await metadata.identity();
      const dnsName = await metadata.localHostname().catch(() => '');
      const secrets = new SecretsAdapter(createSecretsClient(process.env.AWS_REGION ?? id.region));
      return ensureMemberCert(cfg, { instanceId: id.instanceId, privateIp: id.privateIp, dnsName }, () =>
        secrets.getString(cfg.caSecretId),
      );
    },
    {
      what: 'member certificate',
      timing: { firstMs: 500, capMs: 4000 },
      attempts,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      log,
      giveUp: (err) => new Error(`member certificate: ${err.message}`),
    },
  );
}

/**
 * The member's client credentials as the last join left them on disk, without the CA secret: the handoff at
 * stop (./handoff.ts) must not wait on Secrets Manager while the instance shuts down.
 */
export function credentialsOnDisk(cfg: AgentTlsConfig): EtcdCredentials {
  const read = (file: string) => fs.readFileSync(path.join(cfg.certDir, file));
  return { rootCertificate: read(CA_FILE), certChain: read(CERT_FILE), privateKey: read(KEY_FILE) };
}
