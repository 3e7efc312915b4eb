/*
 * Real etcd processes for the lifecycle handler tests: a static cluster on loopback addresses of this test
 * file (given by the caller), data dirs in a mkdtemp dir. Every process started here is killed by pid in stop().
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EtcdAdapter } from '../../lambda/adapters/etcd';
import type { Member } from '../../lambda/core/types';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

export interface EtcdNode {
  readonly name: string;
  readonly ip: string;
  readonly clientURL: string;
  readonly peerURL: string;
  proc?: ChildProcess;
  log: string;
}

export class EtcdCluster {
  readonly nodes: EtcdNode[];
  readonly dir: string;
  readonly adapter = new EtcdAdapter({ callTimeoutMs: 2000 });
  private startedAt = 0;

  /** `extraArgs`: more etcd flags for every member (e.g. --quota-backend-bytes). */
  constructor(
    members: readonly { name: string; ip: string }[],
    private readonly extraArgs: readonly string[] = [],
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-etcd-'));
    this.nodes = members.map(({ name, ip }) => ({
      name,
      ip,
      clientURL: `http://${ip}:${CLIENT_PORT}`,
      peerURL: `http://${ip}:${PEER_PORT}`,
      log: '',
    }));
  }

  get clientURLs(): string[] {
    return this.nodes.map((n) => n.clientURL);
  }

  node(name: string): EtcdNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no etcd node ${name}`);
    return n;
  }

  /** Starts every node as one new static cluster and waits until each answers a linearizable read. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    const initial = this.nodes.map((n) => `${n.name}=${n.peerURL}`).join(',');
    for (const n of this.nodes) this.spawn(n, initial, 'new');
    await this.waitHealthy(this.nodes);
  }

  /** Starts an extra node into an existing cluster (its member entry must exist already). */
  async startExisting(n: EtcdNode, initialCluster: string): Promise<void> {
    this.nodes.push(n);
    this.spawn(n, initialCluster, 'existing');
  }

  private spawn(n: EtcdNode, initialCluster: string, state: 'new' | 'existing'): void {
    const proc = spawn(
      'etcd',
      [
        '--name',
        n.name,
        '--data-dir',
        path.join(this.dir, n.name),
        '--listen-peer-urls',
        n.peerURL,
        '--initial-advertise-peer-urls',
        n.peerURL,
        '--listen-client-urls',
        n.clientURL,
        '--advertise-client-urls',
        n.clientURL,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        `lifecycle-test-${path.basename(this.dir)}`,
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (b: Buffer) => {
      n.log = (n.log + b.toString()).slice(-20000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    n.proc = proc;
  }

  async waitHealthy(nodes: readonly EtcdNode[], timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const n of nodes) {
      for (;;) {
        const member: Member = {
          id: '1',
          name: n.name,
          peerURLs: [n.peerURL],
          clientURLs: [n.clientURL],
          isLearner: false,
        };
        if (await this.adapter.isHealthy(member)) break;
        if (Date.now() > deadline)
          throw new Error(`etcd ${n.name} not healthy in time:\n${n.log.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Waits until the members have been connected for etcd's HealthInterval (5 s): before that, its strict
   * reconfig check rejects member add and remove with "unhealthy cluster".
   */
  async settled(): Promise<void> {
    const wait = this.startedAt + 5500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** SIGKILL one node (as if its instance died). */
  async kill(name: string): Promise<void> {
    const n = this.node(name);
    await killProc(n.proc);
    n.proc = undefined;
  }

  /** The member list as seen from the given (or any living) node. */
  async members(from?: string): Promise<Member[]> {
    const endpoints = from
      ? [this.node(from).clientURL]
      : this.nodes.filter((n) => n.proc).map((n) => n.clientURL);
    const res = await this.adapter.memberList(endpoints);
    if (!res) throw new Error('no etcd node answered the member list');
    return res.members;
  }

  async memberIdOf(name: string): Promise<string> {
    const m = (await this.members()).find((x) => x.peerURLs.includes(this.node(name).peerURL));
    if (!m) throw new Error(`no member for ${name}`);
    return m.id;
  }

  /** Kills every process this cluster started and removes its data dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => killProc(n.proc)));
    for (const n of this.nodes) n.proc = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function killProc(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    try {
      process.kill(proc.pid!, 'SIGKILL');
    } catch {
      resolve();
    }
  });
}
