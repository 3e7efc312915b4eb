/*
 * FAILURE-SCENARIOS 18.
 * The join's version-skew gate (lambda/agent/skew.ts, issue 15) with recorded dependencies and a virtual
 * clock: what the agent does for each combination of its own etcd version (cfg.etcdVersion) and the versions
 * the running members report. The same against real etcd 3.4.23: version-skew-etcd.test.ts.
 */
import { AgentDeps, AgentError } from '../../lambda/agent/deps';
import { runJoin } from '../../lambda/agent/join';
import { AgentConfig, OutputFormat } from '../../lambda/agent/config';
import { backendSettings } from '../../lib/private/run-time-config';
import { JoinStrategy, type Member } from '../../lambda/core/types';
import { RestorePolicy } from '../../lambda/core/restore';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SELF_IP = '127.0.0.13';
const RUNNING_IPS = ['127.0.0.10', '127.0.0.11', '127.0.0.12'];

function config(
  dataDir: string,
  etcdVersion: string | undefined,
  launchHookName = 'launch-hook',
): AgentConfig {
  return {
    strategy: JoinStrategy.REPLACE,
    sizeCap: 4,
    peerPort: 2380,
    clientPort: 2379,
    scheme: 'http',
    dataDir,
    envFile: path.join(dataDir, 'env'),
    output: OutputFormat.ENV,
    launchHookName,
    deadlineSeconds: 30,
    heartbeatSeconds: 600,
    retryDelayMs: 200,
    restorePolicy: RestorePolicy.MANUAL,
    backend: backendSettings(),
    ...(etcdVersion !== undefined && { etcdVersion }),
  };
}

const member = (id: string, ip: string, started = true): Member => ({
  id,
  name: started ? `i-${id}` : '',
  peerURLs: [`http://${ip}:2380`],
  clientURLs: started ? [`http://${ip}:2379`] : [],
  isLearner: !started,
});

