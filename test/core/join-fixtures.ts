/* Shared inputs of the planJoin tests: a cold-start group and the size-3 cluster most rows join. */
import { JoinInput, JoinStep, planJoin } from '../../lambda/core';
import { V, cluster, inst, self } from './fixtures';

export const S = '10.0.2.15';
/** Cold-start group: self plus two more instances, all Pending:Wait. */
export const coldGroup = [
  inst('10.0.2.20', 'Pending:Wait', 'i-b'),
  inst(S, 'Pending:Wait', 'i-a'),
  inst('10.0.2.150', 'Pending', 'i-c'),
];
export const selfA = self(S, 'i-a');

export interface Row {
  readonly name: string;
  readonly input: JoinInput;
  readonly kind: JoinStep['kind'];
  readonly memberId?: string;
}

export const healthy3 = cluster(V('1', '10.0.2.1'), V('2', '10.0.2.2'), V('3', '10.0.2.3'));

/** A table row's check: the planned kind, a reason, and the member id when the row names one. */
export function expectPlan({ input, kind, memberId }: Row): void {
  const step = planJoin(input);
  expect(step.kind).toBe(kind);
  expect(step.reason.length).toBeGreaterThan(0);
  if (memberId !== undefined) expect(step).toHaveProperty('memberId', memberId);
}
