/*
 * The lifecycle handler against a real 3-member etcd cluster (one 127.1.N.0/24 per test) and the local AWS stand-in, reached
 * through the real SDK clients (AWS_ENDPOINT_URL), exactly as the Lambda and the local fleet run it.
 */
import * as crypto from 'crypto';
import { AwsStandIn, StandInInstance } from '../../fleet/standin';
import { createContext, handler, HandlerResult, setContextFactory } from '../../lambda/lifecycle';
import { Logger } from '../../lambda/lifecycle/log';
import { UNSTARTED_PREFIX } from '../../lambda/lifecycle/unstarted';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from './etcd-cluster';

const REGION = 'local-1';
const GROUP = 'lifecycle-test-group';
const LAUNCH_HOOK = 'launch-hook';
const TERMINATE_HOOK = 'terminate-hook';
const GRACE_SECONDS = 120;

/**
 * Each test gets its own /24: 127.1.N.x for N = 1, 2, ... (stand-in at .0, members at .1-.3). 127.1.0.x is
 * never handed out: addresses that must belong to no test's cluster live there (GHOST_IP).
 */
let block = 0;
const GHOST_IP = '127.1.0.250';
function addressBlock(n: number): (host: number) => string {
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new Error(`no address block ${n} left (1..255)`);
  return (host) => `127.1.${n}.${host}`;
}
let cluster: EtcdCluster;
let standIn: AwsStandIn;
let instances: StandInInstance[];
let lines: Record<string, unknown>[];
let clock: number | undefined;
let completions: { instanceId: string; result: string }[];
let requests: string[];
const savedEnv = { ...process.env };

function instanceId(): string {
  return 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
}

function standInInstance(privateIp: string, n: number, lifecycleState = 'InService'): StandInInstance {
  return {
    instanceId: instanceId(),
    privateIp,
    lifecycleState,
    healthStatus: 'Healthy',
    availabilityZone: `${REGION}${'abc'[n % 3]}`,
    launchTime: new Date(Date.UTC(2025, 0, 1, 0, 0, n)),
  };
}

beforeEach(async () => {
  const ip = addressBlock(++block);
  lines = [];
  completions = [];
  requests = [];
  clock = undefined;
  standIn = new AwsStandIn({
    host: ip(0),
    region: REGION,
    groupName: GROUP,
    launchHookName: LAUNCH_HOOK,
    terminateHookName: TERMINATE_HOOK,
    imdsPort: 0,
    desiredCapacity: 3,
    minSize: 0,
    maxSize: 10,
  });
  await standIn.start();
  standIn.on('complete-lifecycle-action', (e: { instanceId: string; result: string }) => completions.push(e));
  standIn.on('request', (e: { action: string }) => requests.push(e.action));
  instances = [1, 2, 3].map((n) => standInInstance(ip(n), n));
  for (const i of instances) await standIn.addInstance(i);
  cluster = new EtcdCluster(instances.map((i) => ({ name: i.instanceId, ip: i.privateIp })));
  await cluster.start();

  Object.assign(process.env, {
    AWS_ENDPOINT_URL: standIn.endpoint,
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
        lines.push(JSON.parse(line) as Record<string, unknown>),
      ),
      lockTimeoutMs: 10_000,
      now: () => clock ?? Date.now(),
    }),
  );
});

