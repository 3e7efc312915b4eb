/* The bench's result: the targets met or missed, the printed table, the agent overhead summary. */
import type { DefragFigure } from './defrag';
import type { Join } from './fleet';
import type { RollBench } from './roll';
import { median, pct } from './util';

interface Figure {
  seconds: number | null;
  floorSeconds: number | null;
  ratio: number | null;
}
type Boot = Figure & {
  mode: string;
  sameMode: { toLeader: Figure; toHealthy: Figure };
  allRuns: { toLeader: Figure; toHealthy: Figure };
};

export interface Results {
  [k: string]: unknown;
  replace?: Figure;
  bootstrap3?: Boot;
  bootstrap5?: Boot;
  agentOverheadMs?: { p50: number | null; p95: number | null; n: number };
  lambda?: { initMs: number | null; bundleBytes: number };
  replaceByKeyspace?: Record<string, Figure>;
  synth?: { seconds: number | null; baselineSeconds: number | null; ratio: number | null };
  defrag?: DefragFigure;
  roll?: RollBench;
  targets?: Target[];
}

export interface Target {
  name: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export function agentOverhead(js: Join[]) {
  const joinMs = js.map((j) => j.joinMs);
  const i2a = js.map((j) => j.identityToAddedMs);
  return {
    p50: median(joinMs),
    p95: pct(joinMs, 0.95),
    n: js.length,
    definition: "agent main() start → 'settings written' (the line's ms field), joins that added a learner",
    resolveP50: median(js.map((j) => j.resolveMs)),
    identityToAddedP50: median(i2a),
    identityToAddedP95: pct(i2a, 0.95),
    addedToWrittenP50: median(js.map((j) => j.addedToWrittenMs)),
    withPlanWaits: js.filter((j) => j.waits.length).length,
    planWaitReasons: [...new Set(js.flatMap((j) => j.waits))].slice(0, 5),
  };
}

export function targets(res: Results): Target[] {
  const t: Target[] = [];
  const add = (name: string, value: number | null | undefined, limit: number, unit: string) =>
    t.push({
      name,
      value: value ?? null,
      target: `<= ${limit}${unit}`,
      met: value == null ? null : value <= limit,
    });
  if (res.replace) add('replace ratio', res.replace.ratio, 1.15, 'x');
  if (res.bootstrap3) add('bootstrap3 ratio', res.bootstrap3.ratio, 1.5, 'x');
  if (res.bootstrap5) add('bootstrap5 ratio', res.bootstrap5.ratio, 1.5, 'x');
  if (res.agentOverheadMs) add('agent overhead p50', res.agentOverheadMs.p50, 300, ' ms');
  if (res.lambda) add('lambda init', res.lambda.initMs, 250, ' ms');
  if (res.replaceByKeyspace?.['100'])
    add('replace @100 MB ratio', res.replaceByKeyspace['100'].ratio, 1.2, 'x');
  if (res.roll) {
    add('leader terminated, handoff: longest gap', res.roll.leaderTerminate.withHandoffMs, 300, ' ms');
    for (const r of [res.roll.roll3, res.roll.roll5]) {
      add(`roll of ${r.members}: longest gap`, r.longestGapMs, 500, ' ms');
      add(`roll of ${r.members}: lost writes`, r.lost, 0, '');
    }
  }
  return t;
}

export function table(res: Results): string {
  const rows: (string | number | null)[][] = [['figure', 'fleet', 'baseline', 'ratio', 'target', 'met']];
  const tgt = Object.fromEntries((res.targets ?? []).map((x) => [x.name, x]));
  const row = (name: string, v: unknown, b: unknown, ratio: number | null | string, tname = '') => {
    const t = tgt[tname];
    const r = typeof ratio === 'number' ? `${ratio}x` : ratio === null ? '-' : ratio;
    rows.push([name, String(v), String(b), r, t ? t.target : '-', t ? (t.met ? 'met' : 'MISSED') : '-']);
  };
  const fig = (name: string, f: Figure, tname = '') => row(name, f.seconds, f.floorSeconds, f.ratio, tname);
  if (res.replace) fig('replace (s)', res.replace, 'replace ratio');
  for (const n of [3, 5]) {
    const b = res[`bootstrap${n}`] as Boot | undefined;
    if (!b) continue;
    fig(`bootstrap${n} to all-healthy, ${b.mode} elections (s)`, b.sameMode.toHealthy, `bootstrap${n} ratio`);
    fig(`bootstrap${n} to first leader, ${b.mode} elections (s)`, b.sameMode.toLeader);
    fig(`bootstrap${n} to all-healthy, all runs (s)`, b.allRuns.toHealthy);
  }
  const a = res.agentOverheadMs;
  if (a)
    row(`agent overhead p50 / p95 (ms, n=${a.n})`, `${a.p50} / ${a.p95}`, '-', '-', 'agent overhead p50');
  const l = res.lambda;
  if (l)
    row(`lambda init (ms; bundle ${(l.bundleBytes / 1e6).toFixed(2)} MB)`, l.initMs, '-', '-', 'lambda init');
  for (const [mb, r] of Object.entries(res.replaceByKeyspace ?? {}))
    fig(`replace @${mb} MB (s)`, r, mb === '100' ? 'replace @100 MB ratio' : '');
  if (res.synth) row('synth (s)', res.synth.seconds, res.synth.baselineSeconds, res.synth.ratio);
  const d = res.defrag;
  for (const g of d?.byDeadline ?? []) {
    const what = `longest write gap (${g.deadlineMs} ms deadline), defragment 3 x ${d!.dataMB} MB`;
    fig(`${what}, leader in place (s)`, g.inPlace);
    fig(`${what}, leadership moved (s)`, g.moved);
    row('  moved / in place', '-', '-', g.movedVsInPlace);
  }
  const rb = res.roll;
  if (rb) {
    const lt = rb.leaderTerminate;
    const name = 'leader terminated, handoff: longest gap';
    row(
      'leader terminated: longest write gap, handoff vs none (ms)',
      lt.withHandoffMs,
      lt.withoutHandoffMs,
      lt.ratio,
      name,
    );
    for (const r of [rb.roll3, rb.roll5]) {
      row(
        `roll of ${r.members}: longest write gap (ms)`,
        r.longestGapMs,
        '-',
        '-',
        `roll of ${r.members}: longest gap`,
      );
      row(
        `roll of ${r.members}: total (s), lost / acknowledged`,
        `${r.totalSeconds}, ${r.lost} / ${r.acked}`,
        '-',
        '-',
        `roll of ${r.members}: lost writes`,
      );
    }
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const fmt = (r: unknown[]) => '| ' + r.map((v, c) => String(v).padEnd(w[c])).join(' | ') + ' |';
  return [
    fmt(rows[0]),
    '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|',
    ...rows.slice(1).map(fmt),
  ].join('\n');
}
