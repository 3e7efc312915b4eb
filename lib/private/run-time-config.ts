/*
 * What the construct writes for the run-time code, from resolved values (plain strings and numbers, which may
 * be CDK tokens): each member's agent config and the lifecycle Lambda's environment. Pure, and free of
 * aws-cdk-lib: the local fleet renders its instances' configs and its Lambda's environment with these same
 * functions, passing its local values (ports, directories, short intervals), so it runs what the construct
 * emits. The shapes, writers and defaults are the contract's (lib/contract).
 */
import {
  AgentBackendConfig,
  AgentConfig,
  AgentRolloutSignalConfig,
  CompactionMode,
  DEFAULTS,
  MaintenanceConfig,
  JoinStrategy,
  LAUNCH_HOOK_NAME,
  logCompactionOf,
  OutputFormat,
  RestorePolicy,
  TERMINATE_HOOK_NAME,
  writeLifecycleEnvironment,
} from '../contract';
import { BACKUP_BUCKET_PATH, ETCD_DATA_DIR, ETCD_ENV_FILE, TLS_ETCD_DIR, TLS_HOST_DIR } from './host-paths';

/** Settings of the backups that both the agent and the Lambda see. */
export interface BackupSettings {
  /** Key prefix in the bucket. */
  readonly prefix: string;
  /** @default DEFAULTS.restorePolicy */
  readonly restorePolicy?: RestorePolicy;
}

/** What an agent config is made of. */
export interface AgentConfigValues {
  readonly strategy: JoinStrategy;
  /** The group's size: the agent's size cap. */
  readonly size: number;
  readonly clientPort: number;
  readonly peerPort: number;
  /** TLS: the CA secret (name or ARN); absent: plain http. */
  readonly caSecretId?: string;
  /** Backups: the restore gate's settings; absent: no gate. */
  readonly backup?: BackupSettings & {
    /** The snapshot restore command (argv): the etcd image's own tool on a member (lib/ignition.ts). */
    readonly restoreCommand: readonly string[];
    /** @default DEFAULTS.emptyStartBesideBackups */
    readonly emptyStartBesideBackups?: boolean;
    /** The incremental log's chunk age bound (`agent.js ship`); absent: no incremental log. */
    readonly incrementalBackupSeconds?: number;
    /** The etcd binary of the image (argv), copied out of it beside the restore tool; absent: not written. */
    readonly etcdCommand?: readonly string[];
  };
  /** Where things are: a member's (host-paths.ts) by default; the fleet's instance directories. */
  readonly paths?: Partial<AgentPaths>;
  /** @default DEFAULTS.deadlineSeconds */
  readonly deadlineSeconds?: number;
  /** @default DEFAULTS.heartbeatSeconds */
  readonly heartbeatSeconds?: number;
  /** @default DEFAULTS.retryDelayMs */
  readonly retryDelayMs?: number;
  /** etcd's backend settings; each absent one: its DEFAULTS value. */
  readonly backend?: Partial<AgentBackendConfig>;
  /** The etcd release the members run, when known (for the agent's version-skew check). */
  readonly etcdVersion?: string;
  /** The rollout gate: the resource the agent signals (the group in its stack); absent: no signal. */
  readonly rolloutSignal?: AgentRolloutSignalConfig;
}

/** The backend settings with the DEFAULTS filled in. */
export function backendSettings(b: Partial<AgentBackendConfig> = {}): AgentBackendConfig {
  return {
    quotaBackendBytes: b.quotaBackendBytes ?? DEFAULTS.quotaBackendBytes,
    compactionMode: b.compactionMode ?? (DEFAULTS.compactionMode as CompactionMode),
    compactionRetention: b.compactionRetention ?? DEFAULTS.compactionRetention,
    corruptCheck: b.corruptCheck ?? DEFAULTS.corruptCheck,
    corruptCheckIntervalSeconds: b.corruptCheckIntervalSeconds ?? DEFAULTS.corruptCheckIntervalSeconds,
  };
}

/**
 * With the incremental backup log etcd's own auto-compaction is off (the agent writes none) and the Lambda
 * compacts behind the log (lambda/lifecycle/log-compaction.ts) with the backend's retention, as
 * LOG_COMPACTION.
 */
/** The files and directories the agent config names. */
export interface AgentPaths {
  readonly dataDir: string;
  readonly envFile: string;
  /** The file that holds the backup bucket's name (the bucket is usually a token: kept out of the JSON). */
  readonly backupBucketFile: string;
  readonly certDir: string;
  /** certDir as etcd sees it. */
  readonly etcdCertDir: string;
}

/** A member's paths (lib/private/host-paths.ts). */
export const MEMBER_PATHS: AgentPaths = {
  dataDir: ETCD_DATA_DIR,
  envFile: ETCD_ENV_FILE,
  backupBucketFile: BACKUP_BUCKET_PATH,
  certDir: TLS_HOST_DIR,
  etcdCertDir: TLS_ETCD_DIR,
};

