/*
 * The world of the lifecycle handler tests (handler.test.ts, handler-reconcile.test.ts): a real 3-member etcd
 * cluster (one 127.1.N.0/24 per test) and the local AWS stand-in, reached through the real SDK clients
 * (AWS_ENDPOINT_URL), exactly as the Lambda and the local fleet run it; the handler's log lines captured.
 * Each test file calls useHandlerWorld with its own range of blocks, so no two tests share addresses.
 */
import * as crypto from 'crypto';
import { terminateLifecycleEvent } from '../../fleet/events';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { newStandIn } from '../standin/helpers';
import { createContext, setContextFactory } from '../../lambda/lifecycle';
import type { LifecycleContext } from '../../lambda/lifecycle/context';
import { Logger } from '../../lambda/lifecycle/log';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from './etcd-cluster';

export const REGION = 'local-1';
export const GROUP = 'lifecycle-test-group';
export const LAUNCH_HOOK = 'launch-hook';
export const TERMINATE_HOOK = 'terminate-hook';
export const GRACE_SECONDS = 120;

/**
 * Each test gets its own /24: 127.1.N.x, N from the file's range (stand-in at .0, members at .1-.3).
 * 127.1.0.x is never handed out: addresses that must belong to no test's cluster live there (GHOST_IP).
 */
export const GHOST_IP = '127.1.0.250';
export function addressBlock(n: number, last = 255): (host: number) => string {
  if (!Number.isInteger(n) || n < 1 || n > last) throw new Error(`no address block ${n} left (1..${last})`);
  return (host) => `127.1.${n}.${host}`;
}

/** The current test's world (set by useHandlerWorld's beforeEach). */
export const w = {} as {
  cluster: EtcdCluster;
  standIn: AwsStandIn;
  instances: StandInInstance[];
  lines: Record<string, unknown>[];
  /** When set, the handler's clock (ms). */
  clock: number | undefined;
  completions: { instanceId: string; result: string }[];
  requests: string[];
  /** More context settings for the handler (reset before each test). */
  overrides: Partial<LifecycleContext>;
};
const savedEnv = { ...process.env };

export function instanceId(): string {
  return 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
}

export function standInInstance(privateIp: string, n: number, lifecycleState = 'InService'): StandInInstance {
  return {
    instanceId: instanceId(),
    privateIp,
    lifecycleState,
    healthStatus: 'Healthy',
    availabilityZone: `${REGION}${'abc'[n % 3]}`,
    launchTime: new Date(Date.UTC(2025, 0, 1, 0, 0, n)),
  };
}

/**
 * Registers the per-test set-up and clean-up; tests get blocks first..last, one each (`opts.block`: other
 * addresses than 127.1.N.x; `opts.etcdArgs`: more etcd flags for every member).
 */
export function useHandlerWorld(
  first: number,
  last: number,
  opts: { block?: typeof addressBlock; etcdArgs?: readonly string[] } = {},
): void {
  let block = first - 1;
  beforeEach(async () => {
    const ip = (opts.block ?? addressBlock)(++block, last);
    w.lines = [];
    w.overrides = {};
    w.completions = [];
    w.requests = [];
    w.clock = undefined;
    w.standIn = newStandIn(ip(0), {
      region: REGION,
      groupName: GROUP,
      launchHookName: LAUNCH_HOOK,
      terminateHookName: TERMINATE_HOOK,
      maxSize: 10,
    });
    await w.standIn.start();
    w.standIn.on('complete-lifecycle-action', (e: { instanceId: string; result: string }) =>
      w.completions.push(e),
    );
    w.standIn.on('request', (e: { action: string }) => w.requests.push(e.action));
    w.instances = [1, 2, 3].map((n) => standInInstance(ip(n), n));
    for (const i of w.instances) await w.standIn.addInstance(i);
    w.cluster = new EtcdCluster(
      w.instances.map((i) => ({ name: i.instanceId, ip: i.privateIp })),
      opts.etcdArgs,
    );
    await w.cluster.start();

    Object.assign(process.env, {
      AWS_ENDPOINT_URL: w.standIn.endpoint,
      AWS_ACCESS_KEY_ID: 'lifecycle-test',
      AWS_SECRET_ACCESS_KEY: 'lifecycle-test',
      AWS_REGION: REGION,
      GROUP_NAME: GROUP,
      CLIENT_PORT: String(CLIENT_PORT),
      PEER_PORT: String(PEER_PORT),
      SCHEME: 'http',
      STRATEGY: 'replace',
      UNSTARTED_GRACE_SECONDS: String(GRACE_SECONDS),
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    setContextFactory((env) =>
      createContext(env, {
        log: new Logger({ groupName: GROUP }, (line) =>
          w.lines.push(JSON.parse(line) as Record<string, unknown>),
        ),
        lockTimeoutMs: 10_000,
        now: () => w.clock ?? Date.now(),
        ...w.overrides,
      }),
    );
  });

  afterEach(async () => {
    setContextFactory();
    await w.cluster?.stop();
    await w.standIn?.stop();
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  });
}

export function terminateEvent(
  inst: StandInInstance,
  detail: Record<string, unknown> = {},
): Record<string, unknown> {
  const token = w.standIn.getInstance(inst.instanceId)?.terminateToken ?? crypto.randomUUID();
  return terminateLifecycleEvent(
    inst.instanceId,
    token,
    { region: REGION, group: GROUP, hook: TERMINATE_HOOK },
    detail,
  );
}

/** Puts the instance into Terminating:Wait (opening its terminate action) and returns the event for it. */
export function startTermination(
  inst: StandInInstance,
  detail: Record<string, unknown> = {},
): Record<string, unknown> {
  w.standIn.setLifecycleState(inst.instanceId, 'Terminating:Wait');
  return terminateEvent(inst, detail);
}

export function metrics(name: string): Record<string, unknown>[] {
  return w.lines.filter((l) => l._aws !== undefined && name in l);
}

export function decisions(): string[] {
  return w.lines.filter((l) => l.message === 'decision').map((l) => String(l.decision));
}

export async function memberPeerURLs(from?: string): Promise<string[]> {
  return (await w.cluster.members(from)).map((m) => m.peerURLs[0]).sort();
}

export const peer = (i: StandInInstance) => `http://${i.privateIp}:${PEER_PORT}`;
