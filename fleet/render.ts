/*
 * What the fleet writes for the code it runs, in one place: the environment of every process that talks
 * to the stand-in, each instance's agent config (DIR/instances/NNN-ID/config.json), and the lifecycle
 * Lambda's environment. The agent config and the Lambda environment go through the construct's own renderers
 * (lib/private/run-time-config.ts) with the fleet's local values, so the fleet runs what the construct emits; the
 * backup settings come from fleet/backup.ts.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import type { FleetBackup } from './backup';
import type { AwsStandIn } from './standin';
import type { FleetTls } from './tls';
import { CompactionMode, JoinStrategy, writeAgentConfig } from '../lib/contract';
import { renderAgentConfig, renderLifecycleEnvironment } from '../lib/private/run-time-config';
import {
  CLIENT_PORT,
  FleetOptions,
  GROUP_LOGICAL_ID,
  GROUP_NAME,
  LaunchTemplate,
  PEER_PORT,
  REGION,
  STACK_NAME,
} from './types';

/** Where every agent sends its rollout signal (the stand-in's CloudFormation signalTarget). */
export const ROLLOUT_SIGNAL = { stackName: STACK_NAME, logicalResourceId: GROUP_LOGICAL_ID } as const;

/** What the rendering reads of the fleet. */
export interface RenderInput {
  readonly opts: FleetOptions;
  readonly standIn: AwsStandIn;
  readonly backup: FleetBackup;
  /** Scheme of every peer and client URL. */
  readonly scheme: 'http' | 'https';
  /** TLS state of a `--tls` fleet. */
  readonly tls?: FleetTls;
}

/** Environment of every process that talks to the stand-in (agent, Lambda handler). */
export function awsEnv(r: RenderInput, instanceId?: string): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: r.standIn.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'fleet',
    AWS_SECRET_ACCESS_KEY: 'fleet',
  };
  if (instanceId) env.AWS_EC2_METADATA_SERVICE_ENDPOINT = r.standIn.metadataEndpointFor(instanceId);
  return { ...env, ...r.backup.env() };
}

/**
 * The agent config of the instance in `dir` (its config.json): the construct's renderer and the contract's
 * writer, with the fleet's local paths and short intervals, the etcd release of its launch template, and the
 * fleet stack's rollout signal target.
 */
export function agentConfig(
  r: RenderInput,
  dir: string,
  dataDir: string,
  template: LaunchTemplate = { version: 1, etcdBin: r.opts.etcdBin, etcdVersion: r.opts.etcdVersion },
): Record<string, unknown> {
  return writeAgentConfig({
    ...renderAgentConfig({
      strategy: r.opts.strategy as JoinStrategy,
      size: r.opts.maxSize,
      clientPort: CLIENT_PORT,
      peerPort: PEER_PORT,
      caSecretId: r.tls?.caSecretArn,
      backup: r.backup.agentSettings(template.etcdBin),
      paths: {
        dataDir,
        envFile: path.join(dir, 'etcd.env'),
        backupBucketFile: r.backup.bucketFile,
        // etcd runs on the host here: it sees the agent's directory as it is.
        certDir: path.join(dir, 'tls'),
        etcdCertDir: path.join(dir, 'tls'),
      },
      deadlineSeconds: Math.max(30, r.opts.launchTimeoutSeconds),
      heartbeatSeconds: 5,
      retryDelayMs: 200,
      etcdVersion: template.etcdVersion ?? etcdVersionOf(template.etcdBin),
      backend: quotaSettings(r.opts)?.backend,
    }),
    rolloutSignal: ROLLOUT_SIGNAL,
  });
}

const MiB = 1024 * 1024;

/**
 * `up --quota-mb N`: etcd's backend quota of N MiB and the short maintenance settings such a small quota
 * needs to stay writable under a fast overwrite load (the construct's defaults are for GiB quotas and a
 * schedule of minutes): auto-compaction every FLEET_COMPACTION_RETENTION (periodic, so each compaction keeps
 * that much history), defragmentation of a member once 15 % of its backend and at least N/16 MiB are
 * reclaimable, a maintenance run of at most FLEET_MAINTENANCE_BUDGET_SECONDS. Absent: the defaults.
 */
export const FLEET_COMPACTION_RETENTION = '5s';
export const FLEET_MAINTENANCE_BUDGET_SECONDS = 30;

export function quotaSettings(opts: Pick<FleetOptions, 'quotaMiB'>) {
  if (opts.quotaMiB === undefined) return undefined;
  return {
    quotaBackendBytes: Math.round(opts.quotaMiB * MiB),
    backend: {
      quotaBackendBytes: Math.round(opts.quotaMiB * MiB),
      compactionMode: CompactionMode.PERIODIC,
      compactionRetention: FLEET_COMPACTION_RETENTION,
    },
    maintenance: {
      reclaimPercent: 15,
      reclaimMinBytes: Math.round((opts.quotaMiB * MiB) / 16),
      budgetSeconds: FLEET_MAINTENANCE_BUDGET_SECONDS,
    },
  };
}

const versions = new Map<string, string | undefined>();

/** The release `bin --version` reports ("etcd Version: 3.4.23"), once per binary; undefined when it says none. */
export function etcdVersionOf(bin: string): string | undefined {
  if (!versions.has(bin)) {
    const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
    versions.set(bin, /etcd Version:\s*(\d+\.\d+\.\d+)/.exec(out)?.[1]);
  }
  return versions.get(bin);
}

/** The lifecycle Lambda's environment (set on the supervisor's process.env before the bundle loads): the construct's renderer. */
export function handlerEnv(r: RenderInput): Record<string, string> {
  const quota = quotaSettings(r.opts);
  return {
    ...awsEnv(r),
    ...renderLifecycleEnvironment({
      groupName: GROUP_NAME,
      clientPort: CLIENT_PORT,
      peerPort: PEER_PORT,
      strategy: r.opts.strategy as JoinStrategy,
      unstartedGraceSeconds: 60,
      clientSecretId: r.tls?.clientSecretArn,
      backup: r.backup.lambdaSettings(),
      ...(quota && { quotaBackendBytes: quota.quotaBackendBytes, maintenance: quota.maintenance }),
      backend: quota?.backend,
    }),
  };
}
