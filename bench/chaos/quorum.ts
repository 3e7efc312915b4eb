/*
 * The check that fails a round: write-refusal windows against the quorum. A window longer than the grace
 * during which a quorum of the current voters was running, not frozen and not electing counts against the
 * automation.
 */
import type { Disruption, RefusalWindow, Sample } from './types';
import type { WriteFailure } from '../../test/fleet/harness';

/** etcd's 2x election timeout (2 s at the default 1 s) plus one campaign round (0.5 s, generous on 2 cores). */
export const ELECTION_ALLOWANCE_MS = 2500;

export interface QuorumAt {
  up: boolean;
  voters: number;
  running: number;
  election?: boolean;
}

/**
 * Is t inside a leader election? Two kinds are the fault's or etcd's, not the automation's: the one a fault
 * on the leader forces (a freeze, kill or reboot stops it at once), and any change of leader the status
 * sampler saw, e.g. when the lifecycle Lambda removed a terminated or scaled-in leader's member. The sampler
 * sees a change only to its resolution (about 1 s): from the last sample with the old leader to the first
 * with another, plus the allowance.
 */
export function inElection(
  t: number,
  samples: readonly Sample[],
  disruptions: readonly Disruption[],
): boolean {
  if (disruptions.some((d) => d.leader && d.from <= t && t < d.from + ELECTION_ALLOWANCE_MS)) return true;
  let prev: Sample | undefined;
  for (const x of samples) {
    if (x.voters.length === 0) continue; // no member list in this sample
    if (prev && prev.leader !== x.leader && prev.t <= t && t < x.t + ELECTION_ALLOWANCE_MS) return true;
    if (x.t > t) break;
    prev = x;
  }
  return false;
}

/**
 * Was a quorum of the current voters running and not frozen at time t? Voters come from the latest
 * status sample at or before t (one that had a member list); "down" is what this script disrupted
 * (killed, frozen, rebooting, terminated) at t, plus instances the sample shows terminating.
 */
export function quorumUp(
  t: number,
  samples: readonly Sample[],
  disruptions: readonly Disruption[],
): QuorumAt {
  // A fault on the leader (freeze, kill, reboot, terminate) leaves the cluster without a leader until the
  // others' election timeout (randomized 1-2 s in etcd) runs out and an election completes: that wait is
  // the fault's, not the automation's, so no quorum counts as serving during it.
  if (inElection(t, samples, disruptions)) return { up: false, voters: 0, running: 0, election: true };
  let s: Sample | undefined;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (samples[i].t <= t && samples[i].voters.length > 0) {
      s = samples[i];
      break;
    }
  }
  s ??= samples.find((x) => x.voters.length > 0);
  if (!s) return { up: false, voters: 0, running: 0 };
  const down = new Set(s.terminating);
  for (const d of disruptions) if (d.from <= t && t < d.to) down.add(d.id);
  const running = s.voters.filter((id) => !down.has(id)).length;
  return { up: running >= Math.floor(s.voters.length / 2) + 1, voters: s.voters.length, running };
}

/**
 * Write-refusal windows: a window opens at the start of a failed write and closes at the end of the next
 * acknowledged one. A write that failed on an instance this script had made unreachable (killed, frozen,
 * rebooting, terminated) says nothing about the cluster, so it neither opens nor extends a window; the
 * writer skips a failed endpoint for 3 s, so the next writes go to other members.
 */
export function refusalWindows(
  ackTimes: readonly number[],
  failures: readonly WriteFailure[],
  downIps: readonly { ip: string; from: number; to: number }[],
  stoppedAt: number,
): RefusalWindow[] {
  const windows: RefusalWindow[] = [];
  let open: RefusalWindow | undefined;
  let a = 0;
  const isDown = (f: WriteFailure) =>
    f.remote && downIps.some((d) => d.ip === f.remote && d.from <= f.end && f.start < d.to);
  for (const f of failures) {
    if (isDown(f)) continue;
    if (open && a < ackTimes.length && ackTimes[a] <= f.start) {
      windows.push(open); // an ack came between: close the window at it
      open = undefined;
    }
    if (!open) {
      while (a < ackTimes.length && ackTimes[a] <= f.start) a++;
      open = { from: f.start, to: a < ackTimes.length ? ackTimes[a] : stoppedAt, failures: 0, errors: [] };
      if (a >= ackTimes.length) open.open = true;
    }
    open.failures++;
    if (open.errors.length < 5 && !open.errors.includes(f.error)) open.errors.push(f.error);
  }
  if (open) windows.push(open);
  return windows;
}

/** The longest stretch of a refusal window during which a quorum was up (stepped at 100 ms). */
export function quorumUpStretch(
  w: { from: number; to: number },
  samples: readonly Sample[],
  disruptions: readonly Disruption[],
): { ms: number; voters: number; running: number } {
  let best = 0;
  let cur = 0;
  let at = { voters: 0, running: 0 };
  for (let t = w.from; t < w.to; t += 100) {
    const q = quorumUp(t, samples, disruptions);
    if (q.up) {
      cur += Math.min(100, w.to - t);
      if (cur > best) {
        best = cur;
        at = q;
      }
    } else cur = 0;
  }
  return { ms: best, voters: at.voters, running: at.running };
}
