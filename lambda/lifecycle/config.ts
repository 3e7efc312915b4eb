/*
 * The handler's configuration, read from the environment at invocation time (never at module load: the
 * local fleet sets process.env after loading the bundle's host process and before the first call).
 */
import { RestorePolicy } from '../core/restore';
import { JoinStrategy } from '../core/types';

export interface LifecycleConfig {
  /** GROUP_NAME: the Auto Scaling group this function manages. Events of other groups are ignored. */
  readonly groupName: string;
  /** CLIENT_PORT: etcd client port of every member. @default 2379 */
  readonly clientPort: number;
  /** PEER_PORT: etcd peer port of every member. @default 2380 */
  readonly peerPort: number;
  /** SCHEME: scheme of peer and client URLs. @default 'http' */
  readonly scheme: 'http' | 'https';
  /** STRATEGY: the group's join strategy (prepare | add | replace | prune); required. */
  readonly strategy: JoinStrategy;
  /** UNSTARTED_GRACE_SECONDS: how long reconcile leaves an unstarted member alone. @default 300 */
  readonly unstartedGraceSeconds: number;
  /** AWS_REGION (set by Lambda); required. */
  readonly region: string;
  /** LAUNCH_HOOK_NAME / TERMINATE_HOOK_NAME: when set, actions of other hooks are ignored. @default - any hook */
  readonly launchHookName?: string;
  readonly terminateHookName?: string;
  /**
   * TLS_CLIENT_SECRET_ID: name or ARN of the client identity secret ({ca, cert, key} PEM) used towards
   * etcd; required when SCHEME is https, not allowed otherwise.
   */
  readonly tlsClientSecretId?: string;
  /** Backups and restore (absent when BACKUP_BUCKET is not set: no backups, no restore). */
  readonly backup?: BackupConfig;
}

export interface BackupConfig {
  /** BACKUP_BUCKET: the S3 bucket of snapshots and restore records. */
  readonly bucket: string;
  /** BACKUP_PREFIX: key prefix inside the bucket. @default '' */
  readonly prefix: string;
  /** RESTORE_POLICY: manual | automatic. @default manual */
  readonly restorePolicy: RestorePolicy;
  /** RESTORE_AFTER_SECONDS: how long quorum must be lost for good before an automatic restore. @default 300 */
  readonly restoreAfterSeconds: number;
  /** SNAPSHOT_BEFORE_REMOVAL: take a snapshot before each member removal (true | false). @default true */
  readonly snapshotBeforeRemoval: boolean;
}

export class ConfigError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and validates the environment; every problem is reported in one ConfigError, each naming its variable. */
export function readConfig(env: Env): LifecycleConfig {
  const errors: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (name: string): string => {
    const v = str(name);
    if (v === undefined) errors.push(`${name}: required`);
    return v ?? '';
  };
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return dflt;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return dflt;
    }
    return n;
  };

  const groupName = required('GROUP_NAME');
  const region = required('AWS_REGION');
  const clientPort = int('CLIENT_PORT', 2379, 1, 65535);
  const peerPort = int('PEER_PORT', 2380, 1, 65535);
  const unstartedGraceSeconds = int('UNSTARTED_GRACE_SECONDS', 300, 0, 7 * 24 * 3600);
  const scheme = str('SCHEME') ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') {
    errors.push(`SCHEME: must be http or https (got ${JSON.stringify(scheme)})`);
  }
  const strategies = Object.values(JoinStrategy) as string[];
  const strategy = str('STRATEGY');
  if (strategy === undefined) errors.push(`STRATEGY: required (one of ${strategies.join(', ')})`);
  else if (!strategies.includes(strategy)) {
    errors.push(`STRATEGY: must be one of ${strategies.join(', ')} (got ${JSON.stringify(strategy)})`);
  }
  const tlsClientSecretId = str('TLS_CLIENT_SECRET_ID');
  if (scheme === 'https' && !tlsClientSecretId)
    errors.push('TLS_CLIENT_SECRET_ID: required when SCHEME is https');
  if (scheme === 'http' && tlsClientSecretId) errors.push('TLS_CLIENT_SECRET_ID: only with SCHEME https');
  if (clientPort === peerPort && errors.length === 0) {
    errors.push(`CLIENT_PORT and PEER_PORT must differ (both ${clientPort})`);
  }
  const backup = readBackupConfig(str, int, errors);
  if (errors.length > 0) throw new ConfigError(`invalid configuration: ${errors.join('; ')}`);
  return {
    ...(backup ? { backup } : {}),
    groupName,
    region,
    clientPort,
    peerPort,
    scheme: scheme as 'http' | 'https',
    strategy: strategy as JoinStrategy,
    unstartedGraceSeconds,
    launchHookName: str('LAUNCH_HOOK_NAME'),
    terminateHookName: str('TERMINATE_HOOK_NAME'),
    tlsClientSecretId,
  };
}

function readBackupConfig(
  str: (name: string) => string | undefined,
  int: (name: string, dflt: number, min: number, max: number) => number,
  errors: string[],
): BackupConfig | undefined {
  const bucket = str('BACKUP_BUCKET');
  if (bucket === undefined) return undefined;
  const policies = Object.values(RestorePolicy) as string[];
  const policy = str('RESTORE_POLICY') ?? RestorePolicy.MANUAL;
  if (!policies.includes(policy)) {
    errors.push(`RESTORE_POLICY: must be one of ${policies.join(', ')} (got ${JSON.stringify(policy)})`);
  }
  const before = str('SNAPSHOT_BEFORE_REMOVAL') ?? 'true';
  if (before !== 'true' && before !== 'false') {
    errors.push(`SNAPSHOT_BEFORE_REMOVAL: must be true or false (got ${JSON.stringify(before)})`);
  }
  return {
    bucket,
    prefix: str('BACKUP_PREFIX') ?? '',
    restorePolicy: policy as RestorePolicy,
    restoreAfterSeconds: int('RESTORE_AFTER_SECONDS', 300, 0, 7 * 24 * 3600),
    snapshotBeforeRemoval: before === 'true',
  };
}
