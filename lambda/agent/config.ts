/* The agent's config file (/etc/etcd-agent/config.json, written by the construct's Ignition config). */
import { JoinStrategy } from '../core/types';

export enum OutputFormat {
  /** KEY=value lines: the EnvironmentFile that Flatcar's etcd-member.service reads. */
  ENV = 'env',
  /** A systemd drop-in: [Service] with Environment="KEY=value" lines. */
  DROPIN = 'dropin',
  /** etcd command-line flags, one per line. */
  FLAGS = 'flags',
}

export interface AgentConfig {
  readonly strategy: JoinStrategy;
  readonly sizeCap: number;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly scheme: 'http' | 'https';
  /** etcd's data dir as the agent sees it (and as ETCD_DATA_DIR). */
  readonly dataDir: string;
  /** Where the settings are written. */
  readonly envFile: string;
  readonly output: OutputFormat;
  /** The launch lifecycle hook completed by `promote`; '' = no hook. */
  readonly launchHookName: string;
  /** Overall deadline of one agent run. */
  readonly deadlineSeconds: number;
  /** Interval of lifecycle heartbeats while waiting. */
  readonly heartbeatSeconds: number;
  /** Back-off between observations while the plan says wait (first value; doubles up to 8x). */
  readonly retryDelayMs: number;
  /** S3 bucket of snapshots and restore records; '' = no restore gate. */
  readonly backupBucket?: string;
  /** A file holding the bucket name (the construct writes it: a name in the JSON would break its token). */
  readonly backupBucketFile?: string;
  /** Key prefix inside backupBucket. */
  readonly backupPrefix?: string;
  /** The snapshot restore command (argv), run as `<cmd> snapshot restore FILE ...`: etcdutl (3.5+) or etcdctl (3.4). */
  readonly restoreCommand?: readonly string[];
  /** TLS for peers and clients (scheme must be https); absent: plain http. */
  readonly tls?: AgentTlsConfig;
  /**
   * Let this group bootstrap a new, EMPTY cluster when no member is reachable even though the backup bucket
   * holds an earlier cluster (snapshots or restore records). An explicit choice. @default false
   */
  readonly emptyStartBesideBackups?: boolean;
  /** The group's restore policy (manual | automatic), for the agent's log lines only. @default 'manual' */
  readonly restorePolicy?: string;
}

/** Where the agent gets the cluster CA and puts this member's certificate. */
export interface AgentTlsConfig {
  /** Secrets Manager secret (name or ARN) holding the CA as JSON {caCert, caKey} (PEM). */
  readonly caSecretId: string;
  /** Directory the agent writes ca.crt, member.crt and member.key (0600) to. */
  readonly certDir: string;
  /** The same directory as etcd sees it (etcd runs in a container on Flatcar). @default certDir */
  readonly etcdCertDir: string;
}

export class ConfigError extends Error {}

const DEFAULTS = {
  scheme: 'http',
  output: OutputFormat.ENV,
  launchHookName: '',
  deadlineSeconds: 900,
  heartbeatSeconds: 60,
  retryDelayMs: 500,
  backupBucket: '',
  backupPrefix: '',
  restoreCommand: ['etcdutl'],
  emptyStartBesideBackups: false,
  restorePolicy: 'manual',
} as const;

/** Validates the parsed config; every problem is reported, each naming its field. */
export function parseConfig(text: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('config must be a JSON object');
  }
  const c = { ...DEFAULTS, ...(raw as Record<string, unknown>) } as Record<string, unknown>;
  const errors: string[] = [];
  const strategies = Object.values(JoinStrategy) as string[];
  if (!strategies.includes(c.strategy as string)) {
    errors.push(`strategy: must be one of ${strategies.join(', ')} (got ${JSON.stringify(c.strategy)})`);
  }
  const int = (field: string, min: number, max: number) => {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      errors.push(`${field}: must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    }
  };
  int('sizeCap', 1, 9);
  int('peerPort', 1, 65535);
  int('clientPort', 1, 65535);
  int('deadlineSeconds', 5, 7200);
  int('heartbeatSeconds', 1, 3600);
  int('retryDelayMs', 10, 60000);
  if (c.scheme !== 'http' && c.scheme !== 'https')
    errors.push(`scheme: must be http or https (got ${JSON.stringify(c.scheme)})`);
  for (const field of ['dataDir', 'envFile']) {
    if (typeof c[field] !== 'string' || !(c[field] as string).startsWith('/')) {
      errors.push(`${field}: must be an absolute path (got ${JSON.stringify(c[field])})`);
    }
  }
  const outputs = Object.values(OutputFormat) as string[];
  if (!outputs.includes(c.output as string)) {
    errors.push(`output: must be one of ${outputs.join(', ')} (got ${JSON.stringify(c.output)})`);
  }
  if (typeof c.launchHookName !== 'string') errors.push('launchHookName: must be a string');
  if (typeof c.backupBucket !== 'string') errors.push('backupBucket: must be a string');
  if (
    c.backupBucketFile !== undefined &&
    (typeof c.backupBucketFile !== 'string' || !c.backupBucketFile.startsWith('/'))
  )
    errors.push(`backupBucketFile: must be an absolute path (got ${JSON.stringify(c.backupBucketFile)})`);
  if (typeof c.backupPrefix !== 'string') errors.push('backupPrefix: must be a string');
  if (typeof c.emptyStartBesideBackups !== 'boolean')
    errors.push(
      `emptyStartBesideBackups: must be true or false (got ${JSON.stringify(c.emptyStartBesideBackups)})`,
    );
  if (c.restorePolicy !== 'manual' && c.restorePolicy !== 'automatic')
    errors.push(`restorePolicy: must be manual or automatic (got ${JSON.stringify(c.restorePolicy)})`);
  const rc = c.restoreCommand;
  if (!Array.isArray(rc) || rc.length === 0 || rc.some((a) => typeof a !== 'string' || a === '')) {
    errors.push(`restoreCommand: must be a non-empty array of strings (got ${JSON.stringify(rc)})`);
  }
  if (c.peerPort === c.clientPort && typeof c.peerPort === 'number')
    errors.push('peerPort: must differ from clientPort');
  if (c.tls !== undefined) {
    const t = c.tls as Record<string, unknown>;
    if (!t || typeof t !== 'object' || Array.isArray(t)) errors.push('tls: must be an object');
    else {
      if (typeof t.caSecretId !== 'string' || t.caSecretId === '')
        errors.push('tls.caSecretId: must be a secret name or ARN');
      for (const field of ['certDir', 'etcdCertDir']) {
        if (field === 'etcdCertDir' && t[field] === undefined) continue;
        if (typeof t[field] !== 'string' || !(t[field] as string).startsWith('/'))
          errors.push(`tls.${field}: must be an absolute path (got ${JSON.stringify(t[field])})`);
      }
      if (c.scheme !== 'https') errors.push('scheme: must be https when tls is set');
      c.tls = { ...t, etcdCertDir: t.etcdCertDir ?? t.certDir };
    }
  } else if (c.scheme === 'https') errors.push('tls: required when scheme is https');
  if (errors.length > 0) throw new ConfigError(`invalid config: ${errors.join('; ')}`);
  return c as unknown as AgentConfig;
}
