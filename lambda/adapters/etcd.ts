/*
 * Thin adapter over the etcd3 client: member list, health, add/remove/promote, a join lock.
 *
 * One short-lived client per call and per endpoint: etcd3 keeps a circuit breaker per host, and a
 * learner's endpoint (which rejects most RPCs) or a dead peer would otherwise poison the breaker of a
 * long-lived client. Every call carries a deadline, so nothing here can hang.
 */
import { NoopPolicy } from 'cockatiel';
import { Etcd3, IOptions, isRecoverableError } from 'etcd3';
import type { Member } from '../core/types';
import { BackoffTiming, retryWithBackoff } from './backoff';

/** The etcd lock held around every membership change (agent adds and removals, Lambda removals). */
export const JOIN_LOCK_KEY = 'cdk-elastic-etcd/join-lock';

export interface EtcdAdapterOptions {
  /** Deadline of one RPC in milliseconds. */
  readonly callTimeoutMs?: number;
  /**
   * Deadline of the member-list probe of discovery, in milliseconds (default: callTimeoutMs). A peer
   * that started a new cluster accepts connections but answers nothing until it has a quorum, so a
   * short probe keeps a cold start from waiting the full call deadline on it.
   */
  readonly probeTimeoutMs?: number;
  /** TLS material (PEM), when the cluster serves https. */
  readonly credentials?: IOptions['credentials'];
}

export interface MemberListResult {
  readonly members: Member[];
  /** Cluster id as etcdctl prints it (hex). */
  readonly clusterId: string;
  /** Member id (decimal) of the leader as seen by the answering endpoint; '' when unknown or not asked for. */
  readonly leaderId: string;
  readonly endpoint: string;
}

/** Converts etcd3's decimal-string id to the hex form etcdctl prints. */
export function memberIdHex(id: string): string {
  return BigInt(id).toString(16);
}

/** withLock could not take `key` within its timeout (held by another holder, or etcd did not answer). */
export class LockNotTakenError extends Error {
  constructor(
    readonly key: string,
    timeoutMs: number,
    cause: string,
  ) {
    super(`could not take the lock ${key} within ${timeoutMs} ms: ${cause}`);
    this.name = 'LockNotTakenError';
  }
}

