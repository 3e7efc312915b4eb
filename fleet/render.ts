/*
 * What the fleet writes for the code it runs, in one place: the environment of every process that talks
 * to the stand-in, each instance's agent config (DIR/instances/NNN-ID/config.json), and the lifecycle
 * Lambda's environment. The backup fields come from fleet/backup.ts (agentConfig, env, handlerEnv).
 */
import * as path from 'path';
import type { FleetBackup } from './backup';
import type { AwsStandIn } from './standin';
import type { FleetTls } from './tls';
import { CLIENT_PORT, FleetOptions, GROUP_NAME, LAUNCH_HOOK, PEER_PORT, REGION } from './types';

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

/** The agent config of the instance in `dir` (its config.json). */
export function agentConfig(r: RenderInput, dir: string, dataDir: string): Record<string, unknown> {
  return {
    strategy: r.opts.strategy,
    sizeCap: r.opts.maxSize,
    peerPort: PEER_PORT,
    clientPort: CLIENT_PORT,
    scheme: r.scheme,
    ...(r.tls && { tls: { caSecretId: r.tls.caSecretArn, certDir: path.join(dir, 'tls') } }),
    dataDir,
    envFile: path.join(dir, 'etcd.env'),
    output: 'env',
    launchHookName: LAUNCH_HOOK,
    deadlineSeconds: Math.max(30, r.opts.launchTimeoutSeconds),
    heartbeatSeconds: 5,
    retryDelayMs: 200,
    ...r.backup.agentConfig(),
  };
}

/** The lifecycle Lambda's environment (set on the supervisor's process.env before the bundle loads). */
export function handlerEnv(r: RenderInput): Record<string, string> {
  return {
    ...awsEnv(r),
    GROUP_NAME,
    CLIENT_PORT: String(CLIENT_PORT),
    PEER_PORT: String(PEER_PORT),
    SCHEME: r.scheme,
    STRATEGY: r.opts.strategy,
    UNSTARTED_GRACE_SECONDS: '60',
    ...r.backup.handlerEnv(),
    ...(r.tls && { TLS_CLIENT_SECRET_ID: r.tls.clientSecretArn }),
  };
}
