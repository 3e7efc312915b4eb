/*
 * The join agent's config file (/etc/etcd-agent/config.json on an instance): its shape, the writer the
 * construct (and the local fleet, through the construct's renderAgentConfig) uses, and the validating
 * reader the agent runs. The reader touches exactly the fields of AgentConfig, one property read each, so a
 * test can record which fields it reads (test/construct/contract.test.ts).
 */
import { DEFAULTS } from './defaults';
import { CompactionMode, JoinStrategy, OutputFormat, RestorePolicy, Scheme } from './enums';
import { ConfigError } from './errors';

export interface AgentConfig {
  readonly strategy: JoinStrategy;
  /** The largest number of members (voters + learners + unstarted) the agent may create. */
  readonly sizeCap: number;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly scheme: Scheme;
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
  /**
   * The file that holds the name of the S3 bucket of snapshots and restore records (the construct writes it: a
   * name in the JSON would break its token); absent: no restore gate.
   */
  readonly backupBucketFile?: string;
  /** Key prefix inside the backup bucket. */
  readonly backupPrefix?: string;
  /** The snapshot restore command (argv), run as `<cmd> snapshot restore FILE ...`: etcdutl (3.5+) or etcdctl (3.4). */
  readonly restoreCommand?: readonly string[];
  /** The group's restore policy, for the agent's log lines only. */
  readonly restorePolicy?: RestorePolicy;
  /**
   * The incremental backup log (issue 16): `agent.js ship` sends every revision to the backup bucket in
   * chunks at most this many seconds old. Absent: no incremental log (full snapshots only).
   */
  readonly incrementalBackupSeconds?: number;
  /**
   * The etcd binary of the configured image (argv), copied out of it as the restore tool is: a restore
   * replays the incremental log into a scratch etcd on the restored data before etcd-member starts, and a
   * restore drill starts one on a scratch copy. Required with `incrementalBackupSeconds`.
   */
  readonly etcdCommand?: readonly string[];
  /**
   * Let this group bootstrap a new, EMPTY cluster when no member is reachable even though the backup bucket
   * holds an earlier cluster (snapshots or restore records). An explicit choice.
   */
  readonly emptyStartBesideBackups?: boolean;
  /** TLS for peers and clients (scheme must be https); absent: plain http. */
  readonly tls?: AgentTlsConfig;
  /** etcd's backend settings (quota, compaction, corruption checks), written as ETCD_* settings. */
  readonly backend: AgentBackendConfig;
  /**
   * The etcd release this member runs (`3.5.26`), for the version-skew check before a join; absent when the
   * construct cannot tell (a custom image without a version tag): no check, and the agent logs that.
   */
  readonly etcdVersion?: string;
  /**
   * The rollout gate: the CloudFormation resource (the Auto Scaling group) this instance signals once, with
   * SUCCESS when its first promotion made it a healthy voter and completed its launch lifecycle action, or
   * FAILURE when it refused to join and abandoned its launch. Absent: no signal (no gated rollout).
   */
  readonly rolloutSignal?: AgentRolloutSignalConfig;
}

/** Where the agent sends its `cloudformation:SignalResource` (UniqueId: its instance id). */
export interface AgentRolloutSignalConfig {
  /** The stack's name (or id). */
  readonly stackName: string;
  /** The group's logical id in that stack. */
  readonly logicalResourceId: string;
}

/** etcd's backend settings, as the agent writes them for etcd. */
export interface AgentBackendConfig {
  /** `--quota-backend-bytes`. */
  readonly quotaBackendBytes: number;
  /** `--auto-compaction-mode`; NONE writes no auto-compaction setting. */
  readonly compactionMode: CompactionMode;
  /** `--auto-compaction-retention` in etcd's syntax: a duration (`1h`, `30m`) or a revision count. */
  readonly compactionRetention: string;
  /** Corruption checks: `--experimental-initial-corrupt-check` and the periodic hash comparison. */
  readonly corruptCheck: boolean;
  /** `--experimental-corrupt-check-time`, in seconds. */
  readonly corruptCheckIntervalSeconds: number;
}

/** Where the agent gets the cluster CA and puts this member's certificate. */
export interface AgentTlsConfig {
  /** Secrets Manager secret (name or ARN) holding the CA as JSON {caCert, caKey} (PEM). */
  readonly caSecretId: string;
  /** Directory the agent writes ca.crt, member.crt and member.key (0600) to. */
  readonly certDir: string;
  /** The same directory as etcd sees it (etcd runs in a container on Flatcar). Absent when read: certDir. */
  readonly etcdCertDir: string;
}

