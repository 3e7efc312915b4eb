/*
 * A scratch etcd off the serving path (issue 16): the configured image's etcd binary (`etcdCommand`) started
 * on a data dir that etcd-member does not use yet (a restore's work dir; later a restore drill's copy),
 * listening only on 127.0.0.1 ports that were free a moment before, with no TLS. Used to replay the
 * incremental log into a restored member before it is adopted; it is stopped (SIGTERM, then SIGKILL after a
 * bound) before the data dir is used for anything else.
 */
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';
import { NoopPolicy } from 'cockatiel';
import { keyspaceSha256 } from '../adapters/keyspace-digest';
import { Etcd3 } from 'etcd3';

export interface ScratchEtcdOptions {
  /** argv of the etcd binary (the config's etcdCommand). */
  readonly command: readonly string[];
  /** The member name the data dir was made for (`snapshot restore --name`). */
  readonly name: string;
  readonly dataDir: string;
  /** How long to wait for it to answer as a leader (default 30 s). */
  readonly startTimeoutMs?: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** A port on 127.0.0.1 that was free when asked (the OS's choice). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * `n` distinct free ports on 127.0.0.1: every listener is held until all are chosen (one after the other,
 * a port just released could be handed out again).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  }
}

export class ScratchEtcd {
  private output = '';
  private exited?: string;

  private constructor(
    private readonly proc: ChildProcess,
    readonly clientURL: string,
    readonly client: Etcd3,
  ) {
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.once('exit', (code, signal) => {
      this.exited = `exited ${code ?? signal}`;
    });
  }

  /** Starts it and waits until it answers as the leader of its one-member cluster. */
  static async start(o: ScratchEtcdOptions): Promise<ScratchEtcd> {
    const [clientPort, peerPort] = await freePorts(2);
    const clientURL = `http://127.0.0.1:${clientPort}`;
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const proc = spawn(
      o.command[0],
      [
        ...o.command.slice(1),
        '--name',
        o.name,
        '--data-dir',
        o.dataDir,
        '--listen-client-urls',
        clientURL,
        '--advertise-client-urls',
        clientURL,
        '--listen-peer-urls',
        peerURL,
        '--listen-metrics-urls',
        '',
      ],
      // Only what etcd needs: no ETCD_* settings of the agent's environment may reach it.
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    const client = new Etcd3({
      hosts: [clientURL],
      dialTimeout: 2000,
      defaultCallOptions: () => ({ deadline: Date.now() + 2000 }),
      faultHandling: { host: () => new NoopPolicy(), global: new NoopPolicy() },
    });
    const s = new ScratchEtcd(proc, clientURL, client);
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
    let last = '';
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      if (spawnError || s.exited) {
        await s.stop();
        throw new Error(
          `scratch etcd ${o.command[0]} did not start: ${spawnError?.message ?? s.exited}; ${s.output.slice(-1000)}`,
        );
      }
      try {
        const st = await client.maintenance.status();
        if (st.leader !== '0' && st.leader !== '') {
          o.log?.('scratch etcd up', { clientURL, revision: Number(st.header.revision), pid: proc.pid });
          return s;
        }
        last = 'no leader yet';
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await s.stop();
    throw new Error(`scratch etcd did not answer within the bound: ${last}; ${s.output.slice(-1000)}`);
  }

  /** The store's current revision. */
  async revision(): Promise<number> {
    return Number((await this.client.maintenance.status()).header.revision);
  }

  /** The keyspace's sha256 at a revision (lambda/adapters/keyspace-digest.ts). */
  contentSha256(revision: number): Promise<string> {
    return keyspaceSha256(this.client, revision);
  }

  /** Stops it: SIGTERM (a clean stop: the WAL and the backend are synced), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.client.close();
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }
}
