/* The project's one back-off (cockatiel's ExponentialBackoff) and its bounded retry, on a virtual clock. */
import { Backoff, retryWithBackoff } from '../../lambda/adapters/backoff';

describe('Backoff', () => {
  it('starts at the first delay, doubles up to the cap, and starts again after reset', () => {
    const b = new Backoff({ firstMs: 250, capMs: 4000 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    b.reset();
    expect(b.delayMs).toBe(250);
    expect(b.next()).toBe(250);
  });

  it('a cap equal to the first delay is a constant delay', () => {
    const b = new Backoff({ firstMs: 500, capMs: 500 });
    expect([b.next(), b.next(), b.next()]).toEqual([500, 500, 500]);
  });

  it('jitter draws each wait from [delay, 2 x delay), and the delay still doubles to the cap', () => {
    const b = new Backoff({ firstMs: 100, capMs: 2000, jitter: true });
    const bases = [100, 200, 400, 800, 1600, 2000, 2000];
    const waits = bases.map(() => b.next());
    waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(bases[i]);
      expect(w).toBeLessThan(2 * bases[i]);
    });
    // over many draws the jitter is not constant
    const spread = new Set(
      Array.from({ length: 50 }, () => new Backoff({ firstMs: 100, capMs: 100, jitter: true }).next()),
    );
    expect(spread.size).toBeGreaterThan(5);
  });
});

describe('retryWithBackoff', () => {
  function clock() {
    const c = { t: 0, waits: [] as number[], lines: [] as Record<string, unknown>[] };
    return {
      c,
      sleep: async (ms: number) => {
        c.waits.push(ms);
        c.t += ms;
      },
      now: () => c.t,
      log: (message: string, fields?: Record<string, unknown>) => c.lines.push({ message, ...fields }),
    };
  }

  it('retries until fn succeeds, one log line per retry with the attempt, the wait and the error', async () => {
    const k = clock();
    let calls = 0;
    const r = await retryWithBackoff(
      async () => {
        if (++calls < 4) throw new Error(`fail ${calls}`);
        return 'ok';
      },
      { what: 'thing', timing: { firstMs: 250, capMs: 4000 }, attempts: 5, ...k },
    );
    expect(r).toBe('ok');
    expect(k.c.waits).toEqual([250, 500, 1000]);
    expect(k.c.lines).toEqual([
      { message: 'thing failed, retrying', attempt: 1, delayMs: 250, error: 'fail 1' },
      { message: 'thing failed, retrying', attempt: 2, delayMs: 500, error: 'fail 2' },
      { message: 'thing failed, retrying', attempt: 3, delayMs: 1000, error: 'fail 3' },
    ]);
  });

  it('gives up after the attempts with the last error, without a wait after the last attempt', async () => {
    const k = clock();
    let calls = 0;
    const err = await retryWithBackoff(
      async () => {
        throw new Error(`fail ${++calls}`);
      },
      { what: 'thing', timing: { firstMs: 500, capMs: 4000 }, attempts: 3, ...k },
    ).catch((e: Error) => e);
    expect(calls).toBe(3);
    expect(k.c.waits).toEqual([500, 1000]);
    expect((err as Error).message).toBe('thing failed after 3 attempts: fail 3');
  });

  it('stops before a wait that would end after the deadline, with the error giveUp builds', async () => {
    const k = clock();
    let calls = 0;
    const err = await retryWithBackoff(
      async () => {
        calls++;
        throw new Error('held');
      },
      {
        what: 'lock',
        timing: { firstMs: 100, capMs: 2000 },
        deadline: 1000,
        ...k,
        giveUp: (e, n) => new Error(`no lock after ${n}: ${e.message}`),
      },
    ).catch((e: Error) => e);
    // waits 100 + 200 + 400 = 700; the next (800) would end at 1500 > 1000
    expect(k.c.waits).toEqual([100, 200, 400]);
    expect(calls).toBe(4);
    expect((err as Error).message).toBe('no lock after 4: held');
  });
});