/**
 * The config as JSON-ready data: every field that is set, in a fixed order, nothing else. Serialize it with
 * JSON.stringify (the construct: with its token-aware variant).
 */
export function writeAgentConfig(c: AgentConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    strategy: c.strategy,
    sizeCap: c.sizeCap,
    peerPort: c.peerPort,
    clientPort: c.clientPort,
    scheme: c.scheme,
    tls: c.tls && { caSecretId: c.tls.caSecretId, certDir: c.tls.certDir, etcdCertDir: c.tls.etcdCertDir },
    dataDir: c.dataDir,
    envFile: c.envFile,
    output: c.output,
    launchHookName: c.launchHookName,
    deadlineSeconds: c.deadlineSeconds,
    heartbeatSeconds: c.heartbeatSeconds,
    retryDelayMs: c.retryDelayMs,
    backupBucketFile: c.backupBucketFile,
    backupPrefix: c.backupPrefix,
    restoreCommand: c.restoreCommand && [...c.restoreCommand],
    restorePolicy: c.restorePolicy,
    incrementalBackupSeconds: c.incrementalBackupSeconds,
    etcdCommand: c.etcdCommand && [...c.etcdCommand],
    emptyStartBesideBackups: c.emptyStartBesideBackups,
    backend: {
      quotaBackendBytes: c.backend.quotaBackendBytes,
      compactionMode: c.backend.compactionMode,
      compactionRetention: c.backend.compactionRetention,
      corruptCheck: c.backend.corruptCheck,
      corruptCheckIntervalSeconds: c.backend.corruptCheckIntervalSeconds,
    },
    etcdVersion: c.etcdVersion,
    rolloutSignal: c.rolloutSignal && {
      stackName: c.rolloutSignal.stackName,
      logicalResourceId: c.rolloutSignal.logicalResourceId,
    },
  };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