export class EtcdAdapter {
  private readonly callTimeoutMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: EtcdAdapterOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? 2000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? this.callTimeoutMs;
  }

  /** A fresh client for the given endpoints; the caller closes it. */
  client(endpoints: readonly string[], timeoutMs?: number): Etcd3 {
    const timeout = timeoutMs ?? this.callTimeoutMs;
    return new Etcd3({
      hosts: [...endpoints],
      credentials: this.options.credentials,
      dialTimeout: timeout,
      defaultCallOptions: () => ({ deadline: Date.now() + timeout }),
      faultHandling: { host: () => new NoopPolicy(), global: new NoopPolicy() },
    });
  }

  private async withClient<T>(
    endpoints: readonly string[],
    fn: (c: Etcd3) => Promise<T>,
    timeoutMs?: number,
  ): Promise<T> {
    const c = this.client(endpoints, timeoutMs);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /**
   * The member list from the first endpoint that answers, or null when none does. All endpoints are
   * asked at once, each with the probe deadline: the wait is that of the fastest answer, or one probe
   * deadline when nobody answers (it was the sum of all deadlines when peers were asked in turn).
   */
  async memberList(
    endpoints: readonly string[],
    opts: { withLeader?: boolean } = {},
  ): Promise<MemberListResult | null> {
    if (endpoints.length === 0) return null;
    try {
      return await Promise.any(
        endpoints.map((endpoint) => this.memberListFrom(endpoint, opts.withLeader ?? false)),
      );
    } catch {
      return null; // AggregateError: no endpoint answered
    }
  }

  private async memberListFrom(endpoint: string, withLeader: boolean): Promise<MemberListResult> {
    const res = await this.withClient(
      [endpoint],
      async (c) => {
        const list = await c.cluster.memberList({});
        let leaderId = '';
        // One more round trip: only the fleet's status display asks for the leader.
        if (withLeader) {
          try {
            leaderId = (await c.maintenance.status()).leader;
          } catch {
            /* leader unknown */
          }
        }
        return { list, leaderId };
      },
      this.probeTimeoutMs,
    );
    return {
      members: (res.list.members ?? []).map(toMember),
      clusterId: memberIdHex(res.list.header.cluster_id),
      leaderId: res.leaderId === '0' ? '' : res.leaderId,
      endpoint,
    };
  }

  /**
   * Health of one member's client endpoint, as `etcdctl endpoint health` judges it: a voter is healthy
   * when a linearizable read through it succeeds (which needs a working quorum); a learner, which rejects
   * linearizable reads, when it answers a status request and knows a leader.
   */
  async isHealthy(member: Member): Promise<boolean> {
    const endpoint = member.clientURLs[0];
    if (!endpoint) return false;
    try {
      return await this.withClient([endpoint], async (c) => {
        if (member.isLearner) {
          const s = await c.maintenance.status();
          return s.leader !== '0';
        }
        await c.get('health').string();
        return true;
      });
    } catch {
      return false;
    }
  }

  /** Health of every member, by member id, checked in parallel. */
  async healthOf(members: readonly Member[]): Promise<Record<string, boolean>> {
    const results = await Promise.all(members.map(async (m) => [m.id, await this.isHealthy(m)] as const));
    return Object.fromEntries(results);
  }

  async addLearner(endpoints: readonly string[], peerURL: string): Promise<Member> {
    return this.withClient(endpoints, async (c) => {
      const res = await c.cluster.memberAdd({ peerURLs: [peerURL], isLearner: true });
      return toMember(res.member);
    });
  }

  async remove(endpoints: readonly string[], memberId: string): Promise<void> {
    await this.withClient(endpoints, (c) => c.cluster.memberRemove({ ID: memberId }));
  }

  async promote(endpoints: readonly string[], memberId: string): Promise<void> {
    await this.withClient(endpoints, (c) => c.cluster.memberPromote({ ID: memberId }));
  }

  /**
   * Whether anyone holds the lock `key` now (etcd3's lock is the key itself, put with the holder's lease). A
   * read: it works under NOSPACE too, when no lease can be granted.
   */
  async isLocked(endpoints: readonly string[], key: string): Promise<boolean> {
    return this.withClient(endpoints, async (c) => (await c.get(key).string()) !== null);
  }

  /**
   * Runs fn while holding the etcd lock `key` (its lease: `ttlSeconds`, kept alive while fn runs; a holder
   * that dies releases it after that). etcd3's lock is a try-lock (it rejects at once when the
   * lock is held), so acquisition is retried with the project's back-off (100 ms doubling to 2 s, jittered)
   * until `timeoutMs`.
   */
  async withLock<T>(
    endpoints: readonly string[],
    key: string,
    timeoutMs: number,
    fn: () => Promise<T>,
    sleep: (ms: number) => Promise<void> = defaultSleep,
    ttlSeconds = 15,
  ): Promise<T> {
    const c = this.client(endpoints);
    try {
      const lock = await retryWithBackoff(
        async () => {
          const l = c.lock(key).ttl(ttlSeconds);
          await l.acquire();
          return l;
        },
        {
          what: `lock ${key}`,
          timing: LOCK_BACKOFF,
          deadline: Date.now() + timeoutMs,
          sleep,
          giveUp: (err) => new LockNotTakenError(key, timeoutMs, err.message),
        },
      );
      try {
        return await fn();
      } finally {
        await releaseWithRetry(() => lock.release(), sleep);
      }
    } finally {
      c.close();
    }
  }
}

/** Join lock acquisition: 100 ms doubling to 2 s, jittered (several instances may ask at once). */
const LOCK_BACKOFF: BackoffTiming = { firstMs: 100, capMs: 2000, jitter: true };

/**
 * Releases (revokes the lease of) a lock, retrying for a few seconds (500 ms apart): a release sent during
 * the election that follows the removal of the leader fails, and a lock left behind would block every join
 * until its lease TTL runs out. A lease revoke is idempotent.
 */
export async function releaseWithRetry(
  release: () => Promise<unknown>,
  sleep: (ms: number) => Promise<void> = defaultSleep,
  attempts = 10,
): Promise<boolean> {
  return retryWithBackoff(release, {
    what: 'lock release',
    timing: { firstMs: 500, capMs: 500 },
    attempts,
    sleep,
  }).then(
    () => true,
    () => false,
  );
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function toMember(m: {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner?: boolean;
}): Member {
  return {
    id: m.ID,
    name: m.name ?? '',
    peerURLs: [...(m.peerURLs ?? [])],
    clientURLs: [...(m.clientURLs ?? [])],
    isLearner: Boolean(m.isLearner),
  };
}

/** etcd error texts the agent reacts to. */
export function isNotInSync(err: unknown): boolean {
  return /can only promote a learner member which is in sync with leader/i.test(
    String((err as Error)?.message),
  );
}
export function isTooManyLearners(err: unknown): boolean {
  return /too many learner members in cluster/i.test(String((err as Error)?.message));
}
export function isUnhealthyCluster(err: unknown): boolean {
  return /unhealthy cluster/i.test(String((err as Error)?.message));
}
export function isMemberNotFound(err: unknown): boolean {
  return /member not found/i.test(String((err as Error)?.message));
}
export { isRecoverableError };
