/*
 * The bench's fleets: the shared harness's TestFleet (test/fleet/harness) on a free loopback block, every
 * fleet brought down on any exit path, and the agent-log reading of joins (`joinOf`).
 */
import { logLines, LogLine, TestFleet } from '../../test/fleet/harness';

/** Fleets created and not yet brought down. */
const open = new Set<TestFleet>();

/** A fresh fleet in a temp dir whose address block no running process (e.g. another suite's fleet) uses. */
export function newFleet(tag: string): TestFleet {
  const f = new TestFleet(`bench-${tag}`, undefined, 600_000);
  open.add(f);
  return f;
}

export async function down(f: TestFleet): Promise<void> {
  try {
    await f.down();
  } finally {
    f.downSync(); // removes the dir if down() failed before it
    open.delete(f);
  }
}

/** Synchronous last-resort teardown (exit handlers). */
export function downAllSync(): void {
  for (const f of open) f.downSync();
  open.clear();
}

/** Parsed agent logs of the instances still on disk, by instance id. */
export function agentLines(f: TestFleet): { id: string; lines: LogLine[] }[] {
  return Object.entries(f.agentLogs()).map(([id, text]) => ({ id, lines: logLines(text) }));
}

export interface Join {
  /** 'settings written'.ms: agent main() start → settings written. THE agent overhead figure. */
  joinMs: number;
  /** main() start → 'identity' (IMDS + DescribeAutoScalingInstances). */
  resolveMs: number;
  /** 'identity' → 'added as learner' (observe, plan, waits, lock, re-plan, add). */
  identityToAddedMs: number;
  addedToWrittenMs: number;
  /** Number of 'plan' lines, and the reasons of those with step 'wait'. */
  plans: number;
  waits: string[];
  mainStart: number;
}

const msg = (m: string) => (l: LogLine) => l.message === m;

/** One join into a running cluster, from its agent log (null if it did not add itself as a learner). */
export function joinOf(lines: LogLine[]): Join | null {
  const written = lines.find(msg('settings written'));
  const added = lines.find(msg('added as learner'));
  const identity = lines.find(msg('identity'));
  if (!written?.t || !added?.t || !identity?.t) return null;
  const writtenAt = written.t;
  const mainStart = writtenAt - Number(written.ms);
  const plans = lines.filter((l) => l.message === 'plan' && (l.t ?? 0) <= writtenAt);
  return {
    joinMs: Number(written.ms),
    resolveMs: identity.t - mainStart,
    identityToAddedMs: added.t - identity.t,
    addedToWrittenMs: writtenAt - added.t,
    plans: plans.length,
    waits: plans.filter((p) => p.step === 'wait').map((p) => String(p.reason)),
    mainStart,
  };
}

/** Joins into a running cluster seen in any fleet of this run, by instance id. */
export const joins = new Map<string, Join>();

export function collectJoins(f: TestFleet): void {
  for (const a of agentLines(f)) {
    if (joins.has(a.id)) continue;
    const j = joinOf(a.lines);
    if (j) joins.set(a.id, j);
  }
}

/**
 * Above this wait from the start of the quorum-th member to the first leader, an election is slow. A
 * fresh cold start either elects within about 1.1 s (a member fast-forwarded its election ticks once it
 * saw its peers: the first campaign comes a few 100 ms ticks later) or only after 2.2 s and more (the
 * first campaign waited a full randomized election timeout of 1-2 s, or the tick advance came late);
 * nothing was seen in between on this machine, so the split is not sensitive to its exact value.
 */
export const SLOW_ELECTION_MS = 1500;

/** How the first leader election of a fresh cluster went, from its members' etcd zap logs. */
export interface Election {
  /** When a member first logged "became leader at term N" (epoch ms), and N. */
  leaderAt: number;
  term: number;
  /** From the start of the quorum-th member (its first log line) to the leader. */
  electionMs: number;
  /** electionMs above SLOW_ELECTION_MS: the mode that made the static floor bimodal. */
  slow: boolean;
  /**
   * Did a member log "initialized peer connections; fast-forwarding election ticks" before the leader?
   * (For the record: a late tick advance still gives a slow election.)
   */
  advanced: boolean;
}

export function election(etcdLogs: readonly string[]): Election | null {
  let leader: { t: number; term: number } | null = null;
  const starts: number[] = [];
  const advances: number[] = [];
  for (const text of etcdLogs) {
    const lines = logLines(text).filter((l) => l.t !== undefined);
    if (lines.length) starts.push(lines[0].t as number);
    for (const l of lines) {
      const m = String(l.msg ?? '');
      const won = /became leader at term (\d+)/.exec(m);
      if (won && (!leader || (l.t as number) < leader.t)) leader = { t: l.t as number, term: Number(won[1]) };
      if (m.includes('fast-forwarding election ticks')) advances.push(l.t as number);
    }
  }
  if (!leader) return null;
  const at = leader.t;
  const quorumStart = starts.sort((a, b) => a - b)[Math.floor(starts.length / 2)];
  return {
    leaderAt: at,
    term: leader.term,
    electionMs: at - quorumStart,
    slow: at - quorumStart > SLOW_ELECTION_MS,
    advanced: advances.some((t) => t <= at),
  };
}
