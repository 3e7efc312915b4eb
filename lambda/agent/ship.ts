/*
 * `agent.js ship --config FILE`: the incremental backup log's shipper (issue 16). Long-running, on every
 * member (etcd-backup-log.service), beside its etcd: any member can take over when another goes, and the
 * Lambda cannot watch continuously. The shippers campaign in an etcd election (SHIPPER_ELECTION_KEY, a lease
 * of SHIPPER_LEASE_TTL_SECONDS); only the elected one ships:
 *   1. cluster id from the member list; where to start: planShipStart (the log's end in the bucket, else the
 *      newest complete snapshot of this cluster, else a snapshot of its own member, which also closes a hole);
 *   2. watches every key from there on, groups the events by revision (groupRevisions) and uploads a chunk
 *      (ChunkStore.put) when the oldest unshipped revision is about to be N seconds old, when the writes paused
 *      (quietFlushMs: after a burst the log holds the cluster's revision within a second), or a size bound is
 *      reached (flushReason);
 *   3. a watch start that etcd compacted away (or a jump in revisions) is a gap: one line naming the missing
 *      revisions, a new full snapshot, the chain restarts from it;
 *   4. losing the election (lease lost, etcd unreachable, an upload that keeps failing): stop shipping, drop
 *      the buffer (the next writer resumes from the bucket), campaign again after a back-off;
 *   5. SIGTERM: flush what it holds if it is still elected, resign (the next writer takes over at once).
 * Every decision is one JSON line on stderr with its reason. The pure decisions are lambda/core/ship.ts.
 */
import { NoopPolicy } from 'cockatiel';
import { Etcd3, IOptions, Lease } from 'etcd3';
import { watchFrom, WatchEnd } from './ship-watch';
import type { ChunkStore } from '../adapters/chunk-store';
import { memberIdHex } from '../adapters/etcd';
import { openSnapshot } from '../adapters/etcd-snapshot';
import type { SnapshotStore } from '../adapters/s3';
import { Backoff, retryWithBackoff } from '../adapters/backoff';
import type { ChunkRevision } from '../core/incremental';
import {
  flushDue,
  flushReason,
  shipBufferOf,
  planShipStart,
  revisionBytes,
  SHIPPER_ELECTION,
  SHIPPER_ELECTION_KEY,
  SHIPPER_LEASE_TTL_SECONDS,
  SHIPPER_NAMESPACE,
} from '../core/ship';

export type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface ShipperOptions {
  /** This member's client URL. */
  readonly endpoint: string;
  /** This instance (the campaign's value: who ships). */
  readonly instanceId: string;
  readonly intervalSeconds: number;
  readonly credentials?: IOptions['credentials'];
  readonly chunks: ChunkStore;
  readonly snapshots: SnapshotStore;
  readonly log: Log;
  /** @default SHIPPER_LEASE_TTL_SECONDS */
  readonly leaseTtlSeconds?: number;
}

