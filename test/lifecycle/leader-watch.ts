/*
 * The leader as real etcd members report it (Maintenance.Status), for the handoff tests: the current one,
 * and a watch that records every leader the members named over a run.
 */
import { EtcdAdapter } from '../../lambda/adapters/etcd';
import { EtcdMaintenance } from '../../lambda/adapters/etcd-maintenance';
import type { Member } from '../../lambda/core/types';

const maintenance = new EtcdMaintenance(new EtcdAdapter({ callTimeoutMs: 1000 }), { callTimeoutMs: 1000 });

/** The leader every answering member names; throws if they disagree or none answers. */
export async function currentLeader(members: readonly Member[]): Promise<string> {
  const leaders = Object.values(await maintenance.statusOf(members))
    .filter((s) => s !== undefined && s.leader !== '0' && s.leader !== '')
    .map((s) => s!.leader);
  const distinct = [...new Set(leaders)];
  if (distinct.length !== 1) throw new Error(`no single leader reported: ${JSON.stringify(leaders)}`);
  return distinct[0];
}

/**
 * Polls every member's status every `intervalMs` (bounded by `maxPolls`) and records, per member, the
 * sequence of distinct leaders it named (none named, during an election or once stopped, adds nothing).
 */
export class LeaderWatch {
  private readonly seen = new Map<string, string[]>();
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly members: readonly Member[],
    private readonly intervalMs = 20,
    private readonly maxPolls = 3000,
  ) {}

  start(): void {
    this.done = (async () => {
      for (let n = 0; n < this.maxPolls && !this.stopped; n++) {
        const status = await maintenance.statusOf(this.members);
        for (const [id, s] of Object.entries(status)) {
          const lead = s?.leader;
          if (!lead || lead === '0') continue;
          const list = this.seen.get(id) ?? [];
          if (list[list.length - 1] !== lead) list.push(lead);
          this.seen.set(id, list);
        }
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  /** Stops polling; per member id, the leaders it named, in order, consecutive repeats folded. */
  async stop(): Promise<Record<string, string[]>> {
    this.stopped = true;
    await this.done;
    return Object.fromEntries(this.seen);
  }
}
