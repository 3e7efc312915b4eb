/*
 * runJoin's waiting paths (issue 12), with recorded dependencies and a virtual clock (the etcd side runs on
 * real etcd in test/fleet/total-loss.test.ts and retained.test.ts):
 *  - a total loss beside backups: the agent reads the newest snapshot key once, says once why it waits, and
 *    never writes bootstrap settings, until its deadline;
 *  - an instance without a pending launch action: one heartbeat, one line, no error every few seconds.
 */
import { AgentDeps, AgentError } from '../../lambda/agent/deps';
import { runJoin } from '../../lambda/agent/join';
import { AgentConfig, OutputFormat } from '../../lambda/agent/config';
import { backendSettings } from '../../lib/private/run-time-config';
import { JoinStrategy, type Member } from '../../lambda/core/types';
import type { MemberListResult } from '../../lambda/adapters/etcd';
import { RestorePolicy } from '../../lambda/core/restore';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SELF_IP = '127.0.0.12';
const IPS = ['127.0.0.10', '127.0.0.11', SELF_IP];

function config(dataDir: string): AgentConfig {
  return {
    strategy: JoinStrategy.REPLACE,
    sizeCap: 3,
    peerPort: 2380,
    clientPort: 2379,
    scheme: 'http',
    dataDir,
    envFile: path.join(dataDir, 'env'),
    output: OutputFormat.ENV,
    launchHookName: 'launch-hook',
    deadlineSeconds: 30,
    heartbeatSeconds: 2,
    retryDelayMs: 200,
    restorePolicy: RestorePolicy.MANUAL,
    backend: backendSettings(),
  };
}

function member(id: string, ip: string): Member {
  return {
    id,
    name: `i-${id}`,
    peerURLs: [`http://${ip}:2380`],
    clientURLs: [`http://${ip}:2379`],
    isLearner: false,
  };
}

function harness(opts: { members: Member[] | null; state: string; snapshot?: string }) {
  const calls = { heartbeat: 0, newestSnapshot: 0, latestRestore: 0 };
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  let clock = 0;
  const deps: AgentDeps = {
    identity: async () => ({ instanceId: 'i-12', privateIp: SELF_IP }),
    groupOf: async () => 'g',
    describeGroup: async () => ({
      groupName: 'g',
      desiredCapacity: 3,
      instances: IPS.map((ip) => ({
        instanceId: `i-${ip.split('.')[3]}`,
        privateIp: ip,
        lifecycleState: opts.state,
      })),
    }),
    memberList: async (): Promise<MemberListResult | null> =>
      opts.members && {
        members: opts.members,
        clusterId: 'c',
        leaderId: '10',
        endpoint: 'http://127.0.0.10:2379',
      },
    healthOf: async (ms) => Object.fromEntries(ms.map((m) => [m.id, true])),
    versionsOf: async () => ({}),
    addLearner: async () => {
      throw new Error('not used');
    },
    remove: async () => {
      throw new Error('not used');
    },
    promote: async () => undefined,
    withLock: async (_e, fn) => fn(),
    completeLifecycleAction: async () => undefined,
    heartbeat: async () => {
      calls.heartbeat++;
      throw new Error('No active Lifecycle Action found with instance ID i-12');
    },
    log: (message, fields) => lines.push({ message, fields }),
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    restore: {
      latestRestore: async () => {
        calls.latestRestore++;
        return undefined;
      },
      newestSnapshot: async () => {
        calls.newestSnapshot++;
        return opts.snapshot;
      },
      download: async () => undefined,
      runRestore: async () => undefined,
      log: () => undefined,
    },
  };
  return { deps, calls, lines };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'join-wait-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('total loss beside a snapshot: await-restore until the deadline, the bucket listed once, never a bootstrap', async () => {
  const snap = 'snapshots/20261130T120000000Z-r00000000000000000042-abc.db';
  const h = harness({ members: null, state: 'Pending:Wait', snapshot: snap });
  const err = await runJoin(config(dir), h.deps).catch((e: Error) => e);
  expect(err).toBeInstanceOf(AgentError);
  expect((err as Error).message).toMatch(
    /deadline of 30 s passed while waiting: total loss: .*snapshot .*abc\.db/,
  );
  expect(h.calls.newestSnapshot).toBe(1);
  const plans = h.lines.filter((l) => l.message === 'plan').map((l) => l.fields!.step);
  expect(plans.length).toBeGreaterThan(3);
  expect(new Set(plans)).toEqual(new Set(['await-restore']));
  expect(h.lines.filter((l) => /^total loss: waiting for a restore/.test(l.message))).toHaveLength(1);
});

test('the same group with an empty bucket bootstraps (a first deploy)', async () => {
  const h = harness({ members: null, state: 'Pending:Wait' });
  const r = await runJoin(config(dir), h.deps);
  expect(r.step.kind).toBe('bootstrap-new');
  expect(r.settings.initialClusterState).toBe('new');
  expect(h.calls.newestSnapshot).toBe(1);
});

test('no launch action pending (InService): one heartbeat, one line, no "heartbeat failed" every few seconds', async () => {
  // a full cluster without this instance: the plan waits ("cluster full") until the deadline
  const h = harness({
    members: [member('10', IPS[0]), member('11', IPS[1]), member('13', '127.0.0.13')],
    state: 'InService',
  });
  await expect(runJoin(config(dir), h.deps)).rejects.toThrow(/deadline/);
  expect(h.calls.heartbeat).toBe(1);
  expect(h.lines.filter((l) => /heartbeats stopped/.test(l.message))).toHaveLength(1);
  expect(h.lines.filter((l) => l.message === 'heartbeat failed')).toHaveLength(0);
  expect(h.calls.newestSnapshot).toBe(0); // a member list was readable: the bucket is not asked
});
