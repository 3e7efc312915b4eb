/*
 * After the rounds: refusal windows attributed to rounds and checked against the quorum, the totals, the
 * pass/fail verdict and the printed table.
 */
import type { Comparison, StatusSample, Writer } from '../../test/fleet/harness';
import { describeStep } from './plan';
import { quorumUpStretch, refusalWindows } from './quorum';
import { ChaosOptions, Disruption, FAULTS, RoundRow } from './types';

export type ReadBackResult =
  Comparison | { error: string; checked: number; present: number; missingCount: number };

/**
 * Attributes refusal windows to rounds; a window longer than the grace with a quorum up for longer than
 * the grace is a violation and a problem of its round.
 */
export function judgeWindows(
  rounds: RoundRow[],
  writer: Writer | undefined,
  samples: StatusSample[],
  disruptions: Disruption[],
  grace: number,
) {
  // An instance's IP counts as down from the fault until the fault healed (thaw, reboot done) or, for an
  // instance that goes away, until status no longer lists it (a replacement may get the same IP).
  const downIps = disruptions.map((d) => {
    let to = d.to;
    if (to === Infinity) {
      const gone = samples.find((x) => x.t > d.from && !x.ids.includes(d.id));
      to = gone ? gone.t : writer ? writer.stoppedAt : Date.now();
    }
    return { ip: d.ip, from: d.from, to };
  });
  const windows = writer ? refusalWindows(writer.ackTimes, writer.failures, downIps, writer.stoppedAt) : [];
  const failuresAtDown = writer ? writer.failures.length - windows.reduce((n, w) => n + w.failures, 0) : 0;
  const violations = [];
  for (const w of windows) {
    const seconds = (w.to - w.from) / 1000;
    const row =
      rounds.find((r) => w.from >= (r.startMs ?? 0) && w.from < (r.endMs ?? 0)) ?? rounds[rounds.length - 1];
    if (row) row.maxWindowSeconds = Math.max(row.maxWindowSeconds, seconds);
    if (seconds <= grace) continue;
    const stretch = quorumUpStretch(w, samples, disruptions);
    const entry = {
      round: row ? row.round : 0,
      fault: row ? row.fault : '',
      from: new Date(w.from).toISOString(),
      seconds,
      quorumUpSeconds: stretch.ms / 1000,
      voters: stretch.voters,
      running: stretch.running,
      failures: w.failures,
      errors: w.errors,
    };
    const quorum = `${stretch.running}/${stretch.voters} running`;
    if (stretch.ms / 1000 > grace) {
      violations.push(entry);
      row?.problems.push(`writes refused ${seconds.toFixed(1)} s with a quorum up (${quorum})`);
    } else
      row?.notes.push(
        `writes refused ${seconds.toFixed(1)} s, a quorum up for at most ${(stretch.ms / 1000).toFixed(1)} s of it (<= grace)`,
      );
  }
  for (const r of rounds) {
    r.ok = r.problems.length === 0;
    delete r.startMs;
    delete r.endMs;
  }
  return { windows, failuresAtDown, violations };
}

export function totalsOf(
  rounds: RoundRow[],
  writer: Writer | undefined,
  judged: ReturnType<typeof judgeWindows>,
  readback: ReadBackResult | undefined,
  startedAt: number,
) {
  const { windows, violations, failuresAtDown } = judged;
  return {
    roundsRun: rounds.length,
    roundsConverged: rounds.filter((r) => r.converged).length,
    roundsOk: rounds.filter((r) => r.ok).length,
    writesAcked: writer ? writer.acked.length : 0,
    writeAttempts: writer ? writer.attempts : 0,
    writeFailures: writer ? writer.failures.length : 0,
    writeFailuresAtDownInstances: failuresAtDown,
    refusalWindows: windows.length,
    maxRefusalWindowSeconds: Math.max(0, ...windows.map((w) => (w.to - w.from) / 1000)),
    quorumViolations: violations.length,
    lostWrites: readback ? readback.missingCount : -1,
    maxConvergeSeconds: Math.max(0, ...rounds.map((r) => r.convergeSeconds || 0)),
    faults: Object.fromEntries(FAULTS.map((f) => [f, rounds.filter((r) => r.fault === f).length])),
    durationSeconds: (Date.now() - startedAt) / 1000,
  };
}

export function passed(
  o: ChaosOptions,
  rounds: RoundRow[],
  totals: ReturnType<typeof totalsOf>,
  fatal?: string,
  truncated = false,
) {
  return (
    !fatal &&
    !truncated &&
    rounds.length === o.rounds &&
    totals.roundsOk === rounds.length &&
    totals.roundsConverged === rounds.length &&
    totals.quorumViolations === 0 &&
    totals.lostWrites === 0
  );
}

/** One log line for a finished round. */
export function roundLine(row: RoundRow): string {
  const converge = row.convergeSeconds === null ? '-' : row.convergeSeconds.toFixed(1);
  return (
    `round ${String(row.round).padStart(3)}  ${describeStep(row).padEnd(22)} ${row.targetText.padEnd(34)} ` +
    `converge ${converge} s  acked ${row.acked}  failures ${row.writeFailures}` +
    (row.problems.length ? `  PROBLEMS: ${row.problems.join('; ')}` : '') +
    (row.artifacts ? `  (logs: ${row.artifacts})` : '')
  );
}

export function table(rows: RoundRow[]): string {
  const head = ['ROUND', 'FAULT', 'TARGET', 'CONVERGE S', 'ACKED', 'FAILURES', 'MAX WINDOW S', 'RESULT'];
  const body = rows.map((r) => [
    String(r.round),
    describeStep(r),
    r.targetText || '-',
    r.convergeSeconds === null ? '-' : r.convergeSeconds.toFixed(1),
    String(r.acked),
    String(r.writeFailures),
    r.maxWindowSeconds.toFixed(1),
    r.ok ? 'ok' : `FAIL: ${r.problems.join('; ')}`.slice(0, 120),
  ]);
  const w = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const fmt = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(w[c]))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n');
}
