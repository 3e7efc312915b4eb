/*
 * FAILURE-SCENARIOS 18.
 * The join's version-skew gate against a real 3-member etcd 3.4.23 cluster on 127.0.74.1-3 (the agent's own
 * etcd adapter and maintenance calls, as buildDeps wires them; only the AWS side is recorded): an agent that
 * claims 3.6.0 refuses (no member added, the launch abandoned), one that claims the running version joins
 * and its etcd starts as a learner of the cluster.
 * The rollout gate (issue 15): the refusal signals FAILURE, the learner's first promotion SUCCESS, through the
 * agent's real CloudFormation client against the stand-in; a later promote run (a restart) signals nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InstanceMetadata } from '../../lambda/adapters/aws';
import { AgentConfig, OutputFormat } from '../../lambda/agent/config';
import { AgentDeps, AgentError } from '../../lambda/agent/deps';
import { runJoin } from '../../lambda/agent/join';
import { buildDeps } from '../../lambda/agent/main';
import { runPromote } from '../../lambda/agent/promote';
import { AwsStandIn } from '../../fleet/standin';
import { newStandIn } from '../standin/helpers';
import { RestorePolicy } from '../../lambda/core/restore';
import { JoinStrategy } from '../../lambda/core/types';
import { backendSettings } from '../../lib/private/run-time-config';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from '../lifecycle/etcd-cluster';

const IPS = ['127.0.74.1', '127.0.74.2', '127.0.74.3'];
const SELF_IP = '127.0.74.4';
const SELF_ID = 'i-0versionskew0004';

let cluster: EtcdCluster;
let dir: string;
let runningVersion: string;
let standIn: AwsStandIn;
const SIGNAL_TARGET = { stackName: 'etcd-skew', logicalResourceId: 'MembersGroup1A2B3C' };
const savedEnv = { ...process.env };

beforeAll(async () => {
  standIn = newStandIn('127.0.74.9', { signalTarget: SIGNAL_TARGET });
  await standIn.start();
  standIn.signalBoard!.waiting = true;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: standIn.endpoint,
    AWS_ACCESS_KEY_ID: 'fleet',
    AWS_SECRET_ACCESS_KEY: 'fleet',
  });
  cluster = new EtcdCluster(IPS.map((ip, n) => ({ name: `i-0versionskew000${n + 1}`, ip })));
  await cluster.start();
  await cluster.settled();
  const c = cluster.adapter.client([cluster.clientURLs[0]]);
  try {
    runningVersion = (await c.maintenance.status()).version;
  } finally {
    c.close();
  }
});

afterAll(async () => {
  await cluster?.stop();
  await standIn?.stop();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
});

const signals = () => standIn.signalBoard!.signals.map((s) => [s.uniqueId, s.status, s.accepted]);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'version-skew-etcd-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function config(etcdVersion: string): AgentConfig {
  return {
    strategy: JoinStrategy.REPLACE,
    sizeCap: 4,
    peerPort: PEER_PORT,
    clientPort: CLIENT_PORT,
    scheme: 'http',
    dataDir: path.join(dir, 'data'),
    envFile: path.join(dir, 'env'),
    output: OutputFormat.ENV,
    launchHookName: 'launch-hook',
    deadlineSeconds: 30,
    heartbeatSeconds: 600,
    retryDelayMs: 200,
    restorePolicy: RestorePolicy.MANUAL,
    backend: backendSettings(),
    etcdVersion,
    rolloutSignal: SIGNAL_TARGET,
  };
}

/** The agent's real etcd dependencies; the AWS side (identity, group, lifecycle actions) recorded. */
function deps() {
  const completions: string[] = [];
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const d: AgentDeps = {
    ...buildDeps('local-1', new InstanceMetadata('http://127.0.74.250:1'), undefined, SIGNAL_TARGET),
    identity: async () => ({ instanceId: SELF_ID, privateIp: SELF_IP }),
    groupOf: async () => 'g',
    describeGroup: async () => ({
      groupName: 'g',
      desiredCapacity: 4,
      instances: [
        ...cluster.nodes.map((n) => ({ instanceId: n.name, privateIp: n.ip, lifecycleState: 'InService' })),
        { instanceId: SELF_ID, privateIp: SELF_IP, lifecycleState: 'Pending:Wait' },
      ],
    }),
    // Like Auto Scaling: one launch action per instance; completing it again finds none.
    completeLifecycleAction: async (_g, hook, id, result) => {
      if (completions.length > 0) throw new Error(`No active Lifecycle Action found with instance ID ${id}`);
      completions.push(`${hook}/${id}/${result}`);
    },
    heartbeat: async () => undefined,
    log: (message, fields) => lines.push({ message, fields }),
  };
  return { d, completions, lines };
}

const peerURLs = async () => (await cluster.members()).map((m) => m.peerURLs[0]).sort();