/** Parses the config file's text and validates it (see {@link readAgentConfig}). */
export function parseAgentConfig(text: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config is not valid JSON: ${(err as Error).message}`);
  }
  return readAgentConfig(raw);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a parsed config and fills in the defaults; every problem is reported, each naming its field. */
export function readAgentConfig(raw: unknown): AgentConfig {
  if (!isObject(raw)) throw new ConfigError('config must be a JSON object');
  const errors: string[] = [];
  const field = <T>(name: string, dflt?: T): unknown => {
    const v = raw[name];
    return v === undefined ? dflt : v;
  };
  const oneOf = <T extends string>(name: string, values: readonly string[], dflt?: T): T => {
    const v = field(name, dflt);
    if (!values.includes(v as string))
      errors.push(`${name}: must be one of ${values.join(', ')} (got ${JSON.stringify(v)})`);
    return v as T;
  };
  const int = (name: string, min: number, max: number, dflt?: number): number => {
    const v = field(name, dflt);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      errors.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const absolute = (name: string, v: unknown): string => {
    if (typeof v !== 'string' || !v.startsWith('/'))
      errors.push(`${name}: must be an absolute path (got ${JSON.stringify(v)})`);
    return v as string;
  };
  const str = (name: string, dflt: string): string => {
    const v = field(name, dflt);
    if (typeof v !== 'string') errors.push(`${name}: must be a string`);
    return v as string;
  };

  const strategy = oneOf<JoinStrategy>('strategy', Object.values(JoinStrategy));
  const sizeCap = int('sizeCap', 1, 9);
  const peerPort = int('peerPort', 1, 65535);
  const clientPort = int('clientPort', 1, 65535);
  const deadlineSeconds = int('deadlineSeconds', 5, 7200, DEFAULTS.deadlineSeconds);
  const heartbeatSeconds = int('heartbeatSeconds', 1, 3600, DEFAULTS.heartbeatSeconds);
  const retryDelayMs = int('retryDelayMs', 10, 60000, DEFAULTS.retryDelayMs);
  const scheme = field('scheme', DEFAULTS.scheme) as Scheme;
  if (scheme !== 'http' && scheme !== 'https')
    errors.push(`scheme: must be http or https (got ${JSON.stringify(scheme)})`);
  const dataDir = absolute('dataDir', field('dataDir'));
  const envFile = absolute('envFile', field('envFile'));
  const output = oneOf<OutputFormat>('output', Object.values(OutputFormat), DEFAULTS.output);
  const launchHookName = str('launchHookName', DEFAULTS.launchHookName);
  const bucketFile = field('backupBucketFile');
  const backupBucketFile = bucketFile === undefined ? undefined : absolute('backupBucketFile', bucketFile);
  const backupPrefix = str('backupPrefix', DEFAULTS.backupPrefix);
  const emptyStartBesideBackups = field('emptyStartBesideBackups', DEFAULTS.emptyStartBesideBackups);
  if (typeof emptyStartBesideBackups !== 'boolean')
    errors.push(
      `emptyStartBesideBackups: must be true or false (got ${JSON.stringify(emptyStartBesideBackups)})`,
    );
  const restorePolicy = field('restorePolicy', DEFAULTS.restorePolicy) as RestorePolicy;
  if (!(Object.values(RestorePolicy) as string[]).includes(restorePolicy))
    errors.push(`restorePolicy: must be manual or automatic (got ${JSON.stringify(restorePolicy)})`);
  // Required with a backup bucket (the construct writes the etcd image's own tool); no default.
  const restoreCommand = field('restoreCommand');
  const gated = backupBucketFile !== undefined;
  if (
    (restoreCommand !== undefined || gated) &&
    (!Array.isArray(restoreCommand) ||
      restoreCommand.length === 0 ||
      restoreCommand.some((a) => typeof a !== 'string' || a === ''))
  )
    errors.push(
      `restoreCommand: must be a non-empty array of strings${gated ? ' with a backup bucket' : ''} (got ${JSON.stringify(restoreCommand)})`,
    );
  const incrementalBackupSeconds = field('incrementalBackupSeconds');
  if (
    incrementalBackupSeconds !== undefined &&
    (typeof incrementalBackupSeconds !== 'number' ||
      !Number.isInteger(incrementalBackupSeconds) ||
      incrementalBackupSeconds < 1 ||
      incrementalBackupSeconds > 300)
  )
    errors.push(
      `incrementalBackupSeconds: must be an integer from 1 to 300 (got ${JSON.stringify(incrementalBackupSeconds)})`,
    );
  if (incrementalBackupSeconds !== undefined && !gated)
    errors.push('incrementalBackupSeconds: needs backupBucketFile (the log goes to the backup bucket)');
  const etcdCommand = field('etcdCommand');
  if (
    (etcdCommand !== undefined || incrementalBackupSeconds !== undefined) &&
    (!Array.isArray(etcdCommand) ||
      etcdCommand.length === 0 ||
      etcdCommand.some((a) => typeof a !== 'string' || a === ''))
  )
    errors.push(
      `etcdCommand: must be a non-empty array of strings${incrementalBackupSeconds !== undefined ? ' with incrementalBackupSeconds' : ''} (got ${JSON.stringify(etcdCommand)})`,
    );
  if (peerPort === clientPort && typeof peerPort === 'number')
    errors.push('peerPort: must differ from clientPort');
  const tls = readTls(field('tls'), scheme, errors);
  const backend = readBackend(field('backend', {}), errors);
  const etcdVersion = field('etcdVersion');
  if (etcdVersion !== undefined && (typeof etcdVersion !== 'string' || !/^\d+\.\d+\.\d+/.test(etcdVersion)))
    errors.push(`etcdVersion: must be a version such as 3.5.26 (got ${JSON.stringify(etcdVersion)})`);
  const rolloutSignal = readRolloutSignal(field('rolloutSignal'), errors);
  if (errors.length > 0) throw new ConfigError(`invalid config: ${errors.join('; ')}`);
  return {
    strategy,
    sizeCap,
    peerPort,
    clientPort,
    scheme,
    dataDir,
    envFile,
    output,
    launchHookName,
    deadlineSeconds,
    heartbeatSeconds,
    retryDelayMs,
    ...(backupBucketFile !== undefined && { backupBucketFile }),
    backupPrefix,
    ...(restoreCommand !== undefined && { restoreCommand: restoreCommand as readonly string[] }),
    restorePolicy,
    ...(incrementalBackupSeconds !== undefined && {
      incrementalBackupSeconds: incrementalBackupSeconds as number,
    }),
    ...(etcdCommand !== undefined && { etcdCommand: etcdCommand as readonly string[] }),
    emptyStartBesideBackups: emptyStartBesideBackups as boolean,
    ...(tls && { tls }),
    backend,
    ...(etcdVersion !== undefined && { etcdVersion: etcdVersion as string }),
    ...(rolloutSignal && { rolloutSignal }),
  };
}

function readRolloutSignal(r: unknown, errors: string[]): AgentRolloutSignalConfig | undefined {
  if (r === undefined) return undefined;
  if (!isObject(r)) {
    errors.push('rolloutSignal: must be an object');
    return undefined;
  }
  const stackName = r.stackName;
  const logicalResourceId = r.logicalResourceId;
  if (typeof stackName !== 'string' || stackName === '')
    errors.push(`rolloutSignal.stackName: must be a stack name or id (got ${JSON.stringify(stackName)})`);
  if (typeof logicalResourceId !== 'string' || !/^[A-Za-z0-9]+$/.test(logicalResourceId))
    errors.push(
      `rolloutSignal.logicalResourceId: must be a logical id (letters and digits; got ${JSON.stringify(logicalResourceId)})`,
    );
  return { stackName, logicalResourceId } as AgentRolloutSignalConfig;
}

const MAX_QUOTA = 100 * 1024 * 1024 * 1024; // etcd warns above 8 GiB; 100 GiB is far beyond anything sane

function readBackend(b: unknown, errors: string[]): AgentBackendConfig {
  if (!isObject(b)) {
    errors.push('backend: must be an object');
    return undefined as unknown as AgentBackendConfig;
  }
  const get = (name: string, dflt: unknown) => (b[name] === undefined ? dflt : b[name]);
  const quotaBackendBytes = get('quotaBackendBytes', DEFAULTS.quotaBackendBytes);
  if (
    typeof quotaBackendBytes !== 'number' ||
    !Number.isInteger(quotaBackendBytes) ||
    quotaBackendBytes < 1024 * 1024 ||
    quotaBackendBytes > MAX_QUOTA
  )
    errors.push(
      `backend.quotaBackendBytes: must be an integer from 1 MiB to 100 GiB (got ${JSON.stringify(quotaBackendBytes)})`,
    );
  const compactionMode = get('compactionMode', DEFAULTS.compactionMode) as CompactionMode;
  if (!(Object.values(CompactionMode) as string[]).includes(compactionMode))
    errors.push(
      `backend.compactionMode: must be one of ${Object.values(CompactionMode).join(', ')} (got ${JSON.stringify(compactionMode)})`,
    );
  const compactionRetention = get('compactionRetention', DEFAULTS.compactionRetention);
  const retentionOk =
    typeof compactionRetention === 'string' &&
    (compactionMode === CompactionMode.REVISION
      ? /^[1-9]\d*$/.test(compactionRetention)
      : /^(\d+(\.\d+)?(h|m|s))+$|^[1-9]\d*$/.test(compactionRetention));
  if (!retentionOk && compactionMode !== CompactionMode.NONE)
    errors.push(
      `backend.compactionRetention: must be ${compactionMode === CompactionMode.REVISION ? 'a positive revision count' : 'a duration such as 1h or 30m'} (got ${JSON.stringify(compactionRetention)})`,
    );
  const corruptCheck = get('corruptCheck', DEFAULTS.corruptCheck);
  if (typeof corruptCheck !== 'boolean')
    errors.push(`backend.corruptCheck: must be true or false (got ${JSON.stringify(corruptCheck)})`);
  const corruptCheckIntervalSeconds = get(
    'corruptCheckIntervalSeconds',
    DEFAULTS.corruptCheckIntervalSeconds,
  );
  if (
    typeof corruptCheckIntervalSeconds !== 'number' ||
    !Number.isInteger(corruptCheckIntervalSeconds) ||
    corruptCheckIntervalSeconds < 1 ||
    corruptCheckIntervalSeconds > 7 * 24 * 3600
  )
    errors.push(
      `backend.corruptCheckIntervalSeconds: must be an integer from 1 to 604800 (got ${JSON.stringify(corruptCheckIntervalSeconds)})`,
    );
  return {
    quotaBackendBytes: quotaBackendBytes as number,
    compactionMode,
    compactionRetention: compactionRetention as string,
    corruptCheck: corruptCheck as boolean,
    corruptCheckIntervalSeconds: corruptCheckIntervalSeconds as number,
  };
}

function readTls(t: unknown, scheme: unknown, errors: string[]): AgentTlsConfig | undefined {
  if (t === undefined) {
    if (scheme === 'https') errors.push('tls: required when scheme is https');
    return undefined;
  }
  if (!isObject(t)) {
    errors.push('tls: must be an object');
    return undefined;
  }
  const caSecretId = t.caSecretId;
  if (typeof caSecretId !== 'string' || caSecretId === '')
    errors.push('tls.caSecretId: must be a secret name or ARN');
  const certDir = t.certDir;
  const etcdCertDir = t.etcdCertDir ?? certDir;
  for (const [name, v] of [
    ['certDir', certDir],
    ['etcdCertDir', t.etcdCertDir],
  ] as const) {
    if (name === 'etcdCertDir' && v === undefined) continue; // absent: certDir
    if (typeof v !== 'string' || !v.startsWith('/'))
      errors.push(`tls.${name}: must be an absolute path (got ${JSON.stringify(v)})`);
  }
  if (scheme !== 'https') errors.push('scheme: must be https when tls is set');
  return { caSecretId, certDir, etcdCertDir } as AgentTlsConfig;
}