afterEach(async () => {
  setContextFactory();
  await cluster?.stop();
  await standIn?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

function terminateEvent(
  inst: StandInInstance,
  detail: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '000000000000',
    time: new Date().toISOString(),
    region: REGION,
    resources: [],
    detail: {
      LifecycleActionToken: standIn.getInstance(inst.instanceId)?.terminateToken ?? crypto.randomUUID(),
      AutoScalingGroupName: GROUP,
      LifecycleHookName: TERMINATE_HOOK,
      EC2InstanceId: inst.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...detail,
    },
  };
}

/** Puts the instance into Terminating:Wait (opening its terminate action) and returns the event for it. */
function startTermination(
  inst: StandInInstance,
  detail: Record<string, unknown> = {},
): Record<string, unknown> {
  standIn.setLifecycleState(inst.instanceId, 'Terminating:Wait');
  return terminateEvent(inst, detail);
}

function metrics(name: string): Record<string, unknown>[] {
  return lines.filter((l) => l._aws !== undefined && name in l);
}

function decisions(): string[] {
  return lines.filter((l) => l.message === 'decision').map((l) => String(l.decision));
}

async function memberPeerURLs(from?: string): Promise<string[]> {
  return (await cluster.members(from)).map((m) => m.peerURLs[0]).sort();
}

const peer = (i: StandInInstance) => `http://${i.privateIp}:${PEER_PORT}`;

test('terminate a healthy member of 3: removed under the lock, CONTINUE; a duplicate event is swallowed', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  const id = await cluster.memberIdOf(c.instanceId);
  standIn.faults.throttle = 2; // the SDK's retries absorb throttling

  const res = await handler(startTermination(c));
  expect(res).toMatchObject({ ok: true, kind: 'terminate', outcome: 'CONTINUE', removed: [id] });
  expect(completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'CONTINUE' })]);
  expect(standIn.getInstance(c.instanceId)?.lifecycleState).toBe('Terminating:Proceed');
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
  expect(metrics('MemberRemovals')).toHaveLength(1);
  expect(metrics('MemberRemovals')[0]).toMatchObject({
    AutoScalingGroupName: GROUP,
    _aws: {
      CloudWatchMetrics: [
        {
          Namespace: 'CdkElasticEtcd',
          Dimensions: [['AutoScalingGroupName']],
          Metrics: [{ Name: 'MemberRemovals', Unit: 'Count' }],
        },
      ],
    },
  });
  // One decision, 'remove'; under load etcd's strict-reconfig guard ("unhealthy cluster" until every member
  // has been connected for 5 s) can refuse the first tries, and each retry logs the same decision again.
  expect(decisions().length).toBeGreaterThanOrEqual(1);
  expect(new Set(decisions())).toEqual(new Set(['remove']));

  // The same event again (EventBridge delivers at least once): member gone → absent; the action is no longer
  // active → the completion error is swallowed.
  lines = [];
  const again = await handler(terminateEvent(c));
  expect(again).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(decisions()).toEqual(['absent']);
  expect(lines.some((l) => /no active lifecycle action/i.test(String(l.message)))).toBe(true);
  expect(completions).toHaveLength(1);
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
});

test('terminate while another member is dead and the group wants 3: unsafe, the instance is retained', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  await cluster.kill(a.instanceId);
  await cluster.waitHealthy([cluster.node(b.instanceId), cluster.node(c.instanceId)]); // a new leader, if a led

  const res = await handler(startTermination(c));
  // 3 members, 1 dead, desired capacity 3: removing the healthy target would leave 1 healthy of 2 voters
  // (no quorum); removing the dead one first would keep a quorum of a 1-member cluster, below the quorum
  // of the desired 3. The core says unsafe: the instance is retained (FAILURE-SCENARIOS 6, variant).
  expect(decisions()).toEqual(['unsafe', 'unsafe', 'unsafe']); // looked again twice before retaining
  expect(res).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'ABANDON' })]);
  expect(await memberPeerURLs(b.instanceId)).toEqual([peer(a), peer(b), peer(c)].sort());
  expect(metrics('RetainedTerminations')).toHaveLength(1);
});

test('terminate when 2 of 3 members are dead: unsafe → ABANDON, nothing removed; etcd unreachable → ABANDON', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  await cluster.kill(a.instanceId);
  await cluster.kill(b.instanceId);

  const res = await handler(startTermination(c));
  expect(res).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(decisions()).toEqual(['unsafe', 'unsafe', 'unsafe']);
  expect(completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'ABANDON' })]);
  expect(await memberPeerURLs(c.instanceId)).toEqual([peer(a), peer(b), peer(c)].sort());
  expect(metrics('RetainedTerminations')).toHaveLength(1);

  // No member list at all: nothing can be proven safe, so the instance is retained too.
  await cluster.kill(c.instanceId);
  lines = [];
  const unreachable = await handler(startTermination(b));
  expect(unreachable).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(decisions()).toEqual(['etcd-unreachable']);
  expect(completions[1]).toMatchObject({ instanceId: b.instanceId, result: 'ABANDON' });
  expect(metrics('RetainedTerminations')).toHaveLength(1);
});

test('unknown instance: CONTINUE (completion error swallowed), no member touched', async () => {
  const ghost = standInInstance(GHOST_IP, 9);
  expect(instances.map((i) => i.privateIp)).not.toContain(GHOST_IP);
  const res = await handler(terminateEvent(ghost));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(decisions()).toEqual(['unknown-instance']);
  expect(requests).toEqual(
    expect.arrayContaining(['DescribeAutoScalingGroups', 'DescribeInstances', 'CompleteLifecycleAction']),
  );
  expect(await cluster.members()).toHaveLength(3);
});

