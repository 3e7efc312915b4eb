/*
 * A steady writer for the handoff gap measurements on real etcd: sequential puts round robin over the given
 * endpoints, one attempt each (no retry, the given deadline), 5 ms apart; the times of the acknowledgements.
 * Bounded by `maxPuts`; stop() ends it and closes its clients.
 */
import type { Etcd3 } from 'etcd3';
import { client } from '../fleet/harness/client';

export interface SteadyWriterOptions {
  /** Key prefix; the n-th put writes `${prefix}${n}` = n. */
  readonly prefix: string;
  /** Deadline of one put: a put dropped during a leader transfer costs at most this. */
  readonly deadlineMs: number;
  readonly maxPuts: number;
}

export function steadyWriter(endpoints: string[], opts: SteadyWriterOptions) {
  const clients: Etcd3[] = endpoints.map((e) =>
    client([e], undefined, { deadlineMs: opts.deadlineMs, noRetry: true }),
  );
  const acks: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let n = 0; !stopped && n < opts.maxPuts; n++) {
      try {
        await clients[n % clients.length].put(`${opts.prefix}${n}`).value(String(n));
        acks.push(Date.now());
      } catch {
        /* a failed write: the gap grows until the next ack */
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    acks,
    stop: async () => {
      stopped = true;
      await done;
      for (const c of clients) c.close();
    },
  };
}

/** The longest interval between two consecutive acks that touches [from, to]. */
export const longestGap = (acks: readonly number[], from = 0, to = Infinity): number => {
  let gap = 0;
  for (let i = 1; i < acks.length; i++) {
    if (acks[i] >= from && acks[i - 1] <= to) gap = Math.max(gap, acks[i] - acks[i - 1]);
  }
  return gap;
};
