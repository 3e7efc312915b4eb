/*
 * The fleet's backups and restore: the local S3 (fleet/s3.ts) with the backup bucket, the environment that
 * points the agents and the lifecycle Lambda bundle at it, the backup schedule, the `backup` / `restore`
 * commands (the same Lambda code path as on AWS: {"kind":"backup"} / {"kind":"restore"}).
 */
import * as fs from 'fs';
import * as path from 'path';
import { RestorePolicy } from '../lib/contract';
import type { AgentConfigValues, LifecycleEnvironmentValues } from '../lib/private/run-time-config';
import { s3Address } from './addresses';
import { LocalS3 } from './s3';

export interface FleetBackupOptions {
  /** manual | automatic (the Lambda's RESTORE_POLICY). @default manual */
  readonly restorePolicy?: string;
  /** Seconds between scheduled backups; 0 = none. @default 0 */
  readonly backupIntervalSeconds?: number;
  /** The Lambda's RESTORE_AFTER_SECONDS (automatic policy). @default 20 */
  readonly restoreAfterSeconds?: number;
  /** The agents may bootstrap an empty cluster beside backups (the construct's backup.startEmptyBesideBackups). @default false */
  readonly emptyStartBesideBackups?: boolean;
  /**
   * The incremental backup log (the construct's backup.incrementalInterval, in seconds): every instance runs
   * `agent.js ship` beside its etcd, as etcd-backup-log.service does on a member. 0 or absent: off (the
   * fleet's default, see README "Local fleet").
   */
  readonly incrementalSeconds?: number;
}

/** What the backups need of the fleet (fleet/supervisor.ts passes it in). */
export interface BackupHost {
  /** The fleet's address block: the local S3 listens in it. */
  readonly block: number;
  /** The fleet's directory: the local S3 keeps its objects below it. */
  readonly dir: string;
  log(message: string, fields?: Record<string, unknown>): void;
  /** The lifecycle Lambda bundle's handler, when loaded. */
  handler(): ((event: unknown) => Promise<unknown>) | undefined;
}

export const BACKUP_BUCKET = 'etcd-fleet-backups';
const S3_PORT = 9000;
/** The fleet's credentials (fleet/render.ts awsEnv), accepted by the local S3. */
const FLEET_KEY = 'fleet';

export class FleetBackup {
  readonly s3: LocalS3;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly host: BackupHost,
    readonly opts: FleetBackupOptions,
  ) {
    this.s3 = new LocalS3({
      host: s3Address(host.block),
      port: S3_PORT,
      directory: path.join(host.dir, 's3'),
      buckets: [BACKUP_BUCKET],
      credentials: [{ accessKeyId: FLEET_KEY, secretAccessKey: FLEET_KEY }],
    });
  }

  async start(): Promise<void> {
    fs.writeFileSync(this.bucketFile, BACKUP_BUCKET);
    await this.s3.start();
  }

  async stop(): Promise<void> {
    await this.s3.stop();
  }

  /** Reaches every process that talks to AWS (agents, the Lambda bundle): S3 path-style on the local server. */
  env(): Record<string, string> {
    return { AWS_ENDPOINT_URL_S3: this.s3.endpoint };
  }

  /** Where the bucket's name is written, as Ignition writes /etc/etcd-agent/backup-bucket on a member. */
  get bucketFile(): string {
    return path.join(this.host.dir, 'backup-bucket');
  }

  /** The Lambda's backup settings, rendered by the construct's renderLifecycleEnvironment. */
  lambdaSettings(): NonNullable<LifecycleEnvironmentValues['backup']> {
    return {
      bucket: BACKUP_BUCKET,
      prefix: '',
      restorePolicy: this.restorePolicy,
      restoreAfterSeconds: this.opts.restoreAfterSeconds ?? 20,
      snapshotBeforeRemoval: true,
      // Restore drills run on the instances (`etcd-fleet drill`); the reconcile publishes their age.
      restoreDrills: true,
      ...(this.incrementalSeconds !== undefined && { incrementalBackupSeconds: this.incrementalSeconds }),
    };
  }

  /** The incremental log's bound in seconds, or undefined when it is off. */
  get incrementalSeconds(): number | undefined {
    const n = this.opts.incrementalSeconds ?? 0;
    return n > 0 ? n : undefined;
  }

  /**
   * The agents' restore gate settings (renderAgentConfig), with etcd 3.4's restore command (etcdutl exists from
   * 3.5 on) and the instance's etcd binary as etcdCommand (the construct's: the image's etcd), the
   * incremental log's bound when it is on.
   */
  agentSettings(etcdBin = 'etcd'): NonNullable<AgentConfigValues['backup']> {
    return {
      prefix: '',
      restorePolicy: this.restorePolicy,
      restoreCommand: ['etcdctl'],
      emptyStartBesideBackups: this.opts.emptyStartBesideBackups ?? false,
      etcdCommand: [etcdBin],
      ...(this.incrementalSeconds !== undefined && { incrementalBackupSeconds: this.incrementalSeconds }),
    };
  }

  private get restorePolicy(): RestorePolicy {
    return (this.opts.restorePolicy as RestorePolicy | undefined) ?? RestorePolicy.MANUAL;
  }

  startSchedule(): void {
    const every = this.opts.backupIntervalSeconds ?? 0;
    if (every <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      void this.invoke('backup')
        .then((r) => this.host.log('scheduled backup', { result: r }))
        .finally(() => (this.running = false));
    }, every * 1000);
  }

  stopSchedule(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** {"kind":"backup"} or {"kind":"restore"} through the lifecycle Lambda bundle; returns its result. */
  async invoke(kind: 'backup' | 'restore'): Promise<unknown> {
    const handler = this.host.handler();
    if (!handler)
      throw new Error(`${kind} needs the lifecycle Lambda bundle (npm run build; not --no-handler)`);
    const result = await handler({ kind });
    this.host.log(`${kind} invoked`, { result });
    return result;
  }
}
