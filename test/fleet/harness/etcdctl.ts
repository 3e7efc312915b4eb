/*
 * Debian's etcdctl (etcd-client) as an independent judge of a fleet: endpoint status, alarm list and reads
 * through etcd's own command-line client, not the project's code.
 */
import { execFile } from 'child_process';
import type { FleetTlsFiles } from '../../../fleet/tls';
import { etcdctlTls } from './client';

/** Runs `etcdctl <args>` (API v3) against these endpoints; rejects with its stderr when it fails. */
export function etcdctl(endpoints: string[], args: string[], tls?: FleetTlsFiles): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'etcdctl',
      ['--endpoints', endpoints.join(','), '--command-timeout', '10s', ...etcdctlTls(tls), ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err ? reject(new Error(`etcdctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

export interface EndpointStatus {
  readonly endpoint: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly raftIndex: number;
}

/** `etcdctl endpoint status -w json` of each endpoint (sizes in bytes). */
export async function endpointStatus(endpoints: string[], tls?: FleetTlsFiles): Promise<EndpointStatus[]> {
  const out = JSON.parse(await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'], tls)) as {
    Endpoint: string;
    Status: { dbSize: number; dbSizeInUse: number; raftIndex: number };
  }[];
  return out.map((e) => ({
    endpoint: e.Endpoint,
    dbSize: e.Status.dbSize,
    dbSizeInUse: e.Status.dbSizeInUse,
    raftIndex: e.Status.raftIndex,
  }));
}

/** `etcdctl alarm list`: the names of the active alarms (e.g. ['NOSPACE']), one per member that raised one. */
export async function alarmList(endpoints: string[], tls?: FleetTlsFiles): Promise<string[]> {
  const out = await etcdctl(endpoints, ['alarm', 'list'], tls);
  return [...out.matchAll(/alarm:(\w+)/g)].map((m) => m[1]);
}

/** `etcdctl get --prefix -w json`: every key under the prefix with its value's bytes. */
export async function getPrefix(
  endpoints: string[],
  prefix: string,
  tls?: FleetTlsFiles,
): Promise<Map<string, Buffer>> {
  const out = JSON.parse(await etcdctl(endpoints, ['get', prefix, '--prefix', '-w', 'json'], tls)) as {
    kvs?: { key: string; value?: string }[];
  };
  return new Map(
    (out.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, 'base64').toString('utf8'),
      Buffer.from(kv.value ?? '', 'base64'),
    ]),
  );
}

/** `etcdctl put KEY VALUE`: resolves true when etcd acknowledged it, false when it refused. */
export async function tryPut(
  endpoints: string[],
  key: string,
  value: string,
  tls?: FleetTlsFiles,
): Promise<boolean> {
  try {
    await etcdctl(endpoints, ['put', key, value], tls);
    return true;
  } catch {
    return false;
  }
}

/** etcdctl's output even when it exits non-zero (`endpoint health` exits 1 when an endpoint is unhealthy). */
function etcdctlOut(endpoints: string[], args: string[], tls?: FleetTlsFiles): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      [
        '--endpoints',
        endpoints.join(','),
        '--command-timeout',
        '2s',
        '--dial-timeout',
        '1s',
        ...etcdctlTls(tls),
        ...args,
      ],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000, maxBuffer: 16 << 20, encoding: 'utf8' },
      (_err, stdout) => resolve(stdout ?? ''),
    );
  });
}

export interface VoterSample {
  /** Epoch ms at the start of the sample. */
  readonly t: number;
  readonly voters: number;
  /** Started voters whose `endpoint health` said true. */
  readonly healthyVoters: number;
  readonly learners: number;
}

/**
 * Samples the cluster's healthy voters with Debian's etcdctl, independently of the fleet's code: `member list`
 * (voters, learners, their client URLs), then `endpoint health` of every started voter. The endpoints follow
 * the member list (the client URLs of the last answer). Bounded: at most `maxSamples`, one every `intervalMs`.
 */
export class EtcdctlVoterSampler {
  readonly samples: VoterSample[] = [];
  /** Samples in which no endpoint answered the member list. */
  unanswered = 0;
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private endpoints: string[],
    private readonly tls?: FleetTlsFiles,
    private readonly intervalMs = 250,
    private readonly maxSamples = 2000,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.samples.length + this.unanswered < this.maxSamples) {
      const t = Date.now();
      const list = await etcdctlOut(this.endpoints, ['member', 'list', '-w', 'json'], this.tls);
      let members: { clientURLs?: string[]; isLearner?: boolean }[] | undefined;
      try {
        members = (JSON.parse(list) as { members?: typeof members }).members;
      } catch {
        members = undefined;
      }
      if (!members) {
        this.unanswered++;
      } else {
        const voters = members.filter((m) => !m.isLearner);
        const started = voters.map((m) => m.clientURLs?.[0]).filter((u): u is string => Boolean(u));
        let healthy = 0;
        if (started.length > 0) {
          const out = await etcdctlOut(started, ['endpoint', 'health', '-w', 'json'], this.tls);
          try {
            healthy = (JSON.parse(out) as { health: boolean }[]).filter((h) => h.health).length;
          } catch {
            healthy = 0;
          }
        }
        const urls = members.map((m) => m.clientURLs?.[0]).filter((u): u is string => Boolean(u));
        if (urls.length > 0) this.endpoints = urls;
        this.samples.push({
          t,
          voters: voters.length,
          healthyVoters: healthy,
          learners: members.length - voters.length,
        });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - t))));
    }
  }

  /** The fewest healthy voters any answered sample saw (Infinity: none answered). */
  get minHealthyVoters(): number {
    return Math.min(...this.samples.map((s) => s.healthyVoters));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
