/*
 * The fault plan: a pure function of (seed, rounds), so a replay with the same seed injects the same
 * faults on the same positions (`--plan-only` prints it).
 */
import { createHash } from 'crypto';
import { FAULTS, Fault, PlanStep } from './types';

export const SIZES = [3, 5, 7];
export const START_SIZE = 3;
const MAX_SIZE = 7;

/** mulberry32: a small deterministic PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws the fault kind again while it does not fit the size (at most 64 draws, then `kill`). */
function drawFault(rand: () => number, size: number): Fault {
  for (let tries = 0; tries < 64; tries++) {
    const f = FAULTS[Math.floor(rand() * FAULTS.length)];
    if (f === 'terminate-two' && size !== 5) continue;
    // FAILURE-SCENARIOS 13 and 15 are made for 3 members (a retained termination needs a frozen member
    // to make the removal unsafe, which 5 members absorb), and a restore of 7 takes long.
    if ((f === 'total-loss' || f === 'retained-thaw') && size !== 3) continue;
    return f;
  }
  return 'kill';
}

/**
 * The whole fault sequence: the size the cluster has before each round follows from the plan itself (only
 * `scale` and the scale-up variant of `lose-add-reply` change it). Every round draws the fault kind and
 * then exactly three numbers, used or not, so one round's parameters never shift the next round's draws.
 */
export function makePlan(seed: number, rounds: number): PlanStep[] {
  const rand = mulberry32(seed);
  const plan: PlanStep[] = [];
  let size = START_SIZE;
  for (let r = 1; r <= rounds; r++) {
    const fault = drawFault(rand, size);
    const [r1, r2, r3] = [rand(), rand(), rand()];
    const step: PlanStep = { round: r, fault, size, targets: [], params: {} };
    const first = Math.floor(r1 * size);
    switch (fault) {
      case 'terminate':
      case 'kill':
      case 'kill-wipe':
      case 'reboot':
        step.targets = [first];
        break;
      case 'freeze-thaw':
        step.targets = [first];
        step.params.freezeSeconds = 2 + Math.floor(r2 * 4); // 2..5 s
        break;
      case 'scale': {
        const choices = SIZES.filter((s) => s !== size);
        step.params.toSize = choices[Math.floor(r2 * choices.length)];
        size = step.params.toSize;
        break;
      }
      case 'terminate-two':
      case 'retained-thaw': {
        // retained-thaw: the first is frozen, the second terminated (retained), then the first thawed
        const j = Math.floor(r2 * (size - 1));
        step.targets = [first, j >= first ? j + 1 : j];
        break;
      }
      case 'total-loss':
        step.targets = Array.from({ length: size }, (_, i) => i);
        break;
      case 'lose-add-reply':
        if (size < MAX_SIZE && r3 < 0.5) {
          step.params.then = 'scale-up';
          step.params.toSize = size + 1;
          size += 1;
        } else {
          step.params.then = 'kill';
          step.targets = [first];
        }
        break;
    }
    plan.push(step);
  }
  return plan;
}

export function describeStep(s: PlanStep): string {
  switch (s.fault) {
    case 'scale':
      return `scale ${s.size}->${s.params.toSize}`;
    case 'freeze-thaw':
      return `freeze ${s.params.freezeSeconds}s`;
    case 'lose-add-reply':
      return s.params.then === 'scale-up' ? `lose-add-reply+scale ${s.params.toSize}` : 'lose-add-reply+kill';
    default:
      return s.fault;
  }
}

export const planFingerprint = (plan: PlanStep[]): string =>
  createHash('sha256')
    .update(JSON.stringify(plan.map((s) => [s.fault, s.size, s.targets, s.params])))
    .digest('hex')
    .slice(0, 16);
