/*
 * The TLS material custom resource: makes sure the CA secret holds a CA ({caCert, caKey}) and the client
 * identity secret holds a client certificate from that CA ({ca, cert, key}). Idempotent on every
 * Create/Update: an existing valid CA is kept (never replaced behind the members' back), a client
 * identity is re-issued only when missing, from another CA, or within the renewal window. Delete does
 * nothing: the secrets are resources of their own (and a brought CA belongs to the user).
 * No secret material is ever in the response (Data holds expiry dates only).
 */
import {
  CLIENT_CERT_VALIDITY_DAYS,
  daysLeft,
  parseCaSecret,
  parseClientIdentitySecret,
  RENEW_BEFORE_DAYS,
} from '../certs/policy';
import { generateCa, inspect, issueClientIdentity, notAfterOf } from '../certs/x509';

export interface TlsMaterialProps {
  /** Name or ARN of the CA secret. */
  readonly CaSecretId: string;
  /** Name or ARN of the client identity secret. */
  readonly ClientSecretId: string;
  /** 'true': generate a CA when the CA secret holds none; otherwise the CA is brought by the user. */
  readonly GenerateCa: string;
}

export interface SecretsPort {
  tryGetString(secretId: string): Promise<string | undefined>;
  putString(secretId: string, value: string): Promise<void>;
}

export interface TlsMaterialResult {
  readonly caGenerated: boolean;
  readonly clientIssued: boolean;
  readonly reason: string;
  readonly caNotAfter: string;
  readonly clientNotAfter: string;
}

export function checkProps(p: Record<string, unknown> | undefined): TlsMaterialProps {
  const errors: string[] = [];
  for (const f of ['CaSecretId', 'ClientSecretId']) {
    if (typeof p?.[f] !== 'string' || p[f] === '') errors.push(`${f}: required`);
  }
  if (p?.GenerateCa !== 'true' && p?.GenerateCa !== 'false')
    errors.push('GenerateCa: must be "true" or "false"');
  if (errors.length > 0) throw new Error(`invalid properties: ${errors.join('; ')}`);
  return p as unknown as TlsMaterialProps;
}

export async function ensureTlsMaterial(
  props: TlsMaterialProps,
  secrets: SecretsPort,
  now: Date = new Date(),
): Promise<TlsMaterialResult> {
  const caText = await secrets.tryGetString(props.CaSecretId);
  let ca;
  let caGenerated = false;
  try {
    ca = parseCaSecret(caText ?? '');
  } catch (err) {
    if (props.GenerateCa !== 'true') {
      throw new Error(
        `the CA secret ${props.CaSecretId} must hold JSON {"caCert": PEM, "caKey": PKCS#8 PEM}: ${(err as Error).message}`,
      );
    }
    ca = await generateCa({ now });
    await secrets.putString(props.CaSecretId, JSON.stringify(ca));
    caGenerated = true;
  }
  const clientText = await secrets.tryGetString(props.ClientSecretId);
  let reason = 'valid client identity kept';
  let clientIssued = false;
  let clientNotAfter: Date | undefined;
  try {
    const id = parseClientIdentitySecret(clientText ?? '');
    const info = await inspect(id.cert, ca.caCert);
    if (!info.signedByCa || id.ca !== ca.caCert) reason = 'client identity is from another CA';
    else if (daysLeft(info.notAfter, now) < RENEW_BEFORE_DAYS) reason = 'client identity is due for renewal';
    else clientNotAfter = info.notAfter;
  } catch {
    reason = 'no client identity';
  }
  if (!clientNotAfter) {
    const id = await issueClientIdentity(ca, { now, days: CLIENT_CERT_VALIDITY_DAYS });
    await secrets.putString(props.ClientSecretId, JSON.stringify(id));
    clientIssued = true;
    clientNotAfter = notAfterOf(id.cert);
  }
  return {
    caGenerated,
    clientIssued,
    reason,
    caNotAfter: notAfterOf(ca.caCert).toISOString(),
    clientNotAfter: clientNotAfter.toISOString(),
  };
}
