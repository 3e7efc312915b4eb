/*
 * Judges of the shipper test (./ship.test.ts), independent of the shipper's own lines: who holds the election
 * and the cluster's revision (Debian's etcdctl), when each chunk appeared in the bucket's listing, a steady
 * writer that records each acknowledged revision, overlapping chunks.
 */
import { Etcd3 } from 'etcd3';
import type { ChunkStore } from '../../lambda/adapters/chunk-store';
import type { ChunkInfo } from '../../lambda/core/incremental';
import { SHIPPER_ELECTION_KEY } from '../../lambda/core/ship';
import { etcdctl } from '../fleet/harness/etcdctl';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Who holds the election, by etcdctl: the value of the campaign key with the lowest create revision. */
export async function electedShipper(endpoints: string[]): Promise<string | undefined> {
  const out = JSON.parse(
    await etcdctl(endpoints, ['get', SHIPPER_ELECTION_KEY, '--prefix', '-w', 'json']),
  ) as { kvs?: { value: string; create_revision: number }[] };
  const kvs = (out.kvs ?? []).sort((a, b) => a.create_revision - b.create_revision);
  return kvs[0] && Buffer.from(kvs[0].value, 'base64').toString('utf8');
}

/** The cluster's current revision, by etcdctl. */
export async function clusterRevision(endpoints: string[]): Promise<number> {
  const out = JSON.parse(await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'])) as {
    Status: { header: { revision: number } };
  }[];
  return Math.max(...out.map((s) => s.Status.header.revision));
}

/** When each chunk key first appeared in the listing (polled every 200 ms until stopped). */
export class ListingWatch {
  constructor(private readonly chunks: ChunkStore) {}
  readonly seen = new Map<string, { chunk: ChunkInfo; at: number }>();
  private stopped = false;
  private done?: Promise<void>;
  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const at = Date.now();
        for (const c of await this.chunks.list())
          if (!this.seen.has(c.key)) this.seen.set(c.key, { chunk: c, at });
        await sleep(200);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
  /** When the first chunk holding `revision` appeared. */
  shippedAt(revision: number): number | undefined {
    let best: number | undefined;
    for (const { chunk, at } of this.seen.values()) {
      if (chunk.first <= revision && revision <= chunk.last && (best === undefined || at < best)) best = at;
    }
    return best;
  }
}

export interface Ack {
  key: string;
  value: string;
  revision: number;
  at: number;
}

/** Sequential puts, each recorded with its revision and acknowledgement time, until stopped. */
export class SteadyWriter {
  readonly acks: Ack[] = [];
  private stopped = false;
  private done?: Promise<void>;
  constructor(
    private readonly endpoints: string[],
    private readonly prefix: string,
  ) {}
  start(): void {
    const client = new Etcd3({ hosts: this.endpoints, dialTimeout: 1000 });
    this.done = (async () => {
      for (let n = 0; !this.stopped && n < 20_000; n++) {
        const key = `${this.prefix}/${String(n).padStart(6, '0')}`;
        try {
          const r = await client.put(key).value(String(n)).exec();
          this.acks.push({ key, value: String(n), revision: Number(r.header.revision), at: Date.now() });
        } catch {
          /* a failed write is not acknowledged: not counted */
        }
        await sleep(20);
      }
      client.close();
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Pairs of chunks that share a revision. */
export function overlaps(list: readonly ChunkInfo[]): string[] {
  const sorted = [...list].sort((a, b) => a.first - b.first);
  const out: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].first <= sorted[i - 1].last)
      out.push(`r${sorted[i - 1].first}-r${sorted[i - 1].last} / r${sorted[i].first}-r${sorted[i].last}`);
  }
  return out;
}
