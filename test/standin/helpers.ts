/* Shared setup of the stand-in tests: a stand-in on a loopback address, instances, fake credentials. */
import * as crypto from 'crypto';
import { AwsStandIn, StandInInstance, StandInOptions } from '../../fleet/standin';

export const REGION = 'local-1';
export const GROUP = 'etcd-standin-test';
export const LAUNCH_HOOK = 'launch-hook';
export const TERMINATE_HOOK = 'terminate-hook';
export const CREDENTIALS = { accessKeyId: 'AKIDSTANDINTEST', secretAccessKey: 'secret' };

export function newStandIn(host: string, extra: Partial<StandInOptions> = {}): AwsStandIn {
  return new AwsStandIn({
    host,
    region: REGION,
    groupName: GROUP,
    launchHookName: LAUNCH_HOOK,
    terminateHookName: TERMINATE_HOOK,
    imdsPort: 0,
    desiredCapacity: 3,
    minSize: 0,
    maxSize: 20,
    ...extra,
  });
}

export function instanceId(): string {
  return 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
}

export function instance(
  privateIp: string,
  n: number,
  extra: Partial<StandInInstance> = {},
): StandInInstance {
  return {
    instanceId: instanceId(),
    privateIp,
    lifecycleState: 'InService',
    healthStatus: 'Healthy',
    availabilityZone: `${REGION}${'abc'[n % 3]}`,
    launchTime: new Date(Date.UTC(2025, 0, 1, 0, 0, n)),
    ...extra,
  };
}

/** Runs fn with the given environment variables set (undefined: unset), restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(
  p: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
