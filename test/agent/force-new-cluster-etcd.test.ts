/*
 * FAILURE-SCENARIOS 14 on real etcd 3.4 (Debian's etcd-server), the agent's part: a 3-member cluster at
 * 127.0.81.1-3 under writes; two members SIGKILLed and their data dirs deleted; the survivor "reboots"
 * (SIGKILL). Its join agent (runJoin, the real restore gate, the real etcd adapter; only AWS and S3 are
 * replaced by functions) reads a restore record whose source is its own data and writes settings with
 * ETCD_FORCE_NEW_CLUSTER=true; etcd started with exactly those settings (as etcd-member.service reads the
 * env file) comes up as a one-member cluster: same member id, same cluster id, every acknowledged key with
 * its value, writable. A learner is added; the next start (the agent again, the same record) is a plain
 * restart without force, and the learner is still a member (a second force would have removed it).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InstanceMetadata } from '../../lambda/adapters/aws';
import { AgentConfig, OutputFormat } from '../../lambda/agent/config';
import { localDataDir } from '../../lambda/agent/data-dir';
import { AgentDeps } from '../../lambda/agent/deps';
import { runJoin, writeSettings } from '../../lambda/agent/join';
import { buildDeps } from '../../lambda/agent/main';
import { parseEnvFile } from '../../lambda/agent/output';
import { buildRestoreRecord, RestorePolicy, RestoreRecord } from '../../lambda/core/restore';
import { JoinStrategy } from '../../lambda/core/types';
import { backendSettings } from '../../lib/private/run-time-config';
import { CLIENT_PORT, EtcdCluster, PEER_PORT } from '../lifecycle/etcd-cluster';

jest.setTimeout(90_000);

const IPS = ['127.0.81.1', '127.0.81.2', '127.0.81.3'];
const NAMES = ['i-0forcenew00001', 'i-0forcenew00002', 'i-0forcenew00003'];
const SURVIVOR = 2;

let cluster: EtcdCluster;
let dir: string;
let own: ChildProcess | undefined;
let ownLog = '';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'force-new-cluster-'));
  cluster = new EtcdCluster(IPS.map((ip, n) => ({ name: NAMES[n], ip })));
  await cluster.start();
});

afterAll(async () => {
  await stopOwn();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function stopOwn(): Promise<void> {
  const p = own;
  own = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    process.kill(p.pid!, 'SIGKILL');
  });
}

/** Starts etcd with the env file the agent wrote, as etcd-member.service (and the local fleet) does. */
function startFromEnv(envFile: string): void {
  const vars = parseEnvFile(fs.readFileSync(envFile, 'utf8'));
  own = spawn('etcd', ['--heartbeat-interval', '50', '--election-timeout', '500'], {
    env: { PATH: process.env.PATH ?? '', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  ownLog = '';
  const keep = (b: Buffer) => {
    ownLog = (ownLog + b.toString()).slice(-20000);
  };
  own.stdout?.on('data', keep);
  own.stderr?.on('data', keep);
}

const survivorNode = () => cluster.node(NAMES[SURVIVOR]);

function config(): AgentConfig {
  return {
    strategy: JoinStrategy.REPLACE,
    sizeCap: 3,
    peerPort: PEER_PORT,
    clientPort: CLIENT_PORT,
    scheme: 'http',
    dataDir: path.join(cluster.dir, NAMES[SURVIVOR]),
    envFile: path.join(dir, 'etcd.env'),
    output: OutputFormat.ENV,
    launchHookName: 'launch-hook',
    deadlineSeconds: 30,
    heartbeatSeconds: 600,
    retryDelayMs: 200,
    restorePolicy: RestorePolicy.AUTOMATIC,
    backend: backendSettings(),
  };
}

function deps(record: RestoreRecord): { d: AgentDeps; lines: string[] } {
  const lines: string[] = [];
  const d: AgentDeps = {
    ...buildDeps('local-1', new InstanceMetadata('http://127.0.81.250:1')),
    identity: async () => ({ instanceId: NAMES[SURVIVOR], privateIp: IPS[SURVIVOR] }),
    groupOf: async () => 'g',
    describeGroup: async () => ({
      groupName: 'g',
      desiredCapacity: 3,
      instances: [
        { instanceId: NAMES[0], privateIp: IPS[0], lifecycleState: 'Terminating:Retained' },
        { instanceId: NAMES[1], privateIp: IPS[1], lifecycleState: 'Terminating:Retained' },
        { instanceId: NAMES[SURVIVOR], privateIp: IPS[SURVIVOR], lifecycleState: 'InService' },
      ],
    }),
    completeLifecycleAction: async () => undefined,
    heartbeat: async () => undefined,
    log: (message, fields) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`),
    restore: {
      latestRestore: async () => record,
      newestSnapshot: async () => undefined,
      download: async () => {
        throw new Error('no download expected');
      },
      runRestore: async () => {
        throw new Error('no snapshot restore expected');
      },
      log: (message, fields) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`),
    },
  };
  return { d, lines };
}

test('the survivor starts once with force-new-cluster on its own data: every key back, never forced again', async () => {
  const s = survivorNode();
  const c = cluster.adapter.client(cluster.clientURLs);
  const written = new Map<string, string>();
  let clusterId: string;
  try {
    for (let n = 0; n < 200; n++) {
      const key = `fnc/${String(n).padStart(4, '0')}`;
      await c.put(key).value(`v${n}`);
      written.set(key, `v${n}`);
    }
    const st = await c.maintenance.status();
    clusterId = st.header.cluster_id;
  } finally {
    c.close();
  }
  const memberId = await cluster.memberIdOf(NAMES[SURVIVOR]);
  // The survivor has persisted the commit of the last write. force-new-cluster keeps only the WAL entries up to
  // the commit index the member persisted, and a follower persists a new commit index only with its next synced
  // append (a commit-only update stays in etcd's WAL buffer, lost with a SIGKILL). So one more write, and the
  // survivor applying it, carries the commit of fnc/0199 to its disk. What is tested here is the agent's handling
  // of the survivor's data; the limit this shows is stated in FAILURE-SCENARIOS 14.
  const sc = cluster.adapter.client([s.clientURL]);
  try {
    const w = cluster.adapter.client(cluster.clientURLs);
    try {
      await w.put('sync/after').value('1');
    } finally {
      w.close();
    }
    for (let i = 0; i < 100; i++) {
      if ((await sc.get('sync/after').serializable(true).string()) === '1') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    sc.close();
  }

  // Two members lost with their data at once; the survivor's etcd stops (its instance reboots).
  await Promise.all([cluster.kill(NAMES[0]), cluster.kill(NAMES[1])]);
  for (const n of NAMES.slice(0, 2)) fs.rmSync(path.join(cluster.dir, n), { recursive: true, force: true });
  await cluster.kill(NAMES[SURVIVOR]);

  const record = buildRestoreRecord(
    0,
    { instanceId: NAMES[SURVIVOR], privateIp: IPS[SURVIVOR], lifecycleState: 'InService' },
    [],
    Date.now(),
    'test: quorum lost for good',
    { kind: 'survivor', instanceId: NAMES[SURVIVOR], memberId, revision: 201 },
  );
  const cfg = config();
  const first = deps(record);
  const r = await runJoin(cfg, first.d);
  expect(r.settings.forceNewCluster).toBe(true);
  writeSettings(cfg, r.settings);
  const env = parseEnvFile(fs.readFileSync(cfg.envFile, 'utf8'));
  expect(env.ETCD_FORCE_NEW_CLUSTER).toBe('true');
  expect(env.ETCD_INITIAL_CLUSTER).toBe(`${NAMES[SURVIVOR]}=${s.peerURL}`);
  expect(localDataDir(cfg.dataDir).generation()).toBe(1);

  startFromEnv(cfg.envFile);
  await cluster.waitHealthy([s]);
  expect(ownLog).toMatch(/forcing restart of member|force-new-cluster|forcing/i);
  const after = cluster.adapter.client([s.clientURL]);
  try {
    const members = (await cluster.adapter.memberList([s.clientURL]))!.members;
    expect(members.map((m) => ({ id: m.id, name: m.name, learner: m.isLearner }))).toEqual([
      { id: memberId, name: NAMES[SURVIVOR], learner: false },
    ]);
    expect((await after.maintenance.status()).header.cluster_id).toBe(clusterId!);
    const got = await after.getAll().prefix('fnc/').strings();
    expect(got).toEqual(Object.fromEntries(written));
    await after.put('fnc/after').value('writable');
    expect(await after.get('fnc/after').string()).toBe('writable');
  } finally {
    after.close();
  }

  // A learner joins (its entry only): a second force would remove it.
  const learner = await cluster.adapter.addLearner([s.clientURL], 'http://127.0.81.9:2380');
  await stopOwn();
  const second = deps(record);
  const r2 = await runJoin(cfg, second.d);
  expect(r2.step.kind).toBe('start-existing');
  expect(r2.settings.forceNewCluster).toBeUndefined();
  writeSettings(cfg, r2.settings);
  expect(parseEnvFile(fs.readFileSync(cfg.envFile, 'utf8')).ETCD_FORCE_NEW_CLUSTER).toBeUndefined();
  expect(second.lines.some((l) => l.startsWith('restore gate {"role":"none"'))).toBe(true);
  startFromEnv(cfg.envFile);
  await cluster.waitHealthy([s]);
  const ids = (await cluster.adapter.memberList([s.clientURL]))!.members.map((m) => m.id).sort();
  expect(ids).toEqual([memberId, learner.id].sort());
  const check = cluster.adapter.client([s.clientURL]);
  try {
    expect(await check.get('fnc/0199').string()).toBe('v199');
  } finally {
    check.close();
  }
});
