/*
 * The lifecycle Lambda's environment: the variable names, the settings they carry, the writer the construct
 * (and the local fleet, through the construct's lifecycleEnvironment) uses, and the validating reader the
 * Lambda runs at every invocation. The reader reads each variable by one property access, so a test can
 * record which variables it reads (test/construct/contract.test.ts).
 */
import { DEFAULTS } from './defaults';
import { CompactionMode, JoinStrategy, RestorePolicy, Scheme } from './enums';
import { ConfigError } from './errors';

/** The variable that carries each setting. */
export const LIFECYCLE_ENV = {
  groupName: 'GROUP_NAME',
  clientPort: 'CLIENT_PORT',
  peerPort: 'PEER_PORT',
  scheme: 'SCHEME',
  tlsClientSecretId: 'TLS_CLIENT_SECRET_ID',
  strategy: 'STRATEGY',
  launchHookName: 'LAUNCH_HOOK_NAME',
  terminateHookName: 'TERMINATE_HOOK_NAME',
  unstartedGraceSeconds: 'UNSTARTED_GRACE_SECONDS',
  backupBucket: 'BACKUP_BUCKET',
  backupPrefix: 'BACKUP_PREFIX',
  restorePolicy: 'RESTORE_POLICY',
  restoreAfterSeconds: 'RESTORE_AFTER_SECONDS',
  snapshotBeforeRemoval: 'SNAPSHOT_BEFORE_REMOVAL',
  incrementalBackupSeconds: 'INCREMENTAL_BACKUP_SECONDS',
  logCompaction: 'LOG_COMPACTION',
  restoreDrills: 'RESTORE_DRILLS',
  quotaBackendBytes: 'QUOTA_BACKEND_BYTES',
  maintenance: 'MAINTENANCE',
  reclaimPercent: 'DEFRAG_RECLAIM_PERCENT',
  reclaimMinBytes: 'DEFRAG_RECLAIM_MIN_BYTES',
  maintenanceBudgetSeconds: 'MAINTENANCE_BUDGET_SECONDS',
} as const;

/** Variables the reader reads that the platform sets, not the writer: Lambda sets AWS_REGION. */
export const PLATFORM_VARIABLES: readonly string[] = ['AWS_REGION'];

/** What the construct decides: everything the reader returns except what the platform provides. */
export interface LifecycleSettings {
  /** The Auto Scaling group this function manages. Events of other groups are ignored. */
  readonly groupName: string;
  /** etcd client port of every member. */
  readonly clientPort: number;
  /** etcd peer port of every member. */
  readonly peerPort: number;
  /** Scheme of peer and client URLs. */
  readonly scheme: Scheme;
  /** The group's join strategy. */
  readonly strategy: JoinStrategy;
  /** How long reconcile leaves an unstarted member alone. */
  readonly unstartedGraceSeconds: number;
  /** When set, actions of other hooks are ignored. Absent: any hook. */
  readonly launchHookName?: string;
  readonly terminateHookName?: string;
  /**
   * Name or ARN of the client identity secret ({ca, cert, key} PEM) used towards etcd; required when scheme
   * is https, not allowed otherwise.
   */
  readonly tlsClientSecretId?: string;
  /** Backups and restore (absent: no backups, no restore). */
  readonly backup?: BackupConfig;
  /** The members' backend quota (`--quota-backend-bytes`), for the quota gauge. */
  readonly quotaBackendBytes: number;
  /** Defragmentation and NOSPACE recovery by the maintenance runs; absent: off (runs only report). */
  readonly maintenance?: MaintenanceConfig;
}

/** When the maintenance runs defragment, and how long a run may go on. */
export interface MaintenanceConfig {
  /** Defragment a member only when at least this percentage of its backend is reclaimable (0-100)... */
  readonly reclaimPercent: number;
  /** ...and at least this many bytes are. */
  readonly reclaimMinBytes: number;
  /** A run starts no step after this many seconds (below the function's timeout). */
  readonly budgetSeconds: number;
}

/** The handler's configuration: the settings and the region. */
export interface LifecycleConfig extends LifecycleSettings {
  /** AWS_REGION (set by Lambda). */
  readonly region: string;
}

export interface BackupConfig {
  /** The S3 bucket of snapshots and restore records. */
  readonly bucket: string;
  /** Key prefix inside the bucket. */
  readonly prefix: string;
  readonly restorePolicy: RestorePolicy;
  /** How long quorum must be lost for good before an automatic restore. */
  readonly restoreAfterSeconds: number;
  /** Take a snapshot before each member removal. */
  readonly snapshotBeforeRemoval: boolean;
  /** The incremental log's chunk age bound (the members ship it, issue 16); absent: no incremental log. */
  readonly incrementalBackupSeconds?: number;
  /**
   * With the incremental log, the Lambda compacts instead of etcd (never past the shipped revisions): what
   * to keep. Absent: nothing compacts (`EtcdCompaction.none()`). Written as `periodic:<seconds>` or
   * `revisions:<count>`.
   */
  readonly logCompaction?: LogCompactionSetting;
  /**
   * The members drill restores of the backups (etcd-backup-drill.timer, `agent.js drill`, issue 16): the
   * reconcile publishes LastVerifiedRestoreAgeSeconds. Absent or false: no drills, no metric.
   */
  readonly restoreDrills?: boolean;
}

