/*
 * FAILURE-SCENARIOS 17.
 * The agent's `handoff` command, as etcd-handoff.service's ExecStop runs it before an instance's etcd stops:
 * the built bundle (build/agent/agent.js) as a process, its identity from the stand-in's metadata service, on
 * a real 3-member etcd 3.4.23 cluster on 127.0.76.1-3 (default timing: heartbeat 100 ms, election 1 s),
 * judged with Debian's etcdctl. The leader's instance hands leadership over before it stops, so a steady
 * writer on the other two members sees one leader transfer instead of an election timeout; a follower's
 * instance changes nothing; an instance whose etcd is already gone ends at once without blocking the stop.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsStandIn } from '../../fleet/standin';
import { writeAgentConfig } from '../../lib/contract';
import { backendSettings } from '../../lib/private/run-time-config';
import { OutputFormat } from '../../lambda/agent/config';
import { RestorePolicy } from '../../lambda/core/restore';
import { JoinStrategy } from '../../lambda/core/types';
import { etcdctl } from '../fleet/harness/etcdctl';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from '../lifecycle/etcd-cluster';
import { longestGap, steadyWriter } from '../lifecycle/steady-writer';
import { instance, newStandIn } from '../standin/helpers';

jest.setTimeout(120_000);

const IPS = ['127.0.76.1', '127.0.76.2', '127.0.76.3'];
const AGENT = path.resolve(__dirname, '../../build/agent/agent.js');

let cluster: EtcdCluster;
let standIn: AwsStandIn;
let dir: string;
const ids: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-stop-'));
  standIn = newStandIn('127.0.76.9');
  await standIn.start();
  for (const [n, ip] of IPS.entries()) {
    const inst = instance(ip, n);
    ids.push(inst.instanceId);
    await standIn.addInstance(inst);
  }
  // etcd's default timing, as the construct and the fleet run it (the class's own default is 50/500 ms).
  cluster = new EtcdCluster(
    IPS.map((ip, n) => ({ name: ids[n], ip })),
    ['--heartbeat-interval', '100', '--election-timeout', '1000'],
  );
  await cluster.start();
  await cluster.settled();
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(
      writeAgentConfig({
        strategy: JoinStrategy.REPLACE,
        sizeCap: 4,
        peerPort: PEER_PORT,
        clientPort: CLIENT_PORT,
        scheme: 'http',
        dataDir: path.join(dir, 'data'),
        envFile: path.join(dir, 'env'),
        output: OutputFormat.ENV,
        launchHookName: 'launch-hook',
        deadlineSeconds: 900,
        heartbeatSeconds: 60,
        retryDelayMs: 500,
        restorePolicy: RestorePolicy.MANUAL,
        backend: backendSettings(),
      }),
    ),
  );
});

afterAll(async () => {
  await cluster?.stop();
  await standIn?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** What etcdctl says each endpoint's leader is (hex member id), by endpoint. */
async function leaders(endpoints: string[]): Promise<Record<string, string>> {
  const out = bigIdsAsStrings(await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'])) as {
    Endpoint: string;
    Status: { leader: string };
  }[];
  return Object.fromEntries(out.map((e) => [e.Endpoint, e.Status.leader]));
}

/** etcdctl's JSON with its uint64 ids as decimal strings (JSON.parse would round them to doubles). */
const bigIdsAsStrings = (text: string): unknown => JSON.parse(text.replace(/":(\d{10,})/g, '":"$1"'));

/** The instance index whose member leads, by etcdctl's endpoint status and member list. */
async function leaderIndex(endpoints: string[]): Promise<number> {
  const byEndpoint = await leaders(endpoints);
  const distinct = [...new Set(Object.values(byEndpoint))];
  if (distinct.length !== 1) throw new Error(`no single leader: ${JSON.stringify(byEndpoint)}`);
  const list = bigIdsAsStrings(await etcdctl(endpoints, ['member', 'list', '-w', 'json'])) as {
    members: { ID: string; name: string }[];
  };
  const m = list.members.find((x) => x.ID === distinct[0])!;
  return ids.indexOf(m.name);
}

/** Runs `agent.js handoff` as instance `i`; its exit code, wall time and log lines. */
function handoff(i: number): Promise<{ code: number | null; ms: number; lines: Record<string, unknown>[] }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--no-warnings', AGENT, 'handoff', '--config', path.join(dir, 'config.json')],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AWS_EC2_METADATA_SERVICE_ENDPOINT: standIn.metadataEndpointFor(ids[i]),
          AWS_ENDPOINT_URL: standIn.endpoint,
          AWS_ACCESS_KEY_ID: 'fleet',
          AWS_SECRET_ACCESS_KEY: 'fleet',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, ms: Date.now() - started, lines });
    });
  });
}

