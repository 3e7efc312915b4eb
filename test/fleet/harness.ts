/*
 * Test harness over the etcd-fleet CLI contract (bin/etcd-fleet.js → build/fleet/cli.js): every fleet test
 * drives real etcd processes through the same commands a user types. Each fleet lives in its own temp dir
 * (its own 127.K.x.x block) and is torn down with `etcd-fleet down` in afterAll, also on failure.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Etcd3 } from 'etcd3';
import type { FleetTlsFiles } from '../../fleet/tls';
import type { FleetStatus } from '../../fleet/types';

const BIN = path.join(__dirname, '..', '..', 'bin', 'etcd-fleet.js');

/** What `etcd-fleet status --json` prints: the supervisor's own status type (the CLI contract). */
export type StatusJson = FleetStatus;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TestFleet {
  private made?: string;

  constructor(private readonly name: string) {}

  /** The fleet's temp dir, made on first use (a describe block whose tests are all filtered out makes none). */
  get dir(): string {
    this.made ??= fs.mkdtempSync(path.join(os.tmpdir(), `fleet-${this.name}-`));
    return this.made;
  }

  cli(...args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args, '--dir', this.dir],
        { timeout: 400_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Runs a CLI command and fails the test with its stderr and the supervisor log tail when it fails. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.code !== 0) {
      throw new Error(`etcd-fleet ${args.join(' ')} exited ${r.code}: ${r.stderr}\n${this.logTail()}`);
    }
    return r.stdout;
  }

  logTail(lines = 40): string {
    const p = path.join(this.dir, 'supervisor.log');
    if (!fs.existsSync(p)) return '(no supervisor log)';
    return fs.readFileSync(p, 'utf8').trim().split('\n').slice(-lines).join('\n');
  }

  async status(): Promise<StatusJson> {
    return JSON.parse(await this.ok('status', '--json')) as StatusJson;
  }

  async up(...args: string[]): Promise<StatusJson> {
    return JSON.parse(await this.ok('up', ...args, '--json')) as StatusJson;
  }

  async down(): Promise<void> {
    if (!this.made) return;
    await this.cli('down');
    fs.rmSync(this.made, { recursive: true, force: true });
  }

  /** Launch order of every instance still present (instance dirs are named NNN-<id>). */
  launchOrder(): Record<string, number> {
    const base = path.join(this.dir, 'instances');
    if (!fs.existsSync(base)) return {};
    return Object.fromEntries(
      fs.readdirSync(base).map((d) => [d.replace(/^\d+-/, ''), Number(d.split('-')[0])]),
    );
  }

  /** The agent log lines of every instance (instance dirs are named NNN-<id>). */
  agentLogs(): Record<string, string> {
    const out: Record<string, string> = {};
    const base = path.join(this.dir, 'instances');
    if (!fs.existsSync(base)) return out;
    for (const d of fs.readdirSync(base)) {
      const p = path.join(base, d, 'agent.log');
      if (fs.existsSync(p)) out[d.replace(/^\d+-/, '')] = fs.readFileSync(p, 'utf8');
    }
    return out;
  }
}

