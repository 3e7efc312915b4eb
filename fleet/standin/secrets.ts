/*
 * Secrets Manager (awsJson1_1: POST / with `X-Amz-Target: secretsmanager.<Action>`), just what the agent,
 * the lifecycle Lambda and the CA custom resource call: GetSecretValue and PutSecretValue, on secrets the
 * fleet creates with AwsStandIn.putSecret. A secret is found by its name or its ARN.
 */
import * as crypto from 'crypto';
import { ApiError } from './types';

export const SECRETS_TARGET_PREFIX = 'secretsmanager.';

interface StoredSecret {
  name: string;
  arn: string;
  versionId: string;
  secretString: string;
  createdDate: Date;
}

export class SecretStore {
  private readonly byName = new Map<string, StoredSecret>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** Creates or replaces a secret's current value; returns its ARN. */
  put(name: string, secretString: string): string {
    const existing = this.byName.get(name);
    const arn =
      existing?.arn ??
      `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${crypto.randomBytes(3).toString('hex')}`;
    this.byName.set(name, {
      name,
      arn,
      versionId: crypto.randomUUID(),
      secretString,
      createdDate: new Date(),
    });
    return arn;
  }

  private find(id: unknown): StoredSecret {
    if (typeof id !== 'string' || id === '')
      throw new ApiError(400, 'InvalidParameterException', 'SecretId is required', 'Sender');
    const s = this.byName.get(id) ?? [...this.byName.values()].find((x) => x.arn === id);
    if (!s)
      throw new ApiError(
        400,
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
        'Sender',
      );
    return s;
  }

  /** Answers one call: the response object, or throws ApiError. */
  call(action: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (action) {
      case 'GetSecretValue': {
        const s = this.find(body.SecretId);
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: s.versionId,
          SecretString: s.secretString,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: s.createdDate.getTime() / 1000,
        };
      }
      case 'PutSecretValue': {
        const s = this.find(body.SecretId);
        if (typeof body.SecretString !== 'string')
          throw new ApiError(400, 'InvalidParameterException', 'SecretString is required', 'Sender');
        this.put(s.name, body.SecretString);
        const now = this.byName.get(s.name)!;
        return { ARN: now.arn, Name: now.name, VersionId: now.versionId, VersionStages: ['AWSCURRENT'] };
      }
      default:
        throw new ApiError(400, 'UnknownOperationException', `Unknown operation ${action}`, 'Sender');
    }
  }
}
