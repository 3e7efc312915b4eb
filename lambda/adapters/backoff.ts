/*
 * The project's one back-off: cockatiel's ExponentialBackoff (a first delay that doubles up to a cap), with
 * optional jitter, and a bounded retry on top of it. Each user names its own timings (first delay, cap, and
 * its bound: a number of attempts or a deadline) and logs every retry with its reason; sleep and clock are
 * injected, so tests run on a virtual clock. Users and their timings:
 *   agent AWS and metadata calls (lambda/agent/deps.ts)   250 ms doubling to 4 s, 5 attempts
 *   agent member certificate (lambda/agent/tls.ts)        500 ms doubling to 4 s, 5 attempts
 *   agent join loop waits (lambda/agent/join.ts)          retryDelayMs doubling to 8x, jittered, the deadline
 *   join lock acquisition (lambda/adapters/etcd.ts)       100 ms doubling to 2 s, jittered, the lock timeout
 *   lock release (lambda/adapters/etcd.ts)                500 ms constant, 10 attempts
 *   Lambda removal retries (lambda/lifecycle/act.ts)      retryDelayMs doubling to 16x, the invocation's rounds
 */
import { ExponentialBackoff, IBackoff, noJitterGenerator } from 'cockatiel';

export interface BackoffTiming {
  /** The first delay, in milliseconds. */
  readonly firstMs: number;
  /** The cap of the doubling delay, in milliseconds (equal to firstMs: a constant delay). */
  readonly capMs: number;
  /** Each wait drawn from [delay, 2 x delay), so instances that failed together spread out. Default: none. */
  readonly jitter?: boolean;
}

/** A delay sequence: firstMs, doubling per wait up to capMs; reset() starts again at firstMs. */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private step: IBackoff<unknown>;

  constructor(readonly timing: BackoffTiming) {
    this.factory = new ExponentialBackoff({
      initialDelay: timing.firstMs,
      maxDelay: timing.capMs,
      generator: noJitterGenerator,
    });
    this.step = this.factory.next();
  }

  /** The delay of the next wait, before jitter. */
  get delayMs(): number {
    return this.step.duration;
  }

  /** The wait due now (the delay, with jitter when configured); the delay then doubles, up to the cap. */
  next(): number {
    const d = this.step.duration;
    this.step = this.step.next(undefined);
    return this.timing.jitter ? d + Math.floor(Math.random() * d) : d;
  }

  /** Progress was made: the next wait is the first delay again. */
  reset(): void {
    this.step = this.factory.next();
  }
}

export interface RetryOptions {
  /** What is retried: the log lines say `<what> failed, retrying`. */
  readonly what: string;
  readonly timing: BackoffTiming;
  /** At most this many attempts, the first included. */
  readonly attempts?: number;
  /** Or until this time (on `now`): a wait that would end after it is not begun. */
  readonly deadline?: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** One line per retry, with the attempt, the wait and the error. */
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /** The error thrown when the attempts or the time run out; default: an Error naming `what`. */
  readonly giveUp?: (last: Error, attempts: number) => Error;
}

/** Runs fn until it resolves, waiting the back-off between attempts, within the attempts or the deadline. */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const backoff = new Backoff(o.timing);
  const now = o.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const delayMs = backoff.next();
      if (
        (o.attempts !== undefined && attempt >= o.attempts) ||
        (o.deadline !== undefined && now() + delayMs > o.deadline)
      ) {
        throw o.giveUp
          ? o.giveUp(e, attempt)
          : new Error(`${o.what} failed after ${attempt} attempts: ${e.message}`);
      }
      o.log?.(`${o.what} failed, retrying`, { attempt, delayMs, error: e.message });
      await o.sleep(delayMs);
    }
  }
}