/** Three running voters (ids 10..12) reporting `versions` (undefined: no answer); self may add itself. */
function harness(versions: (string | undefined)[]) {
  const members: Member[] = RUNNING_IPS.map((ip, n) => member(String(10 + n), ip));
  const calls = {
    addLearner: [] as string[],
    completions: [] as string[],
    versionsAsked: [] as string[][],
  };
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  let clock = 0;
  const deps: AgentDeps = {
    identity: async () => ({ instanceId: 'i-13', privateIp: SELF_IP }),
    groupOf: async () => 'g',
    describeGroup: async () => ({
      groupName: 'g',
      desiredCapacity: 4,
      instances: [...RUNNING_IPS, SELF_IP].map((ip) => ({
        instanceId: `i-${ip.split('.')[3]}`,
        privateIp: ip,
        lifecycleState: ip === SELF_IP ? 'Pending:Wait' : 'InService',
      })),
    }),
    memberList: async () => ({ members: [...members], clusterId: 'c', leaderId: '10', endpoint: 'x' }),
    healthOf: async (ms) => Object.fromEntries(ms.map((m) => [m.id, m.name !== ''])),
    versionsOf: async (ms) => {
      calls.versionsAsked.push(ms.map((m) => m.id));
      return Object.fromEntries(ms.map((m) => [m.id, versions[Number(m.id) - 10]]));
    },
    addLearner: async (_e, peerURL) => {
      calls.addLearner.push(peerURL);
      const added = member('13', SELF_IP, false);
      members.push({ ...added, peerURLs: [peerURL] });
      return added;
    },
    remove: async () => {
      throw new Error('not used');
    },
    promote: async () => undefined,
    withLock: async (_e, fn) => fn(),
    completeLifecycleAction: async (_g, hook, id, result) => {
      calls.completions.push(`${hook}/${id}/${result}`);
    },
    heartbeat: async () => undefined,
    log: (message, fields) => lines.push({ message, fields }),
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
  };
  const checks = () => lines.filter((l) => l.message === 'version skew check').map((l) => l.fields!);
  return { deps, calls, lines, checks };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'version-skew-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const V34 = ['3.4.23', '3.4.23', '3.4.23'];

// [case, own version, running versions, expected decision, reason pattern]
const refusals: [string, string, (string | undefined)[], RegExp][] = [
  ['3.6 beside 3.4: two minor versions ahead', '3.6.0', V34, /more than one minor version ahead of 3\.4\.23/],
  ['3.4 beside 3.5: older than the cluster', '3.4.0', ['3.5.26', '3.5.26', '3.5.26'], /older than/],
  ['3.6 beside a 3.5 member before 3.5.26', '3.6.1', ['3.5.26', '3.5.20', '3.6.1'], /3\.5\.20 is older/],
  ['an unsupported own version', '3.7.0', ['3.6.1', '3.6.1', '3.6.1'], /not a version this project supports/],
  ['one member answers, and it is too old', '3.6.0', [undefined, '3.4.23', undefined], /ahead of 3\.4\.23/],
];

test.each(refusals)('refuses: %s — ABANDON, no member added, non-zero', async (_n, own, running, why) => {
  const h = harness(running);
  const err = await runJoin(config(dir, own), h.deps).catch((e: Error) => e);
  expect(err).toBeInstanceOf(AgentError);
  expect((err as Error).message).toMatch(/^refused: unsafe etcd version skew: /);
  expect((err as Error).message).toMatch(why);
  expect(h.calls.addLearner).toEqual([]);
  expect(h.calls.completions).toEqual(['launch-hook/i-13/ABANDON']);
  expect(h.checks()).toEqual([
    expect.objectContaining({ decision: 'refuse', own, reason: expect.stringMatching(why) }),
  ]);
  // the started members were asked, the instance itself never
  expect(h.calls.versionsAsked).toEqual([['10', '11', '12']]);
});

const joins: [string, string, (string | undefined)[]][] = [
  ['the same version', '3.4.23', V34],
  ['one minor ahead', '3.5.26', V34],
  ['3.6 beside 3.5.26 and 3.6', '3.6.0', ['3.5.26', '3.6.0', '3.5.27']],
  ['a member that does not answer is not counted', '3.5.0', ['3.4.23', undefined, '3.4.23']],
];

test.each(joins)('joins: %s', async (_n, own, running) => {
  const h = harness(running);
  const r = await runJoin(config(dir, own), h.deps);
  expect(h.calls.addLearner).toEqual([`http://${SELF_IP}:2380`]);
  expect(r.step.kind).toBe('reuse-unstarted');
  expect(h.calls.completions).toEqual([]);
  expect(h.checks()).toEqual([expect.objectContaining({ decision: 'ok', own })]);
});

test('no etcdVersion: one line says no check is possible, and the join goes on', async () => {
  const h = harness(V34);
  const r = await runJoin(config(dir, undefined), h.deps);
  expect(r.step.kind).toBe('reuse-unstarted');
  expect(h.calls.addLearner).toHaveLength(1);
  expect(h.calls.versionsAsked).toEqual([]);
  expect(h.checks()).toEqual([
    { decision: 'unchecked', reason: expect.stringMatching(/no version-skew check is possible/) },
  ]);
});

test('no running member reports a version: wait (never add unchecked, never abandon) until the deadline', async () => {
  const h = harness([undefined, undefined, undefined]);
  await expect(runJoin(config(dir, '3.4.23'), h.deps)).rejects.toThrow(
    /deadline of 30 s passed while waiting: none of the 3 running members reported its etcd version/,
  );
  expect(h.calls.addLearner).toEqual([]);
  expect(h.calls.completions).toEqual([]);
  expect(h.checks().length).toBeGreaterThan(2);
  expect(new Set(h.checks().map((c) => c.decision))).toEqual(new Set(['wait']));
});

test('a refusal without a launch hook: nothing to abandon, still no member and a non-zero exit', async () => {
  const h = harness(V34);
  await expect(runJoin(config(dir, '3.6.0', ''), h.deps)).rejects.toThrow(/unsafe etcd version skew/);
  expect(h.calls.addLearner).toEqual([]);
  expect(h.calls.completions).toEqual([]);
  expect(h.lines.some((l) => l.message === 'no launch hook configured: nothing to abandon')).toBe(true);
});
