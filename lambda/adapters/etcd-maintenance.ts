/*
 * etcd's maintenance calls for the backend maintenance plan (lambda/core/maintenance.ts): per-member
 * status, alarms, compaction, defragmentation, leadership transfer, disarm. Thin: no decisions here.
 * Calls that concern one member (status, defragment) go to that member's client URL only; MoveLeader goes
 * to the leader (etcd rejects it elsewhere).
 */
import { Etcd3 } from 'etcd3';
import type { ActiveAlarm, MemberStatus } from '../core/maintenance';
import type { Member } from '../core/types';
import { EtcdAdapter } from './etcd';

export interface EtcdMaintenanceOptions {
  /** Deadline of a status, alarm, compact or move-leader call. @default 5000 */
  readonly callTimeoutMs?: number;
  /** Deadline of one member's defragmentation (it blocks that member for the whole copy). @default 120000 */
  readonly defragTimeoutMs?: number;
}

export class EtcdMaintenance {
  private readonly callTimeoutMs: number;
  private readonly defragTimeoutMs: number;

  constructor(
    private readonly etcd: EtcdAdapter,
    options: EtcdMaintenanceOptions = {},
  ) {
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.defragTimeoutMs = options.defragTimeoutMs ?? 120_000;
  }

  private async with<T>(
    endpoints: readonly string[],
    timeoutMs: number,
    fn: (c: Etcd3) => Promise<T>,
  ): Promise<T> {
    const c = this.etcd.client(endpoints, timeoutMs);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** Maintenance.Status of every member, asked in parallel; a member that does not answer is missing. */
  async statusOf(members: readonly Member[]): Promise<Record<string, MemberStatus | undefined>> {
    const entries = await Promise.all(
      members.map(async (m): Promise<[string, MemberStatus | undefined]> => {
        if (!m.clientURLs[0]) return [m.id, undefined];
        try {
          const s = await this.with([m.clientURLs[0]], this.callTimeoutMs, (c) => c.maintenance.status());
          return [
            m.id,
            {
              dbSize: Number(s.dbSize),
              dbSizeInUse: Number(s.dbSizeInUse),
              raftIndex: Number(s.raftIndex),
              leader: s.leader,
              ...(s.version && { version: s.version }),
              ...(s.header?.revision !== undefined && { revision: Number(s.header.revision) }),
            },
          ];
        } catch {
          return [m.id, undefined];
        }
      }),
    );
    return Object.fromEntries(entries);
  }

  /** The cluster's active alarms (NOSPACE, CORRUPT), from the first endpoint that answers. */
  async alarms(endpoints: readonly string[]): Promise<ActiveAlarm[]> {
    const res = await this.with(endpoints, this.callTimeoutMs, (c) => c.maintenance.alarm({ action: 'Get' }));
    return (res.alarms ?? [])
      .filter((a) => a.alarm === 'Nospace' || a.alarm === 'Corrupt')
      .map((a) => ({ memberId: a.memberID, alarm: a.alarm === 'Nospace' ? 'NOSPACE' : 'CORRUPT' }));
  }

  /**
   * Compacts the keyspace up to `revision` (physical: the call returns when the compaction is applied to
   * the backend). Without a revision: up to the current revision.
   */
  async compact(endpoints: readonly string[], revision?: number): Promise<number> {
    return this.with(endpoints, this.callTimeoutMs, async (c) => {
      const rev = revision ?? Number((await c.maintenance.status()).header.revision);
      await c.kv.compact({ revision: rev, physical: true });
      return rev;
    });
  }

  /** Defragments one member's backend (that member only; it answers nothing else meanwhile). */
  async defragment(member: Member): Promise<void> {
    await this.with([member.clientURLs[0]], this.defragTimeoutMs, (c) => c.maintenance.defragment());
  }

  /** Moves leadership from `leader` (the call goes to it) to the member `targetId`. */
  async moveLeader(leader: Member, targetId: string): Promise<void> {
    await this.with([leader.clientURLs[0]], this.callTimeoutMs, (c) =>
      c.maintenance.moveLeader({ targetID: targetId }),
    );
  }

  /** Disarms the NOSPACE alarm of every member that raised it. */
  async disarmNospace(endpoints: readonly string[], memberIds: readonly string[]): Promise<void> {
    await this.with(endpoints, this.callTimeoutMs, async (c) => {
      for (const memberID of memberIds) {
        await c.maintenance.alarm({ action: 'Deactivate', memberID, alarm: 'Nospace' });
      }
    });
  }
}