test('foreign group and foreign hook: logged and ignored, no AWS call, no etcd change', async () => {
  const c = instances[2];
  const res = await handler(startTermination(c, { AutoScalingGroupName: 'someone-elses-group' }));
  expect(res).toMatchObject({ ok: true, kind: 'invalid', outcome: 'ignored' });
  expect(String(res.reason)).toMatch(/someone-elses-group/);
  expect(requests).toEqual([]);
  expect(completions).toEqual([]);
  expect(await cluster.members()).toHaveLength(3);

  process.env.TERMINATE_HOOK_NAME = TERMINATE_HOOK;
  const other = await handler(terminateEvent(c, { LifecycleHookName: 'another-teams-hook' }));
  expect(other).toMatchObject({ ok: true, outcome: 'ignored' });
  expect(requests).toEqual([]);
});

test('malformed and foreign events: logged, no action, no throw', async () => {
  const c = instances[2];
  const good = terminateEvent(c);
  const bad: unknown[] = [
    null,
    'terminate',
    42,
    [],
    {},
    { foo: 1 },
    { ...good, source: 'my.app' },
    { ...good, detail: 'x' },
    { ...good, detail: { AutoScalingGroupName: GROUP } },
    { ...good, detail: { ...(good.detail as object), EC2InstanceId: '127.0.0.1' } },
    { ...good, detail: { ...(good.detail as object), LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' } },
    { ...good, 'detail-type': 'EC2 Instance Terminate Successful' },
  ];
  for (const event of bad) {
    const res: HandlerResult = await handler(event);
    expect(res).toMatchObject({ ok: true, kind: 'invalid', outcome: 'ignored', removed: [] });
  }
  expect(lines.filter((l) => l.message === 'event ignored: no action taken')).toHaveLength(bad.length);
  expect(requests).toEqual([]);
  expect(await cluster.members()).toHaveLength(3);
});

test('launch action: recorded only (the agent completes it)', async () => {
  const c = instances[2];
  standIn.setLifecycleState(c.instanceId, 'Pending:Wait');
  const res = await handler({
    ...terminateEvent(c, {
      LifecycleHookName: LAUNCH_HOOK,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      Origin: 'WarmPool',
      Destination: 'AutoScalingGroup',
    }),
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
  });
  expect(res).toMatchObject({ ok: true, kind: 'launch', outcome: 'logged' });
  expect(requests).toEqual([]);
  expect(standIn.getInstance(c.instanceId)?.lifecycleState).toBe('Pending:Wait');
});

test('an instance going back to the warm pool is removed like a termination (right after start: transient "unhealthy cluster" retried)', async () => {
  const c = instances[2];
  const id = await cluster.memberIdOf(c.instanceId);
  const res = await handler(startTermination(c, { Origin: 'AutoScalingGroup', Destination: 'WarmPool' }));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [id] });
  expect(lines.some((l) => /warm pool/.test(String(l.message)))).toBe(true);
});

test('reconcile removes a dead member whose instance is gone and leaves healthy ones alone', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  const id = await cluster.memberIdOf(c.instanceId);
  await cluster.kill(c.instanceId);
  await standIn.removeInstance(c.instanceId); // vanished without a terminate action
  await cluster.waitHealthy([cluster.node(a.instanceId), cluster.node(b.instanceId)]); // a new leader, if c led

  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true, kind: 'reconcile', outcome: 'reconciled', removed: [id] });
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
  expect(metrics('ReconcileRemovals')).toHaveLength(1);

  lines = [];
  const again = await handler({
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    id: 'sched-1',
    detail: {},
  });
  expect(again).toMatchObject({ ok: true, outcome: 'reconciled', removed: [] });
  expect(decisions()).toEqual(['noop']);
  expect(await cluster.members()).toHaveLength(2);
});