test("a follower's instance stopping: no handoff, the leader stays", async () => {
  const endpoints = cluster.clientURLs;
  const before = await leaderIndex(endpoints);
  const follower = (before + 1) % 3;
  const r = await handoff(follower);
  expect(r.code).toBe(0);
  expect(r.lines.find((l) => l.message === 'leader handoff')).toMatchObject({
    for: 'stop',
    decision: 'not-leader',
    instanceId: ids[follower],
  });
  expect(await leaderIndex(endpoints)).toBe(before);
});

test("the leader's instance stopping: leadership moves first, then the stop costs the writer no election", async () => {
  const endpoints = cluster.clientURLs;
  const from = await leaderIndex(endpoints);
  const others = [0, 1, 2].filter((i) => i !== from);
  // Deadline 250 ms: a put dropped during the leader transfer costs at most that.
  const writer = steadyWriter(
    others.map((i) => cluster.clientURLs[i]),
    { prefix: 'handoff-stop/', deadlineMs: 250, maxPuts: 20_000 },
  );
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  const r = await handoff(from);
  // The unit's ExecStop ended: systemd stops etcd now (here: the process is killed).
  await cluster.kill(ids[from]);
  await new Promise((res) => setTimeout(res, 2500));
  await writer.stop();
  const during = writer.acks.filter((t) => t >= t0 - 200);
  const gap = longestGap(during);
  const at = during.findIndex((t, i) => i > 0 && t - during[i - 1] === gap);
  console.log(
    `handoff at stop: agent ${r.ms} ms, longest write gap ${gap} ms over ${during.length} acks, ` +
      `ending ${during[at] - t0} ms after the handoff started; ` +
      JSON.stringify(r.lines.map((l) => [l.message, Date.parse(String(l.time)) - t0])),
  );

  expect(r.code).toBe(0);
  const decision = r.lines.find((l) => l.message === 'leader handoff')!;
  expect(decision).toMatchObject({ for: 'stop', decision: 'move', instanceId: ids[from] });
  const moved = r.lines.find((l) => l.message === 'leadership moved')!;
  expect(moved).toMatchObject({ for: 'stop', from: decision.from, to: decision.to });
  // etcdctl: both remaining members name the member the agent chose.
  const after = await leaders(others.map((i) => cluster.clientURLs[i]));
  expect(new Set(Object.values(after))).toEqual(new Set([moved.to]));
  expect(others).toContain(await leaderIndex(others.map((i) => cluster.clientURLs[i])));
  // Stopping the leader as it is costs an election timeout (1 s) plus the election: 1.1-2 s measured.
  expect(during.length).toBeGreaterThan(20);
  expect(gap).toBeLessThan(700);
});

test('an instance whose etcd is gone: the command ends at once and never blocks the stop', async () => {
  // The member stopped in the test before: its etcd does not answer any more.
  const gone = ids.findIndex((id) => !cluster.node(id).proc);
  expect(gone).toBeGreaterThanOrEqual(0);
  const r = await handoff(gone);
  expect(r.code).toBe(0);
  expect(r.ms).toBeLessThan(10_000);
  expect(r.lines.find((l) => l.message === 'leader handoff')).toMatchObject({
    for: 'stop',
    decision: 'no-member',
    reason: expect.stringMatching(/does not answer/),
  });
});