/** One term of office: from the election to its loss (or the stop). */
class Term {
  reason?: string;
  readonly over: Promise<string>;
  private end!: (reason: string) => void;
  lastKeepAlive: number;
  constructor(now: number) {
    this.lastKeepAlive = now;
    this.over = new Promise((r) => (this.end = r));
  }
  finish(reason: string): boolean {
    if (this.reason !== undefined) return false;
    this.reason = reason;
    this.end(reason);
    return true;
  }
  get done(): boolean {
    return this.reason !== undefined;
  }
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Shipper {
  private stopping = false;
  private stopSignal!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.stopSignal = r));
  private term?: Term;
  private buffer: ChunkRevision[] = [];
  private bytes = 0;
  private timer?: NodeJS.Timeout;
  private flushChain: Promise<void> = Promise.resolve();
  private clusterId = '';
  /**
   * The cluster's revision when this term's watch started from an older one: revisions up to it were written
   * before this shipper was elected (a takeover's backlog), so they are flushed as soon as they arrived
   * instead of N s after their receipt.
   */
  private backlogEnd = 0;
  private readonly ttl: number;

  constructor(private readonly o: ShipperOptions) {
    this.ttl = o.leaseTtlSeconds ?? SHIPPER_LEASE_TTL_SECONDS;
  }

  private log(message: string, fields: Record<string, unknown> = {}): void {
    this.o.log(message, { component: 'shipper', instanceId: this.o.instanceId, ...fields });
  }

  /** Campaigns, ships while elected, campaigns again after a loss; returns once stop() was called. */
  async run(): Promise<void> {
    const backoff = new Backoff({ firstMs: 1000, capMs: 10_000, jitter: true });
    this.log('shipper started', {
      endpoint: this.o.endpoint,
      intervalSeconds: this.o.intervalSeconds,
      leaseTtlSeconds: this.ttl,
      election: SHIPPER_ELECTION_KEY,
    });
    while (!this.stopping) {
      const t0 = Date.now();
      await this.oneTerm();
      if (this.stopping) break;
      if (Date.now() - t0 > 60_000) backoff.reset();
      const wait = backoff.next();
      this.log('campaigning again', {
        decision: 'wait',
        reason: 'the last campaign or term ended',
        waitMs: wait,
      });
      await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped]);
    }
    this.log('shipper stopped');
  }

  /**
   * SIGTERM: stop campaigning; when elected, flush what is buffered (still under the lease) and resign, so
   * the next shipper takes over at once instead of after the lease's TTL.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const term = this.term;
    if (term && !term.done && this.clusterId) {
      await this.enqueueFlush(term, 'stopping (SIGTERM): flushing what is buffered');
      term.finish('stopping (SIGTERM)');
    } else {
      term?.finish('stopping (SIGTERM)');
    }
    this.stopSignal();
  }

  private async oneTerm(): Promise<void> {
    const client = new Etcd3({
      hosts: [this.o.endpoint],
      credentials: this.o.credentials,
      dialTimeout: 3000,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5000 }),
      faultHandling: { host: () => new NoopPolicy(), global: new NoopPolicy() },
    });
    const term = new Term(Date.now());
    this.term = term;
    let campaign;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      campaign = client
        .namespace(SHIPPER_NAMESPACE)
        .election(SHIPPER_ELECTION, this.ttl)
        .campaign(this.o.instanceId);
      campaign.on('error', (err: Error) => {
        if (term.finish(`campaign lost: ${err.message}`)) this.lost(term);
      });
      // The campaign's lease: a shipper uploads only while its keep-alives succeed (see leaseFresh).
      const lease = (campaign as unknown as { lease: Lease }).lease;
      lease.on('keepaliveSucceeded', () => (term.lastKeepAlive = Date.now()));
      this.log('campaigning', { election: SHIPPER_ELECTION_KEY });
      const elected = new Promise<'elected'>((r) => campaign!.on('elected', () => r('elected')));
      const first = await Promise.race([elected, term.over, this.stopped.then(() => 'stopping')]);
      if (first !== 'elected') {
        this.log('not elected', { decision: 'no-ship', reason: term.reason ?? first });
        return;
      }
      term.lastKeepAlive = Date.now();
      this.log('elected', {
        decision: 'ship',
        reason: `this instance leads the election ${SHIPPER_ELECTION_KEY}: it is the one writer of the log`,
      });
      // A shipper cut off from etcd stops as soon as its lease may have expired, not at its next upload.
      watchdog = setInterval(() => {
        if (!term.done && !this.leaseFresh(term)) {
          const reason = `no keep-alive of the campaign's lease for ${Date.now() - term.lastKeepAlive} ms`;
          if (term.finish(reason)) this.lost(term);
        }
      }, 250);
      await this.shipWhileElected(client, term);
    } catch (err) {
      if (term.finish(`error: ${errorMessage(err)}`)) this.lost(term);
    } finally {
      if (watchdog) clearInterval(watchdog);
      this.clearTimer();
      term.finish(this.stopping ? 'stopping' : 'term ended');
      if (campaign) {
        await Promise.race([
          campaign.resign().catch(() => undefined),
          new Promise((r) => setTimeout(r, 2000)),
        ]);
      }
      client.close();
      this.buffer = [];
      this.bytes = 0;
      this.clusterId = '';
      this.backlogEnd = 0;
    }
  }

  /** The election is lost (or the term failed): no upload from now on, the buffer dropped. */
  private lost(term: Term): void {
    this.clearTimer();
    if (!this.clusterId) {
      this.log('campaign ended', { decision: 'no-ship', reason: term.reason });
      return;
    }
    const dropped = this.buffer;
    this.buffer = [];
    this.bytes = 0;
    this.log('stopped shipping', {
      decision: 'drop-buffer',
      reason: `${term.reason}: the next writer resumes from the bucket`,
      dropped: dropped.length,
      ...(dropped.length > 0 && { from: dropped[0].revision, to: dropped[dropped.length - 1].revision }),
    });
  }

  /** Keep-alives of the lease succeeded recently enough that no other shipper can have been elected. */
  private leaseFresh(term: Term): boolean {
    return Date.now() - term.lastKeepAlive < this.ttl * 1000 - 500;
  }

  private async shipWhileElected(client: Etcd3, term: Term): Promise<void> {
    const list = await client.cluster.memberList({});
    this.clusterId = memberIdHex(list.header.cluster_id);
    const [chunks, snapshots] = await Promise.all([
      this.o.chunks.list(this.clusterId),
      this.o.snapshots.completeSnapshots(),
    ]);
    const start = planShipStart({ clusterId: this.clusterId, chunks, snapshots });
    this.log('log start', {
      decision: start.kind,
      reason: start.reason,
      clusterId: this.clusterId,
      ...(start.kind === 'resume' ? { revision: start.revision, base: start.base } : {}),
      ...(start.kind === 'snapshot' && start.gap ? { gap: start.gap } : {}),
    });
    let from = start.kind === 'resume' ? start.revision : await this.snapshot(term, start.reason, start.gap);
    const current = Number(list.header.revision);
    if (current > from) this.backlogEnd = current;
    const interruptions = new Backoff({ firstMs: 200, capMs: 5000 });
    while (!term.done) {
      const end = await this.watchRound(client, term, from + 1);
      if (end.kind === 'over') return;
      // Whatever the watch delivered up to end.next - 1 is continuous: ship it before anything else.
      await this.enqueueFlush(term, `watch ended: ${end.reason}`);
      if (term.done) return;
      if (end.kind === 'gap') {
        this.log('gap', {
          decision: 'snapshot',
          reason: end.reason,
          clusterId: this.clusterId,
        });
        from = await this.snapshot(term, end.reason);
        interruptions.reset();
      } else {
        const wait = interruptions.next();
        this.log('watch interrupted', {
          decision: 'rewatch',
          reason: end.reason,
          from: end.next,
          waitMs: wait,
        });
        await Promise.race([new Promise((r) => setTimeout(r, wait)), term.over]);
        from = end.next - 1;
      }
    }
  }

  /** Takes a full snapshot of this member and stores it: the chain (re)starts from its revision. */
  private async snapshot(term: Term, reason: string, gap?: { from: number; to: number }): Promise<number> {
    const t0 = Date.now();
    const snap = await openSnapshot(this.o.endpoint, { credentials: this.o.credentials });
    try {
      if (snap.clusterId !== this.clusterId) {
        throw new Error(`member ${this.o.endpoint} is in cluster ${snap.clusterId}, not ${this.clusterId}`);
      }
      if (term.done) throw new Error(`not storing the snapshot: ${term.reason}`);
      // revision, clusterId and the keyspace digest at that revision (for the restore drills), with the time.
      const stored = await this.o.snapshots.upload(snap.stream, { ...snap, time: t0 });
      this.log('snapshot stored', {
        decision: 'chain-base',
        reason,
        ...(gap && { gap }),
        key: stored.key,
        revision: stored.revision,
        clusterId: stored.clusterId,
        sha256: stored.sha256,
        bytes: stored.size,
        ms: Date.now() - t0,
      });
      return stored.revision;
    } finally {
      snap.close();
    }
  }

  /** Watches every key from `from` on, buffering revisions, until the term ends, a gap, or an interruption. */
  private watchRound(client: Etcd3, term: Term, from: number): Promise<WatchEnd> {
    return watchFrom(client, from, {
      over: term.over,
      done: () => term.done,
      onRevisions: (revisions) => {
        for (const r of revisions) {
          this.buffer.push(r);
          this.bytes += revisionBytes(r);
        }
        this.consider(term);
      },
    });
  }

  /** After new revisions: flush now when flushReason says so, else (re)arm the timer of the oldest one. */
  private consider(term: Term): void {
    let reason: string | undefined;
    if (this.backlogEnd > 0 && (this.buffer.at(-1)?.revision ?? 0) >= this.backlogEnd) {
      reason = `caught up with the backlog up to revision ${this.backlogEnd} (written before this term)`;
      this.backlogEnd = 0;
    }
    const buffer = shipBufferOf(this.buffer, this.bytes);
    reason ??= flushReason(buffer, Date.now(), this.o.intervalSeconds);
    this.clearTimer();
    if (reason) {
      void this.enqueueFlush(term, reason);
      return;
    }
    // (Re)armed at every arrival: the oldest revision's deadline, or sooner once the writes pause.
    const due = flushDue(buffer, this.o.intervalSeconds);
    if (due === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const why = flushReason(
          shipBufferOf(this.buffer, this.bytes),
          Math.max(Date.now(), due),
          this.o.intervalSeconds,
        );
        void this.enqueueFlush(term, why ?? 'the buffer is due');
      },
      Math.max(0, due - Date.now()),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Flushes are serialized: a chunk's upload finishes before the next one starts (continuity in order). */
  private enqueueFlush(term: Term, reason: string): Promise<void> {
    this.flushChain = this.flushChain.then(() => this.flush(term, reason));
    return this.flushChain;
  }

  private async flush(term: Term, reason: string): Promise<void> {
    if (term.done && !this.stopping) return;
    const revisions = this.buffer.slice();
    if (revisions.length === 0) return;
    if (!this.leaseFresh(term)) {
      if (term.finish(`no keep-alive of the campaign's lease for ${Date.now() - term.lastKeepAlive} ms`))
        this.lost(term);
      return;
    }
    const t0 = Date.now();
    try {
      const chunk = await retryWithBackoff(() => this.o.chunks.put(this.clusterId, revisions), {
        what: 'chunk upload',
        timing: { firstMs: 250, capMs: 1000 },
        attempts: 3,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        log: (m, f) => this.log(m, f),
      });
      this.buffer.splice(0, revisions.length);
      this.bytes = this.buffer.reduce((n, r) => n + revisionBytes(r), 0);
      this.log('chunk shipped', {
        decision: 'flush',
        reason,
        first: chunk.first,
        last: chunk.last,
        revisions: revisions.length,
        oldestAgeMs: t0 - revisions[0].time,
        uploadMs: Date.now() - t0,
        key: chunk.key,
      });
      if (!term.done) this.consider(term);
    } catch (err) {
      if (term.finish(`chunk upload failed: ${errorMessage(err)}`)) this.lost(term);
    }
  }
}
