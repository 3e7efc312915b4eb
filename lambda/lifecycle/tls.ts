/*
 * The lifecycle Lambda's client identity towards etcd: read from the client identity secret named by
 * TLS_CLIENT_SECRET_ID (an ARN: not itself a secret; the PEM material never is in the environment) and
 * kept for a few minutes across warm invocations, so a rotated identity is picked up soon.
 */
import { parseClientIdentitySecret } from '../certs/policy';
import { createSecretsClient, SecretsAdapter } from '../adapters/secrets';

export interface EtcdCredentials {
  readonly rootCertificate: Buffer;
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
}

const CACHE_MS = 10 * 60 * 1000;
let cached: { secretId: string; at: number; value: EtcdCredentials } | undefined;

/** The etcd client credentials for this invocation, or undefined when the cluster runs without TLS. */
export async function clientCredentials(
  env: Readonly<Record<string, string | undefined>>,
  now = Date.now(),
  read: (secretId: string) => Promise<string> = (id) =>
    new SecretsAdapter(createSecretsClient(env.AWS_REGION ?? '')).getString(id),
): Promise<EtcdCredentials | undefined> {
  const secretId = env.TLS_CLIENT_SECRET_ID?.trim();
  if (!secretId) return undefined;
  if (cached && cached.secretId === secretId && now - cached.at < CACHE_MS) return cached.value;
  const id = parseClientIdentitySecret(await read(secretId));
  const value = {
    rootCertificate: Buffer.from(id.ca),
    certChain: Buffer.from(id.cert),
    privateKey: Buffer.from(id.key),
  };
  cached = { secretId, at: now, value };
  return value;
}

/** Forgets the cached identity (tests). */
export function clearClientCredentialsCache(): void {
  cached = undefined;
}
