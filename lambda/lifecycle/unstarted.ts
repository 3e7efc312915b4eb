/*
 * First-seen times of unstarted members, kept in etcd itself under cdk-elastic-etcd/unstarted/<memberId>
 * (value: epoch milliseconds). Lambda is stateless, and the cluster is the one store every reconcile can
 * reach whenever it can act at all. Entries are created once (transaction: create-if-absent, so concurrent
 * reconciles agree on the first sighting) and deleted once the member started or is gone.
 */
import type { EtcdAdapter } from '../adapters/etcd';

export const UNSTARTED_PREFIX = 'cdk-elastic-etcd/unstarted/';

export interface UnstartedStore {
  /** memberId → first-seen epoch ms. */
  load(endpoints: readonly string[]): Promise<Record<string, number>>;
  /** Records `atMs` for the member unless an entry exists already. */
  markFirstSeen(endpoints: readonly string[], memberId: string, atMs: number): Promise<void>;
  forget(endpoints: readonly string[], memberId: string): Promise<void>;
}

export class EtcdUnstartedStore implements UnstartedStore {
  constructor(private readonly etcd: Pick<EtcdAdapter, 'client'>) {}

  async load(endpoints: readonly string[]): Promise<Record<string, number>> {
    const c = this.etcd.client(endpoints);
    try {
      const kv = await c.getAll().prefix(UNSTARTED_PREFIX).strings();
      const out: Record<string, number> = {};
      for (const [key, value] of Object.entries(kv)) {
        const ms = Number(value);
        if (Number.isFinite(ms)) out[key.slice(UNSTARTED_PREFIX.length)] = ms;
      }
      return out;
    } finally {
      c.close();
    }
  }

  async markFirstSeen(endpoints: readonly string[], memberId: string, atMs: number): Promise<void> {
    const c = this.etcd.client(endpoints);
    const key = UNSTARTED_PREFIX + memberId;
    try {
      await c
        .if(key, 'Create', '==', 0)
        .then(c.put(key).value(String(atMs)))
        .commit();
    } finally {
      c.close();
    }
  }

  async forget(endpoints: readonly string[], memberId: string): Promise<void> {
    const c = this.etcd.client(endpoints);
    try {
      await c.delete().key(UNSTARTED_PREFIX + memberId);
    } finally {
      c.close();
    }
  }
}

/** Where the reconcile records the leader it saw (for the LeaderChanges gauge). */
export const LEADER_RECORD_KEY = 'cdk-elastic-etcd/leader';

/** The leader the previous reconcile saw, kept in etcd (Lambda is stateless). */
export interface LeaderRecord {
  /** The recorded leader id, or undefined when none is recorded. */
  load(endpoints: readonly string[]): Promise<string | undefined>;
  save(endpoints: readonly string[], leaderId: string): Promise<void>;
}

export class EtcdLeaderRecord implements LeaderRecord {
  constructor(private readonly etcd: Pick<EtcdAdapter, 'client'>) {}

  async load(endpoints: readonly string[]): Promise<string | undefined> {
    const c = this.etcd.client(endpoints);
    try {
      return (await c.get(LEADER_RECORD_KEY).string()) ?? undefined;
    } finally {
      c.close();
    }
  }

  async save(endpoints: readonly string[], leaderId: string): Promise<void> {
    const c = this.etcd.client(endpoints);
    try {
      await c.put(LEADER_RECORD_KEY).value(leaderId);
    } finally {
      c.close();
    }
  }
}
