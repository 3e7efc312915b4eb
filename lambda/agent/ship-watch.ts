/*
 * The shipper's watch (./ship.ts): every key from a revision on, grouped into the log's revisions
 * (lambda/core/ship.ts groupRevisions), and what ends it: the term, a gap (a jump, or the start revision
 * compacted away, with the compacted range found by a binary search of ranged reads), an interruption.
 */
import type { Etcd3, Watcher } from 'etcd3';
import type { ChunkRevision } from '../core/incremental';
import { groupRevisions, WatchedEvent } from '../core/ship';

/** A key read to probe revisions (it need not exist). */
const PROBE_KEY = 'cdk-elastic-etcd/backup/probe';

export type WatchEnd =
  | { kind: 'over' }
  | { kind: 'gap'; next: number; reason: string }
  | { kind: 'interrupted'; next: number; reason: string };

/** What the watch needs of the shipper's term. */
export interface WatchTerm {
  /** Resolves when the term ends (election lost, stop). */
  readonly over: Promise<unknown>;
  done(): boolean;
  /** New consecutive revisions, in order. */
  onRevisions(revisions: ChunkRevision[]): void;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
const isCompacted = (err: unknown) => /compacted/i.test(errorMessage(err));

/**
 * Watches every key from `from` on and hands each watch response's revisions to `t.onRevisions` (grouped,
 * consecutive), until `t.over` resolves, a gap (a jump in revisions, or `from` compacted away: the range is
 * named), or an interruption (the stream failed: the caller watches again from `next`).
 */
export async function watchFrom(client: Etcd3, from: number, t: WatchTerm): Promise<WatchEnd> {
  let watcher: Watcher;
  try {
    const created = client.watch().prefix('').startRevision(String(from)).create();
    const w = await Promise.race([created, t.over.then(() => undefined)]);
    if (!w) {
      void created.then((x) => x.cancel()).catch(() => undefined);
      return { kind: 'over' };
    }
    watcher = w;
  } catch (err) {
    if (t.done()) return { kind: 'over' };
    return classify(client, from, err);
  }
  let next = from;
  const ended = await new Promise<WatchEnd | { kind: 'error'; err: unknown }>((resolve) => {
    let settled = false;
    const finish = (e: WatchEnd | { kind: 'error'; err: unknown }) => {
      if (settled) return;
      settled = true;
      watcher.removeAllListeners('data');
      resolve(e);
    };
    watcher.on('data', (res) => {
      if (settled || t.done()) return;
      const events: WatchedEvent[] = res.events.map((e) => ({
        revision: Number(e.kv.mod_revision),
        kind: e.type === 'Put' ? 'put' : 'delete',
        key: e.kv.key,
        value: e.kv.value,
        leased: e.type === 'Put' && String(e.kv.lease ?? '0') !== '0',
      }));
      const g = groupRevisions(next, events, Date.now());
      next = g.next;
      if (g.revisions.length > 0) t.onRevisions(g.revisions);
      if (g.jump) {
        finish({
          kind: 'gap',
          next,
          reason: `the watch jumped from revision ${g.jump.expected} to ${g.jump.got}: revisions ${g.jump.expected}..${g.jump.got - 1} are missing from the log`,
        });
      }
    });
    watcher.on('error', (err) => finish({ kind: 'error', err }));
    // etcd3 re-attaches a disconnected watcher from the watch header's revision, which may be past events
    // it has not delivered: the shipper restarts the watch itself from what it holds.
    watcher.on('disconnected', (err: Error) =>
      finish({ kind: 'interrupted', next, reason: `watch disconnected: ${err.message}` }),
    );
    void t.over.then(() => finish({ kind: 'over' }));
  });
  void watcher.cancel().catch(() => undefined);
  if (ended.kind !== 'error') return ended;
  if (t.done()) return { kind: 'over' };
  return classify(client, next, ended.err);
}

/** A failed or cancelled watch from `next`: a gap when etcd compacted `next` away, else an interruption. */
async function classify(client: Etcd3, next: number, err: unknown): Promise<WatchEnd> {
  let compacted = isCompacted(err);
  if (!compacted) {
    try {
      await client.get(PROBE_KEY).revision(String(next)).exec();
    } catch (e) {
      compacted = isCompacted(e);
    }
  }
  if (!compacted) return { kind: 'interrupted', next, reason: errorMessage(err) };
  const oldest = await compactRevision(client, next);
  return {
    kind: 'gap',
    next,
    reason: `revisions ${next}..${oldest - 1} were compacted before they were shipped (etcd: ${errorMessage(err)})`,
  };
}

/** The oldest revision etcd still serves, at or above `from` (binary search over ranged reads). */
export async function compactRevision(client: Etcd3, from: number): Promise<number> {
  const current = Number((await client.get(PROBE_KEY).exec()).header.revision);
  let lo = from; // compacted
  let hi = current; // readable
  for (let i = 0; i < 64 && hi - lo > 1; i++) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      await client.get(PROBE_KEY).revision(String(mid)).exec();
      hi = mid;
    } catch (err) {
      if (!isCompacted(err)) throw err;
      lo = mid;
    }
  }
  return hi;
}
