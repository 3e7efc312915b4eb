/*
 * Property tests of the removal and promotion plans (planTermination, planReconcile, planPromote) over the
 * generated membership states of property-model.ts.
 */
import fc from 'fast-check';
import {
  JoinStrategy,
  Member,
  PromoteStep,
  ReconcileStep,
  TerminationStep,
  planPromote,
  planReconcile,
  planTermination,
} from '../../lambda/core';
import { PEER_PORT, client, peer } from './fixtures';
import {
  IPS,
  RUNS,
  stateArb,
  started,
  healthy,
  dead,
  keepsQuorum,
  without,
  removable,
  byPeer,
  liveInstanceOf,
  expectEveryKind,
  ok,
} from './property-model';

const terminationArb = fc
  .tuple(stateArb, fc.constantFrom(...IPS))
  .map(([st, ip]) => ({ ...st, peerURL: peer(ip), peerPort: PEER_PORT, scheme: 'http' as const }));

describe('planTermination properties', () => {
  it('never removes a voter unsafely; dead-first makes the removal safe', () => {
    const kinds: Record<TerminationStep['kind'], number> = {
      remove: 0,
      'remove-dead-first': 0,
      absent: 0,
      unsafe: 0,
    };
    fc.assert(
      fc.property(terminationArb, (input) => {
        const step = planTermination(input);
        kinds[step.kind]++;
        const target = byPeer(input.members, input.peerURL);
        if (step.kind === 'absent') ok(target === undefined, 'target is undefined');
        if (step.kind === 'remove') {
          ok(step.memberId === target!.id, 'step.memberId === target!.id');
          if (!target!.isLearner && started(target!)) {
            ok(
              keepsQuorum(without(input.members, target!.id), input.health),
              'keepsQuorum(without(input.members, target!.id), input.health)',
            );
          }
        }
        if (step.kind === 'remove-dead-first') {
          const first = input.members.find((m) => m.id === step.memberId)!;
          ok(first.id !== target!.id, 'first.id !== target!.id');
          ok(dead(first, input.health), 'dead(first, input.health)');
          ok(
            removable(input.members, input.health, first.id),
            'removable(input.members, input.health, first.id)',
          );
          const after = without(input.members, first.id);
          ok(removable(after, input.health, target!.id), 'removable(after, input.health, target!.id)');
          ok(
            !removable(input.members, input.health, target!.id),
            'not removable(input.members, input.health, target!.id)',
          );
        }
        if (step.kind === 'unsafe') {
          ok(!(target!.isLearner || !started(target!)), 'not target!.isLearner || !started(target!)');
          ok(
            !removable(input.members, input.health, target!.id),
            'not removable(input.members, input.health, target!.id)',
          );
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});

const reconcileArb = fc
  .tuple(
    stateArb,
    fc.constantFrom(JoinStrategy.PREPARE, JoinStrategy.ADD, JoinStrategy.REPLACE, JoinStrategy.PRUNE),
    fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 7, maxLength: 7 }),
  )
  .map(([st, strategy, ages]) => ({
    ...st,
    strategy,
    peerPort: PEER_PORT,
    scheme: 'http' as const,
    unstartedAgeSeconds: Object.fromEntries(st.members.map((m, i) => [m.id, ages[i]])),
    unstartedGraceSeconds: 600,
  }));

describe('planReconcile properties', () => {
  it('never removes a healthy member or one of a healthy live instance; cumulative removals keep quorum', () => {
    const kinds: Record<ReconcileStep['kind'], number> = { remove: 0, report: 0, noop: 0 };
    fc.assert(
      fc.property(reconcileArb, (input) => {
        const steps = planReconcile(input);
        for (const k of new Set(steps.map((x) => x.kind))) kinds[k]++;
        ok(steps.length > 0, 'steps.length > 0');
        if (steps.some((s) => s.kind === 'noop')) ok(steps.length === 1, 'steps has length 1');
        let current: Member[] = [...input.members];
        const removed = new Set<string>();
        for (const s of steps) {
          if (s.kind !== 'remove') continue;
          const m = current.find((x) => x.id === s.memberId)!;
          ok(m !== undefined, 'm is defined');
          ok(!removed.has(m.id), 'not removed.has(m.id)');
          ok(!(started(m) && healthy(m, input.health)), 'not started(m) && healthy(m, input.health)');
          ok(
            !(liveInstanceOf(m, input.instances, input.health) && !dead(m, input.health)),
            'not liveInstanceOf(m, input.instances, input.health) && !dead(m, input.health)',
          );
          if (input.strategy === JoinStrategy.PREPARE && liveInstanceOf(m, input.instances, input.health)) {
            ok(
              dead(m, input.health) && !liveInstanceOf(m, input.instances, input.health),
              'dead(m, input.health) && !liveInstanceOf(m, input.instances, input.health)',
            );
          }
          ok(keepsQuorum(current, input.health), 'keepsQuorum(current, input.health)');
          current = without(current, m.id);
          removed.add(m.id);
          ok(keepsQuorum(current, input.health), 'keepsQuorum(current, input.health)');
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});

const promoteArb = fc.tuple(stateArb, fc.constantFrom(...IPS)).map(([st, ip]) => ({
  members: st.members,
  health: st.health,
  self: { instanceId: 'i-self', privateIp: ip, name: 'i-self', peerURL: peer(ip), clientURL: client(ip) },
}));

describe('planPromote properties', () => {
  it('promotes only its own started, healthy learner, and only when the quorum holds after the promotion', () => {
    const kinds: Record<PromoteStep['kind'], number> = { promote: 0, done: 0, wait: 0, refuse: 0 };
    fc.assert(
      fc.property(promoteArb, (input) => {
        const step = planPromote(input);
        kinds[step.kind]++;
        const own = byPeer(input.members, input.self.peerURL);
        if (step.kind === 'refuse') ok(own === undefined, 'refuse only when the own entry is gone');
        if (step.kind === 'promote' || step.kind === 'done') {
          ok(own !== undefined && own.id === step.memberId, 'own member id');
          ok(started(own!) && healthy(own!, input.health), 'own entry started and healthy');
          ok(own!.isLearner === (step.kind === 'promote'), 'promote learners, done for voters');
        }
        if (step.kind === 'promote') {
          const promoted = input.members.map((m) => (m.id === own!.id ? { ...m, isLearner: false } : m));
          ok(keepsQuorum(promoted, input.health), 'healthy started voters >= quorum after the promotion');
        }
      }),
      RUNS,
    );
    expectEveryKind(kinds, RUNS.numRuns);
  });
});
