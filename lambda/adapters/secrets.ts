/*
 * Thin adapter over Secrets Manager: read a secret's string, put a new value (the CA custom resource).
 * The client is created by the caller (never at module scope); AWS_ENDPOINT_URL points it at the local stand-in.
 */
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

export function createSecretsClient(region: string): SecretsManagerClient {
  return new SecretsManagerClient({ region, maxAttempts: 4 });
}

export class SecretsAdapter {
  constructor(private readonly client: SecretsManagerClient) {}

  /** The secret's current SecretString; throws when it has none (a binary secret). */
  async getString(secretId: string): Promise<string> {
    const res = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (typeof res.SecretString !== 'string') throw new Error(`secret ${secretId} has no SecretString`);
    return res.SecretString;
  }

  /** Like getString, but undefined when the secret or its value does not exist. */
  async tryGetString(secretId: string): Promise<string | undefined> {
    try {
      return await this.getString(secretId);
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }

  async putString(secretId: string, value: string): Promise<void> {
    await this.client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  }
}