test('the running cluster reports etcd 3.4.23 (what the gate reads)', () => {
  expect(runningVersion).toBe('3.4.23');
});

test('an agent claiming 3.6.0 refuses: no member added, the launch abandoned, a non-zero outcome', async () => {
  const before = await peerURLs();
  const h = deps();
  const err = await runJoin(config('3.6.0'), h.d).catch((e: Error) => e);
  expect(err).toBeInstanceOf(AgentError);
  expect((err as Error).message).toMatch(
    /unsafe etcd version skew: 3\.6\.0 is more than one minor version ahead of 3\.4\.23/,
  );
  expect(h.completions).toEqual([`launch-hook/${SELF_ID}/ABANDON`]);
  const check = h.lines.find((l) => l.message === 'version skew check')!;
  expect(check.fields).toMatchObject({ decision: 'refuse', own: '3.6.0' });
  expect(Object.values(check.fields!.running as Record<string, string>)).toEqual([
    '3.4.23',
    '3.4.23',
    '3.4.23',
  ]);
  expect(await peerURLs()).toEqual(before);
  expect(before).toHaveLength(3);
  expect(fs.existsSync(path.join(dir, 'env'))).toBe(false);
  // The rollout stops: CloudFormation got FAILURE for this instance.
  expect(signals()).toEqual([[SELF_ID, 'FAILURE', true]]);
  expect(h.lines.find((l) => l.message === 'rollout signal')!.fields).toMatchObject({
    status: 'FAILURE',
    sent: true,
    reason: expect.stringMatching(/^unsafe etcd version skew: 3\.6\.0 is more than one minor version ahead/),
  });
});

test('an agent claiming 3.4.23 joins: added as a learner, its etcd starts into the cluster', async () => {
  const h = deps();
  const r = await runJoin(config('3.4.23'), h.d);
  expect(r.step.kind).toBe('reuse-unstarted');
  expect(h.completions).toEqual([]);
  expect(h.lines.find((l) => l.message === 'version skew check')!.fields).toMatchObject({
    decision: 'ok',
    own: '3.4.23',
  });
  const self = `http://${SELF_IP}:${PEER_PORT}`;
  expect(await peerURLs()).toEqual([...IPS.map((ip) => `http://${ip}:${PEER_PORT}`), self].sort());
  // Its etcd, started with the settings the agent computed, becomes a started learner.
  await cluster.startExisting(
    {
      name: SELF_ID,
      ip: SELF_IP,
      clientURL: `http://${SELF_IP}:${CLIENT_PORT}`,
      peerURL: self,
      log: '',
    },
    r.settings.initialCluster,
  );
  const deadline = Date.now() + 20_000;
  let mine;
  while (Date.now() < deadline) {
    mine = (await cluster.members()).find((m) => m.peerURLs.includes(self));
    if (mine?.name === SELF_ID) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(mine).toMatchObject({ name: SELF_ID, isLearner: true });
  expect(signals()).toEqual([[SELF_ID, 'FAILURE', true]]); // the join alone signals nothing

  // Promote: the learner becomes a voter, the launch completes, the rollout gets SUCCESS, once.
  const p = deps();
  const promoted = await runPromote(config('3.4.23'), p.d);
  expect(promoted.memberId).toBe(mine!.id);
  expect(p.completions).toEqual([`launch-hook/${SELF_ID}/CONTINUE`]);
  expect(signals()).toEqual([
    [SELF_ID, 'FAILURE', true],
    [SELF_ID, 'SUCCESS', true],
  ]);
  expect((await cluster.members()).find((m) => m.name === SELF_ID)?.isLearner).toBe(false);
  // A restart of etcd runs promote again: no launch action is pending any more, so no second signal.
  const again = deps();
  again.completions.push('already completed');
  await runPromote(config('3.4.23'), again.d);
  expect(again.lines.map((l) => l.message)).toContain('launch lifecycle action not completed');
  expect(again.lines.map((l) => l.message)).not.toContain('rollout signal');
  expect(signals()).toHaveLength(2);
});

test('a signal CloudFormation refuses (no rollout waits) is logged and changes nothing', async () => {
  standIn.signalBoard!.waiting = false;
  try {
    const h = deps();
    // The member joined above: promote finds it a voter already and completes the (recorded) launch action.
    await runPromote(config('3.4.23'), h.d);
    expect(h.completions).toEqual([`launch-hook/${SELF_ID}/CONTINUE`]);
    expect(h.lines.find((l) => l.message === 'rollout signal')!.fields).toMatchObject({
      status: 'SUCCESS',
      sent: false,
      error: expect.stringMatching(/cannot be signaled/),
    });
    expect(standIn.signalBoard!.signals.slice(-1)[0]).toMatchObject({ uniqueId: SELF_ID, accepted: false });
  } finally {
    standIn.signalBoard!.waiting = true;
  }
});