/** What the Lambda's compaction keeps while the incremental log is on (etcd's auto-compaction terms). */
export interface LogCompactionSetting {
  readonly kind: 'periodic' | 'revisions';
  /** periodic: seconds of revisions; revisions: how many. */
  readonly keep: number;
}

/** The environment that carries `s` (strings; numbers in decimal), in a fixed order; unset settings are left out. */
export function writeLifecycleEnvironment(s: LifecycleSettings): Record<string, string> {
  const E = LIFECYCLE_ENV;
  const b = s.backup;
  const env: Record<string, string | undefined> = {
    [E.groupName]: s.groupName,
    [E.clientPort]: String(s.clientPort),
    [E.peerPort]: String(s.peerPort),
    [E.scheme]: s.scheme,
    [E.tlsClientSecretId]: s.tlsClientSecretId,
    [E.strategy]: s.strategy,
    [E.launchHookName]: s.launchHookName,
    [E.terminateHookName]: s.terminateHookName,
    [E.unstartedGraceSeconds]: String(s.unstartedGraceSeconds),
    [E.backupBucket]: b?.bucket,
    [E.backupPrefix]: b?.prefix,
    [E.restorePolicy]: b?.restorePolicy,
    [E.restoreAfterSeconds]: b && String(b.restoreAfterSeconds),
    [E.snapshotBeforeRemoval]: b && String(b.snapshotBeforeRemoval),
    [E.incrementalBackupSeconds]:
      b?.incrementalBackupSeconds === undefined ? undefined : String(b.incrementalBackupSeconds),
    [E.logCompaction]:
      b?.incrementalBackupSeconds === undefined
        ? undefined
        : b.logCompaction
          ? `${b.logCompaction.kind}:${b.logCompaction.keep}`
          : 'none',
    [E.restoreDrills]: b?.restoreDrills ? 'true' : undefined,
    [E.quotaBackendBytes]: String(s.quotaBackendBytes),
    [E.maintenance]: String(s.maintenance !== undefined),
    [E.reclaimPercent]: s.maintenance && String(s.maintenance.reclaimPercent),
    [E.reclaimMinBytes]: s.maintenance && String(s.maintenance.reclaimMinBytes),
    [E.maintenanceBudgetSeconds]: s.maintenance && String(s.maintenance.budgetSeconds),
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and validates the environment; every problem is reported in one ConfigError, each naming its variable. */
export function readLifecycleEnvironment(env: Env): LifecycleConfig {
  const E = LIFECYCLE_ENV;
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
  const oneOf = (name: string, values: readonly string[], dflt?: string): string | undefined => {
    const v = str(name) ?? dflt;
    if (v === undefined) errors.push(`${name}: required (one of ${values.join(', ')})`);
    else if (!values.includes(v))
      errors.push(`${name}: must be one of ${values.join(', ')} (got ${JSON.stringify(v)})`);
    return v;
  };

  const groupName = required(E.groupName);
  const region = required('AWS_REGION');
  const clientPort = int(E.clientPort, DEFAULTS.clientPort, 1, 65535);
  const peerPort = int(E.peerPort, DEFAULTS.peerPort, 1, 65535);
  const unstartedGraceSeconds = int(
    E.unstartedGraceSeconds,
    DEFAULTS.unstartedGraceSeconds,
    0,
    7 * 24 * 3600,
  );
  const scheme = str(E.scheme) ?? DEFAULTS.scheme;
  if (scheme !== 'http' && scheme !== 'https') {
    errors.push(`${E.scheme}: must be http or https (got ${JSON.stringify(scheme)})`);
  }
  const strategy = oneOf(E.strategy, Object.values(JoinStrategy));
  const tlsClientSecretId = str(E.tlsClientSecretId);
  if (scheme === 'https' && !tlsClientSecretId)
    errors.push(`${E.tlsClientSecretId}: required when ${E.scheme} is https`);
  if (scheme === 'http' && tlsClientSecretId)
    errors.push(`${E.tlsClientSecretId}: only with ${E.scheme} https`);
  if (clientPort === peerPort && errors.length === 0) {
    errors.push(`${E.clientPort} and ${E.peerPort} must differ (both ${clientPort})`);
  }
  const launchHookName = str(E.launchHookName);
  const terminateHookName = str(E.terminateHookName);

  let backup: BackupConfig | undefined;
  const bucket = str(E.backupBucket);
  if (bucket !== undefined) {
    const restorePolicy = oneOf(E.restorePolicy, Object.values(RestorePolicy), DEFAULTS.restorePolicy);
    const before = str(E.snapshotBeforeRemoval) ?? String(DEFAULTS.snapshotBeforeRemoval);
    if (before !== 'true' && before !== 'false') {
      errors.push(`${E.snapshotBeforeRemoval}: must be true or false (got ${JSON.stringify(before)})`);
    }
    backup = {
      bucket,
      prefix: str(E.backupPrefix) ?? DEFAULTS.backupPrefix,
      restorePolicy: restorePolicy as RestorePolicy,
      restoreAfterSeconds: int(E.restoreAfterSeconds, DEFAULTS.restoreAfterSeconds, 0, 7 * 24 * 3600),
      snapshotBeforeRemoval: before === 'true',
      ...(str(E.incrementalBackupSeconds) !== undefined && {
        incrementalBackupSeconds: int(E.incrementalBackupSeconds, 10, 1, 300),
      }),
      ...(str(E.incrementalBackupSeconds) !== undefined && readLogCompaction(str(E.logCompaction), errors)),
      ...(readDrills(str(E.restoreDrills), errors) && { restoreDrills: true }),
    };
  }
  const quotaBackendBytes = int(
    E.quotaBackendBytes,
    DEFAULTS.quotaBackendBytes,
    1024 * 1024,
    100 * 1024 ** 3,
  );
  const maintenanceOn = str(E.maintenance) ?? 'true';
  if (maintenanceOn !== 'true' && maintenanceOn !== 'false')
    errors.push(`${E.maintenance}: must be true or false (got ${JSON.stringify(maintenanceOn)})`);
  const maintenance: MaintenanceConfig | undefined =
    maintenanceOn === 'true'
      ? {
          reclaimPercent: int(E.reclaimPercent, DEFAULTS.reclaimPercent, 0, 100),
          reclaimMinBytes: int(E.reclaimMinBytes, DEFAULTS.reclaimMinBytes, 0, 100 * 1024 ** 3),
          budgetSeconds: int(E.maintenanceBudgetSeconds, DEFAULTS.maintenanceBudgetSeconds, 5, 900),
        }
      : undefined;
  if (errors.length > 0) throw new ConfigError(`invalid configuration: ${errors.join('; ')}`);
  return {
    ...(backup ? { backup } : {}),
    ...(maintenance ? { maintenance } : {}),
    quotaBackendBytes,
    groupName,
    region,
    clientPort,
    peerPort,
    scheme: scheme as Scheme,
    strategy: strategy as JoinStrategy,
    unstartedGraceSeconds,
    launchHookName,
    terminateHookName,
    tlsClientSecretId,
  };
}

/**
 * The backend's auto-compaction in the Lambda's terms (what LOG_COMPACTION carries): periodic retention in
 * seconds (etcd's duration syntax as EtcdCompaction writes it: `1h`, `30m`, `90s`, or combined), a revision
 * count; undefined for NONE.
 */
export function logCompactionOf(b: {
  readonly compactionMode: CompactionMode;
  readonly compactionRetention: string;
}): LogCompactionSetting | undefined {
  if (b.compactionMode === CompactionMode.REVISION)
    return { kind: 'revisions', keep: Number(b.compactionRetention) };
  if (b.compactionMode !== CompactionMode.PERIODIC) return undefined;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(b.compactionRetention);
  const seconds = m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : NaN;
  if (!(seconds > 0)) throw new Error(`compaction retention ${b.compactionRetention}: not a duration`);
  return { kind: 'periodic', keep: seconds };
}

/** LOG_COMPACTION (with the incremental log): absent = etcd's default auto-compaction; `none` = no compaction. */
function readLogCompaction(
  raw: string | undefined,
  errors: string[],
): { logCompaction?: LogCompactionSetting } {
  if (raw === undefined) {
    const d = logCompactionOf({
      compactionMode: DEFAULTS.compactionMode as CompactionMode,
      compactionRetention: DEFAULTS.compactionRetention,
    });
    return d ? { logCompaction: d } : {};
  }
  if (raw === 'none') return {};
  const m = /^(periodic|revisions):([1-9][0-9]{0,11})$/.exec(raw);
  if (!m) {
    errors.push(
      `${LIFECYCLE_ENV.logCompaction}: must be periodic:<seconds>, revisions:<count> or none (got ${JSON.stringify(raw)})`,
    );
    return {};
  }
  return { logCompaction: { kind: m[1] as LogCompactionSetting['kind'], keep: Number(m[2]) } };
}

/** RESTORE_DRILLS: `true`, or absent (no drills). */
function readDrills(v: string | undefined, errors: string[]): boolean {
  if (v === undefined) return false;
  if (v !== 'true')
    errors.push(`${LIFECYCLE_ENV.restoreDrills}: must be true or absent (got ${JSON.stringify(v)})`);
  return v === 'true';
}
