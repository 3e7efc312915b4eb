/* The chaos run's types, shared by its modules and the chaos test (test/chaos). */
export type { StatusSample as Sample } from '../../test/fleet/harness';

export const FAULTS = [
  'terminate',
  'kill',
  'kill-wipe',
  'freeze-thaw',
  'reboot',
  'scale',
  'terminate-two',
  'lose-add-reply',
  'total-loss',
  'retained-thaw',
] as const;
export type Fault = (typeof FAULTS)[number];

/** One round of the plan: the fault, the size before it, targets as indexes into the InService list by IP. */
export interface PlanStep {
  round: number;
  fault: Fault;
  size: number;
  targets: number[];
  params: { freezeSeconds?: number; toSize?: number; then?: 'scale-up' | 'kill' };
}

/** An instance this run made unreachable (killed, frozen, rebooting, terminated), from `from` until `to`. */
export interface Disruption {
  id: string;
  ip: string;
  leader: boolean;
  from: number;
  to: number;
  round?: number;
}

/** A stretch of refused writes: from the start of a failed write to the end of the next acknowledged one. */
export interface RefusalWindow {
  from: number;
  to: number;
  failures: number;
  errors: string[];
  /** No acknowledged write came after it before the writer stopped. */
  open?: boolean;
}

/** What a round did and found (the report's rows). */
export interface RoundRow extends PlanStep {
  targetIds: string[];
  targetText: string;
  problems: string[];
  notes: string[];
  converged?: boolean;
  convergeSeconds: number | null;
  acked: number;
  writeFailures: number;
  maxWindowSeconds: number;
  artifacts?: string;
  ok?: boolean;
  startMs?: number;
  endMs?: number;
}

export interface ChaosOptions {
  rounds: number;
  seed: number;
  dir: string;
  report: string;
  grace: number;
  convergeTimeout: number;
  maxMinutes: number;
  slow: number;
  planOnly: boolean;
  quiet: boolean;
}
