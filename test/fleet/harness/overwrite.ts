/*
 * The overwrite load of the space tests (issue 14): a few dozen keys `<prefix>/<3-digit k>`, each rewritten
 * again and again with a fresh random value (~100 KiB), paced to a byte rate (or as fast as etcd takes them),
 * until a byte total is written, a time limit passes or it is stopped. Each worker owns its keys, so the
 * puts of one key are sequential. One attempt per put (no client retry), so every put is either
 * acknowledged or counted as failed.
 *
 * The read-back rule: a key reads back the value of its last acknowledged put, or of a put attempted after
 * it that failed (a put that etcd applied and still answered with an error, e.g. 'database space exceeded'
 * from the put that crossed the quota, or a deadline); any other value, or no value, is wrong.
 */
import { createHash, randomBytes } from 'crypto';
import type { Etcd3 } from 'etcd3';
import type { FleetTlsFiles } from '../../../fleet/tls';
import { client } from './client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface OverwriteOptions {
  readonly prefix: string;
  /** @default 32 */
  readonly keys?: number;
  /** @default 100 KiB */
  readonly valueBytes?: number;
  /** Stop once this many bytes were attempted. */
  readonly totalBytes: number;
  /** Pace: bytes per second over the whole run; absent: as fast as the workers go. */
  readonly bytesPerSecond?: number;
  /** @default 4 */
  readonly workers?: number;
  /** Deadline of one put. @default 5000 */
  readonly deadlineMs?: number;
  /** Stop after this long in any case. @default 300 s */
  readonly maxSeconds?: number;
  /** Stop at the first failure whose message matches (e.g. /database space exceeded/). */
  readonly stopOn?: RegExp;
}

export interface OverwriteFailure {
  readonly at: number;
  readonly key: string;
  readonly error: string;
}

export class OverwriteLoad {
  /** Bytes of every put attempted, and of those acknowledged. */
  attemptedBytes = 0;
  ackedBytes = 0;
  puts = 0;
  acked = 0;
  readonly failures: OverwriteFailure[] = [];
  startedAt = 0;
  endedAt = 0;
  /** Per key: the hash of its last acknowledged value. */
  readonly lastAcked = new Map<string, string>();
  /** Per key: hashes of the puts attempted after its last acknowledged one, which failed. */
  readonly unsure = new Map<string, Set<string>>();
  private stopped = false;
  private readonly o: Required<Omit<OverwriteOptions, 'bytesPerSecond' | 'stopOn'>> &
    Pick<OverwriteOptions, 'bytesPerSecond' | 'stopOn'>;

  constructor(
    private readonly endpoints: string[],
    opts: OverwriteOptions,
    private readonly tls?: FleetTlsFiles,
  ) {
    this.o = {
      keys: 32,
      valueBytes: 100 * 1024,
      workers: 4,
      deadlineMs: 5000,
      maxSeconds: 300,
      ...opts,
    };
  }

  key(k: number): string {
    return `${this.o.prefix}/${String(k).padStart(3, '0')}`;
  }

  /** Share of the puts acknowledged (0..1). */
  get ackedShare(): number {
    return this.puts === 0 ? 0 : this.acked / this.puts;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<this> {
    const { workers, keys } = this.o;
    this.startedAt = Date.now();
    // One client per endpoint, one attempt per put (no retry, no breaker); workers rotate over them.
    const clients = this.endpoints.map((e) =>
      client([e], this.tls, { dialTimeoutMs: 2000, deadlineMs: this.o.deadlineMs, noRetry: true }),
    );
    try {
      await Promise.all(
        Array.from({ length: workers }, (_, w) =>
          this.worker(
            clients,
            Array.from({ length: keys }, (_, k) => k).filter((k) => k % workers === w),
            w,
          ),
        ),
      );
    } finally {
      for (const c of clients) c.close();
      this.endedAt = Date.now();
    }
    return this;
  }

  private done(): boolean {
    return (
      this.stopped ||
      this.attemptedBytes >= this.o.totalBytes ||
      Date.now() - this.startedAt > this.o.maxSeconds * 1000
    );
  }

  private async worker(clients: Etcd3[], own: number[], w: number): Promise<void> {
    let n = 0;
    while (!this.done()) {
      if (this.o.bytesPerSecond) {
        const due = this.startedAt + (this.attemptedBytes / this.o.bytesPerSecond) * 1000;
        if (Date.now() < due) {
          await sleep(Math.min(200, due - Date.now()));
          continue;
        }
      }
      const key = this.key(own[n % own.length]);
      const c = clients[(n + w) % clients.length];
      n++;
      const value = randomBytes(this.o.valueBytes);
      const hash = sha(value);
      this.attemptedBytes += value.length;
      this.puts++;
      try {
        await c.put(key).value(value);
        this.acked++;
        this.ackedBytes += value.length;
        this.lastAcked.set(key, hash);
        this.unsure.delete(key);
      } catch (err) {
        const error = String((err as Error)?.message ?? err).slice(0, 160);
        this.failures.push({ at: Date.now(), key, error });
        if (!this.unsure.has(key)) this.unsure.set(key, new Set());
        this.unsure.get(key)!.add(hash);
        if (this.o.stopOn?.test(error)) this.stopped = true;
        await sleep(100);
      }
    }
  }

  /**
   * The keys whose value (by key: its bytes, as read) is neither their last acknowledged value nor a later
   * attempted one, or that are missing; [] when every acknowledged final value reads back.
   */
  wrongValues(read: ReadonlyMap<string, Buffer>): string[] {
    const wrong: string[] = [];
    for (const [key, hash] of this.lastAcked) {
      const v = read.get(key);
      if (!v) wrong.push(`${key}: missing`);
      else if (sha(v) !== hash && !this.unsure.get(key)?.has(sha(v))) wrong.push(`${key}: another value`);
    }
    return wrong;
  }

  /** A one-line summary of the run. */
  summary(): string {
    const MiB = 1024 * 1024;
    return (
      `${(this.attemptedBytes / MiB).toFixed(0)} MiB written in ${((this.endedAt - this.startedAt) / 1000).toFixed(0)} s, ` +
      `${this.acked}/${this.puts} puts acknowledged (${(this.ackedShare * 100).toFixed(1)} %)`
    );
  }
}
