/*
 * Baselines on plain etcd: a static cluster started by hand on loopback addresses 127.251.0.x (outside
 * the fleets' 127.20–249 blocks), and the manual replace runbook done with etcdctl. Every process is
 * tracked by pid so the bench can kill it on any exit path. etcd logs in zap JSON (as the fleet's etcd
 * does), so the first leader election can be read from the logs.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { election, Election } from './fleet';
import { sleep } from './util';

export const BLOCK = '127.251.0';
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

/** Every etcd this module started and has not seen exit: pid → ChildProcess. */
const live = new Map<number, ChildProcess>();

export function killAll(): void {
  for (const [pid, child] of live) {
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export function etcdctl(
  args: string[],
  timeoutMs = 10_000,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      ['--command-timeout=5s', '--dial-timeout=2s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr: stderr || (err ? err.message : '') }),
    );
  });
}

function healthy(ip: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: CLIENT_PORT, path: '/health', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && (JSON.parse(body) as { health: string }).health === 'true');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls /health of every ip every 50 ms until all are healthy at once. */
export async function waitAllHealthy(ips: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await Promise.all(ips.map((ip) => healthy(ip)));
    if (ok.every(Boolean)) return;
    await sleep(50);
  }
  throw new Error(`static cluster not healthy within ${timeoutMs} ms: ${ips.join(',')}`);
}