/** etcdctl's TLS flags for a `--tls` fleet's client identity ([] without TLS). */
export function etcdctlTls(tls?: FleetTlsFiles): string[] {
  return tls ? ['--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key] : [];
}

/** The instances of a status that are InService. */
export function live(s: StatusJson): StatusJson['instances'] {
  return s.instances.filter((i) => i.lifecycleState === 'InService');
}

/** The JSON lines of an agent or supervisor log. */
export function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Asserts the converged shape of docs/FAILURE-SCENARIOS.md: voters == desired, all healthy, one cluster id. */
export function expectConverged(s: StatusJson, desired: number): void {
  expect(s.converged).toBe(true);
  expect(s.desired).toBe(desired);
  const inService = live(s);
  expect(inService).toHaveLength(desired);
  expect(inService.every((i) => i.role === 'voter' && i.healthy)).toBe(true);
  expect(s.clusterId).toMatch(/^[0-9a-f]+$/);
  expect(inService.filter((i) => i.leader)).toHaveLength(1);
}

/** An etcd3 client; with `tls` (from `status --json` of a `--tls` fleet) it presents that client identity. */
export function client(endpoints: string[], tls?: FleetTlsFiles): Etcd3 {
  return new Etcd3({
    hosts: endpoints,
    ...(tls && {
      credentials: {
        rootCertificate: fs.readFileSync(tls.ca),
        certChain: fs.readFileSync(tls.cert),
        privateKey: fs.readFileSync(tls.key),
      },
    }),
    dialTimeout: 2000,
    defaultCallOptions: () => ({ deadline: Date.now() + 3000 }),
  });
}

/**
 * A steady writer: sequential keys, each recorded only once etcd acknowledged it. Bounded: it stops
 * after `maxWrites` or when stopped, and it re-reads the endpoints from the fleet as members change.
 */
export class Writer {
  readonly acked: string[] = [];
  private readonly values: Record<string, string> = {};
  failures = 0;
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly fleet: TestFleet,
    private readonly prefix: string,
    private readonly maxWrites = 20_000,
    private readonly intervalMs = 20,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const first = await this.fleet.status();
    let endpoints = first.endpoints;
    let c = client(endpoints, first.tls);
    let n = 0;
    let sinceRefresh = 0;
    try {
      while (!this.stopped && n < this.maxWrites) {
        const key = `${this.prefix}/${String(n).padStart(7, '0')}`;
        try {
          const value = String(n);
          await c.put(key).value(value);
          this.acked.push(key);
          this.values[key] = value;
          n++;
        } catch {
          this.failures++;
          sinceRefresh = 1000; // refresh endpoints after a failure
        }
        if (++sinceRefresh >= 50) {
          sinceRefresh = 0;
          const s = await this.fleet.status().catch(() => undefined);
          if (s && s.endpoints.join() !== endpoints.join() && s.endpoints.length > 0) {
            c.close();
            endpoints = s.endpoints;
            c = client(endpoints, s.tls);
          }
        }
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    } finally {
      c.close();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Every acknowledged key with the value written to it. */
  expected(): Record<string, string> {
    return { ...this.values };
  }
}

/**
 * Every expected key reads back with exactly its expected value (one linearizable range read under `prefix`);
 * a missing key or a different value fails, listing up to 20 of each.
 */
export async function expectAllReadable(
  fleet: TestFleet,
  expected: Readonly<Record<string, string>>,
  prefix: string,
): Promise<void> {
  const s = await fleet.status();
  await expectValues(s.endpoints, expected, prefix, s.tls);
}

/** The check of expectAllReadable against given endpoints. */
export async function expectValues(
  endpoints: string[],
  expected: Readonly<Record<string, string>>,
  prefix: string,
  tls?: FleetTlsFiles,
): Promise<void> {
  const c = client(endpoints, tls);
  try {
    const got = await c.getAll().prefix(prefix).strings(); // linearizable range read (the etcd3 default)
    const keys = Object.keys(expected);
    const missing = keys.filter((k) => !(k in got)).slice(0, 20);
    const wrong = keys
      .filter((k) => k in got && got[k] !== expected[k])
      .slice(0, 20)
      .map((k) => `${k}: ${JSON.stringify(got[k])} instead of ${JSON.stringify(expected[k])}`);
    expect({ missing, wrong }).toEqual({ missing: [], wrong: [] });
  } finally {
    c.close();
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

/**
 * Samples `status` while a change runs (bounded: at most `maxSamples`), recording the largest number of
 * joining members (learner or unstarted) seen at once: "one member change at a time" means at most 1.
 */
export class StatusSampler {
  maxPending = 0;
  samples = 0;
  /** Samples in which the healthy voters were fewer than the quorum of all voters. */
  quorumLost = 0;
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly fleet: TestFleet,
    private readonly maxSamples = 2000,
  ) {}

  start(): void {
    this.done = (async () => {
      while (!this.stopped && this.samples < this.maxSamples) {
        const s = await this.fleet.status().catch(() => undefined);
        if (s) {
          this.samples++;
          const pending = s.instances.filter((i) => i.role === 'learner' || i.role === 'unstarted').length;
          this.maxPending = Math.max(this.maxPending, pending);
          const voters = s.instances.filter((i) => i.role === 'voter');
          const healthy = voters.filter((i) => i.healthy).length;
          if (voters.length > 0 && healthy < Math.floor(voters.length / 2) + 1) this.quorumLost++;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Writes `n` keys `<prefix><i>` sequentially; returns key → [value, revision of its put]. */
export async function write(
  endpoints: string[],
  prefix: string,
  n: number,
  c = client(endpoints),
): Promise<Map<string, [string, number]>> {
  const out = new Map<string, [string, number]>();
  try {
    for (let i = 0; i < n; i++) {
      const key = `${prefix}${String(i).padStart(3, '0')}`;
      const value = `${key}-${Math.random().toString(36).slice(2)}`;
      const r = await c.put(key).value(value).exec();
      out.set(key, [value, Number(r.header.revision)]);
    }
  } finally {
    c.close();
  }
  return out;
}

/** Every key under `prefix` with its value, by a linearizable range read. */
export async function readAll(
  endpoints: string[],
  c = client(endpoints),
  prefix = 'dr/',
): Promise<Record<string, string>> {
  try {
    return await c.getAll().prefix(prefix).strings(); // linearizable
  } finally {
    c.close();
  }
}

/** Polls `cond` every 500 ms until it returns a value, at most `seconds`. */
export async function until<T>(
  what: string,
  seconds: number,
  cond: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await cond().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
