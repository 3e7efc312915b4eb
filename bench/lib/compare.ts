/* A figure against its baseline: medians of each side's runs and their ratio. */
import { median, r2, ratio } from './util';

export interface Comparison {
  seconds: number | null;
  floorSeconds: number | null;
  ratio: number | null;
  n: number;
  floorN: number;
  runs: (number | null)[];
  floorRuns: (number | null)[];
}

/** Medians of the fleet's and the floor's runs (seconds) and their ratio; `round` rounds the floor's runs. */
export function compare(
  runs: readonly number[],
  floorRuns: readonly number[],
  round: (x: number) => number | null = r2,
): Comparison {
  const s = median(runs);
  const f = median(floorRuns);
  return {
    seconds: r2(s),
    floorSeconds: r2(f),
    ratio: ratio(s, f),
    n: runs.length,
    floorN: floorRuns.length,
    runs: runs.map(r2),
    floorRuns: floorRuns.map(round),
  };
}