/** etcdctl's JSON has uint64 ids: keep them exact as strings. */
const bigIdsAsStrings = (json: string) =>
  json.replace(/"(ID|member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"');

const peerURL = (ip: string) => `http://${ip}:${PEER_PORT}`;
const clientURL = (ip: string) => `http://${ip}:${CLIENT_PORT}`;

interface StaticMember {
  name: string;
  ip: string;
  dataDir?: string;
  proc?: ChildProcess;
}

/** One static start: spawn → first leader (from the logs), spawn → every endpoint healthy. */
export interface StaticStart {
  t0: number;
  healthyMs: number;
  election: Election | null;
}

export class StaticCluster {
  readonly members: StaticMember[] = [];
  private gen = 0;

  /** @param dir an empty temp dir owned by the caller */
  constructor(
    size: number,
    private readonly dir: string,
  ) {
    for (let i = 0; i < size; i++) this.members.push({ name: `m${i}`, ip: `${BLOCK}.${11 + i}` });
  }

  get ips(): string[] {
    return this.members.map((m) => m.ip);
  }

  get endpoints(): string[] {
    return this.members.map((m) => clientURL(m.ip));
  }

  private spawnEtcd(m: StaticMember, initialCluster: string, state: string, token?: string): void {
    m.dataDir = path.join(this.dir, `${m.name}.data`);
    const out = fs.openSync(path.join(this.dir, `${m.name}.log`), 'a');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-advertise-peer-urls=${peerURL(m.ip)}`,
      `--listen-peer-urls=${peerURL(m.ip)}`,
      `--listen-client-urls=${clientURL(m.ip)}`,
      `--advertise-client-urls=${clientURL(m.ip)}`,
      '--strict-reconfig-check=true',
      '--logger=zap',
      '--log-outputs=stderr',
    ];
    if (token) args.push(`--initial-cluster-token=${token}`);
    const child = spawn('etcd', args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const pid = child.pid as number;
    live.set(pid, child);
    child.on('exit', () => live.delete(pid));
    m.proc = child;
  }

  /** Starts every member with a static --initial-cluster; resolves when all endpoints are healthy. */
  async start(): Promise<StaticStart> {
    const initial = this.members.map((m) => `${m.name}=${peerURL(m.ip)}`).join(',');
    const token = `bench-${process.pid}-${Date.now()}`;
    const t0 = Date.now();
    for (const m of this.members) this.spawnEtcd(m, initial, 'new', token);
    await waitAllHealthy(this.ips);
    const healthyMs = Date.now() - t0;
    const logs = this.members.map((m) => fs.readFileSync(path.join(this.dir, `${m.name}.log`), 'utf8'));
    return { t0, healthyMs, election: election(logs) };
  }

  async stopMember(m: StaticMember): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.stopMember(m)));
  }

  async leaderName(): Promise<string | undefined> {
    const r = await etcdctl(['--endpoints', this.endpoints.join(','), 'endpoint', 'status', '-w', 'json']);
    if (!r.ok) throw new Error(`endpoint status: ${r.stderr}`);
    const st = JSON.parse(bigIdsAsStrings(r.stdout)) as {
      Endpoint: string;
      Status: { header: { member_id: string }; leader: string };
    }[];
    const leader = st.find((s) => s.Status.header.member_id === s.Status.leader);
    return leader && this.members.find((x) => leader.Endpoint === clientURL(x.ip))?.name;
  }

  /** Retries an etcdctl command every 100 ms while its error matches `retryable`, at most `attempts` times. */
  private async retry(what: string, args: string[], retryable: RegExp, attempts: number): Promise<string> {
    for (let k = 1; ; k++) {
      const r = await etcdctl(args);
      if (r.ok) return r.stdout;
      if (k >= attempts || !retryable.test(r.stderr)) throw new Error(`${what}: ${r.stderr}`);
      await sleep(100);
    }
  }

  /**
   * The manual runbook for replacing one member (no discovery, no lock): member list, member remove,
   * stop it, member add --learner, start etcd with --initial-cluster-state existing, member promote
   * (retried every 100 ms while etcd says the learner is not in sync), then wait until every endpoint
   * is healthy. The new member reuses the victim's address (as the fleet's replacement usually does)
   * with an empty data dir. Returns per-step milliseconds.
   */
  async replace(victim: StaticMember): Promise<Record<string, number>> {
    const steps: Record<string, number> = {};
    let t = Date.now();
    const mark = (name: string) => {
      const now = Date.now();
      steps[name] = now - t;
      t = now;
    };
    const others = this.members.filter((m) => m !== victim);
    const eps = others.map((m) => clientURL(m.ip)).join(',');
    const list = await this.retry(
      'member list',
      ['--endpoints', eps, 'member', 'list', '-w', 'json'],
      /$^/,
      1,
    );
    const entry = (
      JSON.parse(bigIdsAsStrings(list)) as { members: { name: string; ID: string }[] }
    ).members.find((x) => x.name === victim.name);
    if (!entry) throw new Error(`no member ${victim.name}`);
    mark('memberList');
    // As an operator would: retry while etcd's 5 s connection guard (strict reconfig check) says no.
    const victimId = BigInt(entry.ID).toString(16);
    await this.retry(
      'member remove',
      ['--endpoints', eps, 'member', 'remove', victimId],
      /unhealthy cluster/,
      100,
    );
    mark('memberRemove');
    await this.stopMember(victim);
    fs.rmSync(victim.dataDir as string, { recursive: true, force: true });
    mark('stopOld');
    const name = `m${this.members.length + ++this.gen}`;
    const add = await etcdctl([
      '--endpoints',
      eps,
      'member',
      'add',
      name,
      `--peer-urls=${peerURL(victim.ip)}`,
      '--learner',
    ]);
    if (!add.ok) throw new Error(`member add: ${add.stderr}`);
    const id = /Member\s+([0-9a-f]+)\s+added/.exec(add.stdout)?.[1];
    const initial = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(add.stdout)?.[1];
    if (!id || !initial) throw new Error(`member add: unexpected output ${add.stdout}`);
    mark('memberAdd');
    const fresh: StaticMember = { name, ip: victim.ip };
    this.members[this.members.indexOf(victim)] = fresh;
    this.spawnEtcd(fresh, initial, 'existing');
    mark('startEtcd');
    const notYet = /in sync with leader|not in sync|not started|timed out|deadline exceeded|unhealthy/i;
    await this.retry('member promote', ['--endpoints', eps, 'member', 'promote', id], notYet, 1800);
    mark('promote');
    await waitAllHealthy(this.ips);
    mark('allHealthy');
    return steps;
  }
}
