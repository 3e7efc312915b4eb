/*
 * The lifecycle Lambda's decision lines in a fleet's supervisor.out (the bundle logs to stdout, as on AWS):
 * read from a byte offset, so a test can take the lines of one window (after a kill, until converged).
 */
import * as fs from 'fs';
import * as path from 'path';
import { client } from './client';
import { logLines, LogLine, TestFleet } from './fleet';

/** The size of the fleet's supervisor.out now: the start of a window. */
export function outOffset(fleet: TestFleet): number {
  const p = path.join(fleet.dir, 'supervisor.out');
  return fs.existsSync(p) ? fs.statSync(p).size : 0;
}

/** The JSON lines of supervisor.out from `from` up to `to` (bytes; default: its end), each with its byte offset. */
export function outLines(fleet: TestFleet, from = 0, to?: number): (LogLine & { offset: number })[] {
  const p = path.join(fleet.dir, 'supervisor.out');
  if (!fs.existsSync(p)) return [];
  const buf = fs.readFileSync(p).subarray(0, to);
  const out: (LogLine & { offset: number })[] = [];
  let at = from;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    const end = nl < 0 ? buf.length : nl;
    const [line] = logLines(buf.subarray(at, end).toString('utf8'));
    if (line) out.push({ ...line, offset: at });
    at = end + 1;
  }
  return out;
}

/** The maintenance decision lines (`maintenance: <step>`) among `lines`. */
export function maintenanceLines<T extends LogLine>(lines: T[]): T[] {
  return lines.filter((l) => typeof l.message === 'string' && l.message.startsWith('maintenance: '));
}

/** One observation of the leader, dated by the size of supervisor.out when it was answered. */
export interface LeaderSample {
  readonly offset: number;
  readonly at: number;
  /** The leader's member id (decimal, as the decision lines name members); '' when no member answered. */
  readonly leader: string;
}

/**
 * Samples the leader every `everyMs` (Maintenance.Status of every endpoint, the first answer's leader),
 * each sample dated by the size of supervisor.out right after it was answered: a decision line written at
 * byte p happened before every sample with offset > p.
 */
export class LeaderSampler {
  readonly samples: LeaderSample[] = [];
  private stopped = false;
  private done?: Promise<void>;

  constructor(
    private readonly fleet: TestFleet,
    private readonly endpoints: string[],
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** The leader of the last sample taken before byte `offset` was written; undefined when none was. */
  leaderBefore(offset: number): string | undefined {
    return this.samples.filter((s) => s.offset <= offset && s.leader).at(-1)?.leader;
  }

  /** The leader of the first sample taken after byte `offset` was written; undefined when none was. */
  leaderAfter(offset: number): string | undefined {
    return this.samples.find((s) => s.offset > offset && s.leader)?.leader;
  }

  private async loop(): Promise<void> {
    const clients = this.endpoints.map((e) => client([e], undefined, { deadlineMs: 500, noRetry: true }));
    try {
      while (!this.stopped) {
        const answers = await Promise.all(
          clients.map((c) =>
            c.maintenance.status().then(
              (s) => s.leader,
              () => '',
            ),
          ),
        );
        const leader = answers.find((l) => l && l !== '0') ?? '';
        this.samples.push({ offset: outOffset(this.fleet), at: Date.now(), leader });
        await new Promise((r) => setTimeout(r, this.everyMs));
      }
    } finally {
      for (const c of clients) c.close();
    }
  }
}

/**
 * The defragmentation order's violations among the decision lines (each with its byte offset in
 * supervisor.out): a member defragmented while it led (the leader sampled both right before and right after
 * its defragment line was written: it led when the maintenance decided, and still did as it defragmented.
 * A member that an election made leader during its defragmentation, on a loaded machine, is no decision
 * of the maintenance, and the next run moves leadership before defragmenting it again); a defragmentation,
 * right after a leadership move (the next decision), of the member leadership was moved to (the new leader).
 * After a move the next observation decides again: followers first, most reclaimable first, so under a
 * steady write load another follower may come before the old leader (no violation), and a move followed by
 * idle is none either (the old leader was under the thresholds).
 */
export function orderViolations(
  lines: readonly (LogLine & { offset: number })[],
  leaders: Pick<LeaderSampler, 'leaderAfter' | 'leaderBefore'>,
): string[] {
  const out: string[] = [];
  const steps = ['defragment', 'move-leader', 'compact', 'disarm', 'idle', 'wait', 'corrupt'];
  const decisions = lines.filter((l) => steps.some((st) => l.message === `maintenance: ${st}`));
  decisions.forEach((l, i) => {
    if (l.message === 'maintenance: defragment') {
      const leader = leaders.leaderAfter(l.offset);
      const before = leaders.leaderBefore(l.offset);
      if (leader === undefined) out.push(`defragment ${String(l.memberId)}: no leader sample after it`);
      else if (leader === l.memberId && before === l.memberId)
        out.push(`defragment ${String(l.memberId)} while it led`);
      else if (leader === l.memberId)
        console.log(
          `defragment ${String(l.memberId)}: it led right after (before: ${before ?? 'no sample'}), an election`,
        );
    } else if (l.message === 'maintenance: move-leader') {
      const next = decisions[i + 1];
      if (next?.message === 'maintenance: defragment' && next.memberId === l.to)
        out.push(
          `move-leader to ${String(l.to)} followed by defragment ${String(next.memberId)}, the new leader`,
        );
    }
  });
  return out;
}
