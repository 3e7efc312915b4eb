/*
 * Samplers that watch a fleet while a change runs: the status poller (the writer's endpoints, the chaos
 * run's voter timeline), the status sampler (joining members at once, quorum) and the member sampler
 * (etcd's own member list and every started voter's health).
 */
import type { Etcd3 } from 'etcd3';
import { client, StatusJson } from './client';
import type { TestFleet } from './fleet';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One `status --json` observation, reduced to what the quorum checks need. */
export interface StatusSample {
  /** Epoch ms, the middle of the status call. */
  t: number;
  voters: string[];
  leader: string;
  ids: string[];
  terminating: string[];
  clusterId?: string;
}

/**
 * Polls `status --json` every `intervalMs` (bounded: at most `maxSamples`): `latest` is the newest status,
 * `samples` the timeline; `onSample` sees each status as it comes.
 */
export class StatusPoller {
  latest?: StatusJson;
  readonly samples: StatusSample[] = [];
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly fleet: Pick<TestFleet, 'status'>,
    private readonly opts: {
      intervalMs?: number;
      maxSamples?: number;
      onSample?: (s: StatusJson) => void;
    } = {},
  ) {}

  /** The latest status, or a fresh one before the first poll came back. */
  async current(): Promise<StatusJson> {
    this.latest ??= await this.fleet.status();
    return this.latest;
  }

  start(): void {
    const interval = this.opts.intervalMs ?? 1000;
    const max = this.opts.maxSamples ?? 20_000;
    this.done = (async () => {
      while (!this.stopped && this.samples.length < max) {
        const t0 = Date.now();
        const s = await this.fleet.status().catch(() => undefined);
        if (s) {
          this.latest = s;
          this.samples.push({
            t: Math.round((t0 + Date.now()) / 2),
            voters: s.instances.filter((i) => i.role === 'voter').map((i) => i.id),
            leader: s.instances.find((i) => i.leader)?.id ?? '',
            ids: s.instances.map((i) => i.id),
            terminating: s.instances
              .filter((i) => i.lifecycleState.startsWith('Terminating'))
              .map((i) => i.id),
            clusterId: s.clusterId,
          });
          this.opts.onSample?.(s);
        }
        await sleep(Math.max(0, interval - (Date.now() - t0)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/**
 * Samples `status` while a change runs (every 200 ms, at most `maxSamples`), recording the largest number
 * of joining members (learner or unstarted) seen at once: "one member change at a time" means at most 1.
 */
export class StatusSampler {
  maxPending = 0;
  samples = 0;
  /** Samples in which the healthy voters were fewer than the quorum of all voters. */
  quorumLost = 0;
  private readonly poller: StatusPoller;

  constructor(fleet: Pick<TestFleet, 'status'>, maxSamples = 2000) {
    this.poller = new StatusPoller(fleet, { intervalMs: 200, maxSamples, onSample: (s) => this.sample(s) });
  }

  private sample(s: StatusJson): void {
    this.samples++;
    const pending = s.instances.filter((i) => i.role === 'learner' || i.role === 'unstarted').length;
    this.maxPending = Math.max(this.maxPending, pending);
    const voters = s.instances.filter((i) => i.role === 'voter');
    const healthy = voters.filter((i) => i.healthy).length;
    if (voters.length > 0 && healthy < Math.floor(voters.length / 2) + 1) this.quorumLost++;
  }

  start(): void {
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }
}

/**
 * Samples etcd's own member list (an etcd3 client, not the fleet's status, which lists only instances)
 * while a change runs, and probes every started voter's client URL (Maintenance.Status, the harness
 * client's 3 s deadline).
 * Per sample it records the joining members (learners and unstarted entries) and whether the healthy
 * started voters are a quorum of all voters (a dead member whose instance is gone still counts as a
 * voter here). Bounded: at most `maxSamples`, one every `intervalMs`.
 */
export class MemberSampler {
  samples = 0;
  /** Samples in which no endpoint answered the member list. */
  unanswered = 0;
  maxPending = 0;
  /** Samples in which the healthy started voters were fewer than the quorum of all voters. */
  quorumLost = 0;
  /** The first few violating samples, for the failure message. */
  readonly violations: string[] = [];
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly fleet: Pick<TestFleet, 'status'>,
    private readonly maxSamples = 3000,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const first = await this.fleet.status();
    const tls = first.tls;
    let endpoints = first.endpoints;
    let list = client(endpoints, tls);
    const probes = new Map<string, Etcd3>();
    const probe = (url: string): Etcd3 => {
      let c = probes.get(url);
      if (!c) {
        c = client([url], tls);
        probes.set(url, c);
      }
      return c;
    };
    try {
      for (let n = 0; !this.stopped && this.samples < this.maxSamples; n++) {
        if (n > 0 && n % 25 === 0) {
          const s = await this.fleet.status().catch(() => undefined);
          if (s && s.endpoints.length > 0 && s.endpoints.join() !== endpoints.join()) {
            list.close();
            endpoints = s.endpoints;
            list = client(endpoints, tls);
          }
        }
        const r = await list.cluster.memberList({}).catch(() => undefined);
        this.samples++;
        if (!r) {
          this.unanswered++;
        } else {
          const members = r.members;
          const started = (m: (typeof members)[number]) => m.name !== '' && m.clientURLs.length > 0;
          const pending = members.filter((m) => m.isLearner || !started(m));
          const voters = members.filter((m) => !m.isLearner);
          const up = await Promise.all(
            voters.filter(started).map((m) =>
              probe(m.clientURLs[0])
                .maintenance.status()
                .then(() => true)
                .catch(() => false),
            ),
          );
          const healthy = up.filter(Boolean).length;
          this.maxPending = Math.max(this.maxPending, pending.length);
          const lost = healthy < Math.floor(voters.length / 2) + 1;
          if (lost) this.quorumLost++;
          if ((lost || pending.length > 1) && this.violations.length < 5) {
            this.violations.push(
              `${members.length} members, ${voters.length} voters, ${healthy} healthy started voters, ${pending.length} joining`,
            );
          }
        }
        await new Promise((res) => setTimeout(res, this.intervalMs));
      }
    } finally {
      list.close();
      for (const c of probes.values()) c.close();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