/** The join agent's config; write it with the contract's writeAgentConfig. */
export function renderAgentConfig(input: AgentConfigValues): AgentConfig {
  const paths = { ...MEMBER_PATHS, ...input.paths };
  const { backup } = input;
  return {
    strategy: input.strategy,
    sizeCap: input.size,
    peerPort: input.peerPort,
    clientPort: input.clientPort,
    scheme: input.caSecretId !== undefined ? 'https' : 'http',
    ...(input.caSecretId !== undefined && {
      tls: { caSecretId: input.caSecretId, certDir: paths.certDir, etcdCertDir: paths.etcdCertDir },
    }),
    dataDir: paths.dataDir,
    envFile: paths.envFile,
    output: OutputFormat.ENV,
    launchHookName: LAUNCH_HOOK_NAME,
    deadlineSeconds: input.deadlineSeconds ?? DEFAULTS.deadlineSeconds,
    heartbeatSeconds: input.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds,
    retryDelayMs: input.retryDelayMs ?? DEFAULTS.retryDelayMs,
    ...(backup && {
      backupBucketFile: paths.backupBucketFile,
      backupPrefix: backup.prefix,
      restoreCommand: backup.restoreCommand,
      restorePolicy: backup.restorePolicy ?? DEFAULTS.restorePolicy,
      emptyStartBesideBackups: backup.emptyStartBesideBackups ?? DEFAULTS.emptyStartBesideBackups,
      ...(backup.incrementalBackupSeconds !== undefined && {
        incrementalBackupSeconds: backup.incrementalBackupSeconds,
      }),
      ...(backup.etcdCommand !== undefined && { etcdCommand: [...backup.etcdCommand] }),
    }),
    backend: backendSettings(input.backend),
    ...(input.etcdVersion !== undefined && { etcdVersion: input.etcdVersion }),
    ...(input.rolloutSignal !== undefined && {
      rolloutSignal: {
        stackName: input.rolloutSignal.stackName,
        logicalResourceId: input.rolloutSignal.logicalResourceId,
      },
    }),
  };
}

/** What the lifecycle Lambda's environment is made of. */
export interface LifecycleEnvironmentValues {
  readonly groupName: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly strategy: JoinStrategy;
  /** @default DEFAULTS.unstartedGraceSeconds */
  readonly unstartedGraceSeconds?: number;
  /** TLS: the client identity secret (name or ARN; the function reads it at run time); absent: plain http. */
  readonly clientSecretId?: string;
  /** Backups and restore; absent: none. */
  readonly backup?: BackupSettings & {
    readonly bucket: string;
    /** @default DEFAULTS.restoreAfterSeconds */
    readonly restoreAfterSeconds?: number;
    /** @default DEFAULTS.snapshotBeforeRemoval */
    readonly snapshotBeforeRemoval?: boolean;
    /** The incremental log's chunk age bound (the members ship it); absent: no incremental log. */
    readonly incrementalBackupSeconds?: number;
    /** The members drill restores (RESTORE_DRILLS: the reconcile publishes LastVerifiedRestoreAgeSeconds). */
    readonly restoreDrills?: boolean;
  };
  /** @default DEFAULTS.quotaBackendBytes */
  readonly quotaBackendBytes?: number;
  /** Defragmentation and NOSPACE recovery: false = off; each absent setting: its DEFAULTS value. */
  readonly maintenance?: Partial<MaintenanceConfig> | false;
  /** etcd's backend settings, as the agents get them: with the incremental log, the Lambda's compaction. */
  readonly backend?: Partial<AgentBackendConfig>;
}

/** The lifecycle Lambda's environment variables (the contract's writer). */
export function renderLifecycleEnvironment(input: LifecycleEnvironmentValues): Record<string, string> {
  const { backup } = input;
  return writeLifecycleEnvironment({
    groupName: input.groupName,
    clientPort: input.clientPort,
    peerPort: input.peerPort,
    scheme: input.clientSecretId !== undefined ? 'https' : 'http',
    tlsClientSecretId: input.clientSecretId,
    strategy: input.strategy,
    launchHookName: LAUNCH_HOOK_NAME,
    terminateHookName: TERMINATE_HOOK_NAME,
    unstartedGraceSeconds: input.unstartedGraceSeconds ?? DEFAULTS.unstartedGraceSeconds,
    ...(backup && {
      backup: {
        bucket: backup.bucket,
        prefix: backup.prefix,
        restorePolicy: backup.restorePolicy ?? DEFAULTS.restorePolicy,
        restoreAfterSeconds: backup.restoreAfterSeconds ?? DEFAULTS.restoreAfterSeconds,
        snapshotBeforeRemoval: backup.snapshotBeforeRemoval ?? DEFAULTS.snapshotBeforeRemoval,
        ...(backup.incrementalBackupSeconds !== undefined && {
          incrementalBackupSeconds: backup.incrementalBackupSeconds,
          logCompaction: logCompactionOf(backendSettings(input.backend)),
        }),
        ...(backup.restoreDrills === true && { restoreDrills: true }),
      },
    }),
    quotaBackendBytes: input.quotaBackendBytes ?? DEFAULTS.quotaBackendBytes,
    ...(input.maintenance !== false && {
      maintenance: {
        reclaimPercent: input.maintenance?.reclaimPercent ?? DEFAULTS.reclaimPercent,
        reclaimMinBytes: input.maintenance?.reclaimMinBytes ?? DEFAULTS.reclaimMinBytes,
        budgetSeconds: input.maintenance?.budgetSeconds ?? DEFAULTS.maintenanceBudgetSeconds,
      },
    }),
  });
}
