/*
 * TLS of a `--tls` fleet, made "the same way" as the construct's: a CA generated once and kept in (the
 * stand-in's) Secrets Manager as {caCert, caKey}, and a client identity {ca, cert, key} in a second secret.
 * Each instance's agent reads the CA secret and issues its own member certificate at boot; the lifecycle
 * Lambda bundle reads the client identity secret. The client identity is also written to DIR/tls/ for
 * users and tests (etcdctl --cacert/--cert/--key; `status --json` reports the paths).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EtcdCredentials } from '../lambda/agent/tls';
import { generateCa, issueClientIdentity } from '../lambda/certs/x509';
import type { AwsStandIn } from './standin';

export const CA_SECRET_NAME = 'etcd-fleet/ca';
export const CLIENT_SECRET_NAME = 'etcd-fleet/client';

/** A client identity of a TLS fleet: PEM files for etcdctl's --cacert/--cert/--key. */
export interface FleetTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface FleetTls {
  readonly caSecretArn: string;
  readonly clientSecretArn: string;
  readonly files: FleetTlsFiles;
  readonly credentials: EtcdCredentials;
}

export async function setUpFleetTls(dir: string, standIn: AwsStandIn): Promise<FleetTls> {
  const ca = await generateCa();
  const client = await issueClientIdentity(ca);
  const caSecretArn = standIn.secrets.put(CA_SECRET_NAME, JSON.stringify(ca));
  const clientSecretArn = standIn.secrets.put(CLIENT_SECRET_NAME, JSON.stringify(client));
  const tlsDir = path.join(dir, 'tls');
  fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const files: FleetTlsFiles = {
    ca: path.join(tlsDir, 'ca.crt'),
    cert: path.join(tlsDir, 'client.crt'),
    key: path.join(tlsDir, 'client.key'),
  };
  fs.writeFileSync(files.ca, client.ca, { mode: 0o644 });
  fs.writeFileSync(files.cert, client.cert, { mode: 0o644 });
  fs.writeFileSync(files.key, client.key, { mode: 0o600 });
  return {
    caSecretArn,
    clientSecretArn,
    files,
    credentials: {
      rootCertificate: Buffer.from(client.ca),
      certChain: Buffer.from(client.cert),
      privateKey: Buffer.from(client.key),
    },
  };
}
