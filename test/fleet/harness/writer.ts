/*
 * The steady writer of the fleet tests, the chaos run and the bench: sequential keys
 * `<prefix>/<8-digit n>` with value String(n), each recorded only once etcd acknowledged it (a key is
 * retried until it is), one attempt per write on an endpoint it picked (round robin over the current
 * voters, an endpoint that just failed skipped for 3 s), so every failure is dated and attributed.
 * Bounded: it stops after `maxWrites` attempts or when stopped. Also `fill`, the bulk loader.
 */
import { randomBytes } from 'crypto';
import type { Etcd3 } from 'etcd3';
import { client, StatusJson, voterEndpoints } from './client';
import { StatusPoller } from './samplers';
import type { TestFleet } from './fleet';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WriteFailure {
  start: number;
  end: number;
  error: string;
  /** The IP the write was sent to. */
  remote: string;
}

export interface WriterOptions {
  readonly maxWrites?: number;
  readonly intervalMs?: number;
  /** Deadline of one put. */
  readonly deadlineMs?: number;
}

/** Where the writer reads the cluster's current status from: a poller it shares, or a fleet it polls itself. */
export type WriterSource = Pick<TestFleet, 'status'> | StatusPoller;

export class Writer {
  /** Acknowledged keys, in order: keys 0 .. acked.length-1. */
  readonly acked: string[] = [];
  /** When each key was acknowledged (epoch ms). */
  readonly ackTimes: number[] = [];
  readonly failures: WriteFailure[] = [];
  attempts = 0;
  stoppedAt = 0;
  private stopped = false;
  private paused = false;
  private onIdle?: () => void;
  private done?: Promise<void>;
  private readonly poller: StatusPoller;
  private readonly ownPoller: boolean;
  private readonly maxWrites: number;
  private readonly intervalMs: number;
  private readonly deadlineMs: number;

  constructor(
    source: WriterSource,
    readonly prefix: string,
    opts: WriterOptions = {},
  ) {
    this.ownPoller = !(source instanceof StatusPoller);
    this.poller = source instanceof StatusPoller ? source : new StatusPoller(source);
    this.maxWrites = opts.maxWrites ?? 20_000;
    this.intervalMs = opts.intervalMs ?? 20;
    this.deadlineMs = opts.deadlineMs ?? 1500;
  }

  key(n: number): string {
    return `${this.prefix}/${String(n).padStart(8, '0')}`;
  }

  start(): void {
    if (this.ownPoller) this.poller.start();
    this.done = this.loop();
  }

  /** Stops writing after the write in flight; resolves once nothing is in flight (a backup covers every ack). */
  pause(): Promise<void> {
    this.paused = true;
    return new Promise((resolve) => (this.onIdle = resolve));
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    if (this.ownPoller) await this.poller.stop();
    this.stoppedAt = Date.now();
  }

  /** Every acknowledged key with the value written to it. */
  expected(): Record<string, string> {
    return Object.fromEntries(this.acked.map((k, n) => [k, String(n)]));
  }

  private async loop(): Promise<void> {
    const status = await this.poller.current();
    const clients = new Map<string, Etcd3>();
    const badUntil = new Map<string, number>();
    let rr = 0;
    try {
      while (!this.stopped && this.attempts < this.maxWrites) {
        if (this.paused) {
          this.onIdle?.();
          this.onIdle = undefined;
          await sleep(50);
          continue;
        }
        const s: StatusJson | undefined = this.poller.latest ?? status;
        const endpoints = s ? voterEndpoints(s) : [];
        for (const [e, c] of clients) {
          if (!endpoints.includes(e)) {
            c.close();
            clients.delete(e);
          }
        }
        const now = Date.now();
        let ready = endpoints.filter((e) => (badUntil.get(e) ?? 0) <= now);
        if (ready.length === 0) ready = endpoints;
        if (ready.length === 0) {
          await sleep(200);
          continue;
        }
        this.attempts++;
        const ep = ready[rr++ % ready.length];
        let c = clients.get(ep);
        if (!c) {
          // No retry, no breaker: one attempt per write on the endpoint picked here.
          c = client([ep], s?.tls, { dialTimeoutMs: 1500, deadlineMs: this.deadlineMs, noRetry: true });
          clients.set(ep, c);
        }
        const n = this.acked.length;
        const start = Date.now();
        try {
          await c.put(this.key(n)).value(String(n));
          this.acked.push(this.key(n));
          this.ackTimes.push(Date.now());
        } catch (err) {
          const end = Date.now();
          badUntil.set(ep, end + 3000);
          const error = String((err as Error)?.message ?? err).slice(0, 160);
          this.failures.push({ start, end, error, remote: new URL(ep).hostname });
        }
        await sleep(this.intervalMs);
      }
    } finally {
      for (const c of clients.values()) c.close();
      this.onIdle?.();
    }
  }
}

/** Loads `mb` MB of random `valueBytes` values under `<prefix>/<6-digit n>` with `workers` concurrent puts. */
export async function fill(
  endpoints: string[],
  mb: number,
  opts: { prefix?: string; valueBytes?: number; workers?: number } = {},
): Promise<{ keys: number; ms: number }> {
  if (!mb) return { keys: 0, ms: 0 };
  const valueBytes = opts.valueBytes ?? 100 * 1024;
  const c = client(endpoints, undefined, { deadlineMs: 30_000 });
  const n = Math.ceil((mb * 1024 * 1024) / valueBytes);
  const t0 = Date.now();
  try {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await c.put(`${opts.prefix ?? 'bench'}/${String(i).padStart(6, '0')}`).value(randomBytes(valueBytes));
      }
    };
    await Promise.all(Array.from({ length: opts.workers ?? 4 }, worker));
  } finally {
    c.close();
  }
  return { keys: n, ms: Date.now() - t0 };
}
