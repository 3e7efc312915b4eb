/*
 * Entry of the TLS material custom resource (a Lambda-backed CloudFormation custom resource, invoked by
 * CloudFormation directly). Thin: parse the event, run ensureTlsMaterial, PUT the response to the
 * pre-signed ResponseURL (the custom resource protocol). Configuration comes only from the resource
 * properties (secret ARNs, not secret values): the function has no environment variables.
 */
import * as http from 'http';
import * as https from 'https';
import { createSecretsClient, SecretsAdapter } from '../adapters/secrets';
import { checkProps, ensureTlsMaterial, SecretsPort } from './handler';

export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: Record<string, unknown>;
}

let secretsFactory: () => SecretsPort = () =>
  new SecretsAdapter(createSecretsClient(process.env.AWS_REGION ?? ''));

/** Replaces the Secrets Manager port (tests); without an argument, restores the real one. */
export function setSecretsFactory(f?: () => SecretsPort): void {
  secretsFactory = f ?? (() => new SecretsAdapter(createSecretsClient(process.env.AWS_REGION ?? '')));
}

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level: 'info', message, ...fields }));
}

export async function handler(event: CustomResourceEvent): Promise<void> {
  const physicalId = event.PhysicalResourceId ?? `${event.LogicalResourceId}-tls-material`;
  let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  let reason = '';
  let data: Record<string, string> = {};
  try {
    if (event.RequestType !== 'Delete') {
      const props = checkProps(event.ResourceProperties);
      const r = await ensureTlsMaterial(props, secretsFactory());
      log('TLS material ensured', { ...r });
      data = { CaNotAfter: r.caNotAfter, ClientNotAfter: r.clientNotAfter };
      reason = r.reason;
    }
  } catch (err) {
    status = 'FAILED';
    reason = (err as Error).message;
    log('TLS material failed', { error: reason });
  }
  await respond(event.ResponseURL, {
    Status: status,
    Reason: reason.slice(0, 1000) || status,
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: data,
  });
}

/** PUT of the response document, as cfn-response does (empty content-type: the URL is pre-signed without one). */
export function respond(url: string, body: Record<string, unknown>, timeoutMs = 30_000): Promise<void> {
  const text = JSON.stringify(body);
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(text) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode && res.statusCode < 300
            ? resolve()
            : reject(new Error(`response PUT: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('response PUT timed out')));
    req.on('error', reject);
    req.end(text);
  });
}