test('reconcile removes an unstarted member once it is older than the grace period (age kept in etcd)', async () => {
  await cluster.settled();
  const [a] = instances;
  const ip = a.privateIp.replace(/\d+$/, (n) => String(Number(n) + 3));
  const stuck = standInInstance(ip, 4);
  await standIn.addInstance(stuck); // its instance is alive, but etcd never starts there
  const c = cluster.adapter.client([a.privateIp].map((x) => `http://${x}:${CLIENT_PORT}`));
  let stuckId = '';
  try {
    // etcd's strict reconfig check rejects an add ("unhealthy cluster") until the peers have been connected 5 s.
    for (let i = 0; !stuckId; i++) {
      try {
        stuckId = (await c.cluster.memberAdd({ peerURLs: [`http://${ip}:${PEER_PORT}`] })).member.ID;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    c.close();
  }
  const t0 = Date.now();
  clock = t0;
  const first = await handler({ kind: 'reconcile' });
  expect(first).toMatchObject({ ok: true, removed: [] });
  const kv = cluster.adapter.client(cluster.clientURLs);
  try {
    expect(await kv.get(UNSTARTED_PREFIX + stuckId).string()).toBe(String(t0));
  } finally {
    kv.close();
  }

  clock = t0 + (GRACE_SECONDS - 10) * 1000; // a fresh invocation (fresh context) reads the first sighting from etcd
  expect(await handler({ kind: 'reconcile' })).toMatchObject({ removed: [] });

  clock = t0 + (GRACE_SECONDS + 1) * 1000;
  const late = await handler({ kind: 'reconcile' });
  expect(late).toMatchObject({ ok: true, removed: [stuckId] });
  expect(await cluster.members()).toHaveLength(3);
  const kv2 = cluster.adapter.client(cluster.clientURLs);
  try {
    expect(await kv2.get(UNSTARTED_PREFIX + stuckId).string()).toBeNull();
  } finally {
    kv2.close();
  }
});

test('reconcile reports a started learner that is not promoted (StuckLearners) and removes nothing', async () => {
  await cluster.settled();
  const [a] = instances;
  const ip = a.privateIp.replace(/\d+$/, (n) => String(Number(n) + 3));
  const learnerInst = standInInstance(ip, 4);
  await standIn.addInstance(learnerInst);
  const existing = await cluster.members();
  // etcd refuses member changes ("unhealthy cluster") until every member has been connected for 5 s, which
  // on a loaded machine can be later than settled() assumes: retry, bounded.
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.adapter.addLearner(cluster.clientURLs, `http://${ip}:${PEER_PORT}`);
      break;
    } catch (err) {
      if (attempt >= 30 || !/unhealthy cluster/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const initial = [
    ...existing.map((m) => `${m.name}=${m.peerURLs[0]}`),
    `${learnerInst.instanceId}=http://${ip}:${PEER_PORT}`,
  ].join(',');
  const node = {
    name: learnerInst.instanceId,
    ip,
    clientURL: `http://${ip}:${CLIENT_PORT}`,
    peerURL: `http://${ip}:${PEER_PORT}`,
    log: '',
  };
  await cluster.startExisting(node, initial);
  for (let i = 0; i < 100; i++) {
    const m = (await cluster.members(a.instanceId)).find((x) => x.peerURLs[0] === node.peerURL);
    if (m && m.name !== '') break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true, removed: [] });
  expect(metrics('StuckLearners')).toEqual([expect.objectContaining({ StuckLearners: 1 })]);
  expect(lines.some((l) => l.decision === 'report' && l.stuckLearner === true && l.level === 'WARN')).toBe(
    true,
  );
  expect(await cluster.members()).toHaveLength(4);
});

test('reconcile finishes a retained termination once it is safe (FAILURE-SCENARIOS 15): member removed, instance terminated, once', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  const terminatedIds: string[][] = [];
  standIn.on('terminate-instances', (e: { instanceIds: string[] }) => terminatedIds.push(e.instanceIds));
  // c's termination was unsafe earlier and answered ABANDON: the group retained it; all three are healthy now.
  standIn.setLifecycleState(c.instanceId, 'Terminating:Retained');
  const id = await cluster.memberIdOf(c.instanceId);

  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true, outcome: 'reconciled', removed: [id] });
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
  // Terminated once, although the group goes on listing it as retained (the next round plans `terminate`).
  expect(terminatedIds).toEqual([[c.instanceId]]);
  expect(decisions()).toContain('remove-retained');
  expect(lines.filter((l) => l.message === 'retained termination finished')).toEqual([
    expect.objectContaining({ instanceId: c.instanceId, memberId: id }),
  ]);
  expect(metrics('RetainedTerminationsFinished')).toHaveLength(1);
});

test('reconcile keeps a retained instance while removing its member is unsafe (another member dead)', async () => {
  await cluster.settled();
  const [a, b, c] = instances;
  const terminatedIds: string[][] = [];
  standIn.on('terminate-instances', (e: { instanceIds: string[] }) => terminatedIds.push(e.instanceIds));
  await cluster.kill(a.instanceId);
  await cluster.waitHealthy([cluster.node(b.instanceId), cluster.node(c.instanceId)]);
  standIn.setLifecycleState(c.instanceId, 'Terminating:Retained');

  const res = await handler({ kind: 'reconcile' });
  expect(res).toMatchObject({ ok: true, outcome: 'reconciled', removed: [] });
  expect(terminatedIds).toEqual([]);
  expect(decisions()).toContain('keep-retained');
  expect(await memberPeerURLs(b.instanceId)).toEqual([peer(a), peer(b), peer(c)].sort());
  expect(metrics('RetainedTerminationsFinished')).toHaveLength(0);
});
