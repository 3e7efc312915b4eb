/*
 * Property tests of planJoin: invariants of the join plan over generated membership states (members 0..7 with mixed
 * health / learner / unstarted, group instances that share IP prefixes such as 10.0.2.15 / 10.0.2.150:
 * FAILURE-SCENARIOS 10).
 */
import fc from 'fast-check';
import { DataDirState, JoinInput, JoinStep, JoinStrategy, planJoin } from '../../lambda/core';
import {
  RUNS,
  joinArb,
  started,
  dead,
  majority,
  voterCount,
  workingVoters,
  keepsQuorum,
  without,
  joining,
  byPeer,
  expectEveryKind,
  ok,
} from './property-model';

describe('planJoin properties', () => {
  it('never removes a healthy member; every step keeps the quorum; strategies respected', () => {
    const kinds: Record<JoinStep['kind'], number> = {
      'bootstrap-new': 0,
      'start-existing': 0,
      'reuse-unstarted': 0,
      'wipe-data': 0,
      remove: 0,
      'add-learner': 0,
      wait: 0,
      'await-restore': 0,
      refuse: 0,
    };
    fc.assert(
      fc.property(joinArb, (input) => {
        const step = planJoin(input);
        kinds[step.kind]++;
        const members = input.members;
        ok(step.reason.length > 0, 'step.reason.length > 0');
        if (step.kind === 'bootstrap-new') {
          ok(members === null, 'members is null');
          const b = input.backups;
          ok(
            !b || b.emptyStartAllowed || (b.newestSnapshot === undefined && b.restoreGeneration === 0),
            'never a new, empty cluster beside backups of an earlier one (unless allowed)',
          );
          ok(input.dataDir === DataDirState.EMPTY, 'input.dataDir === DataDirState.EMPTY');
          ok(
            step.initialCluster.some((e) => e.peerURL === input.self.peerURL),
            'step.initialCluster.some((e) => e.peerURL === input.self.peerURL)',
          );
        }
        if (step.kind === 'remove') {
          ok(members !== null, 'members is not null');
          const target = members!.find((m) => m.id === step.memberId)!;
          ok(target !== undefined, 'target is defined');
          ok(dead(target, input.health), 'remove only a dead (unstarted or unhealthy) member');
          ok(keepsQuorum(members!, input.health), 'keepsQuorum(members!, input.health)');
          ok(
            keepsQuorum(without(members!, target.id), input.health),
            'healthy started voters >= quorum(voters) after the removal',
          );
          ok(
            !(input.strategy === JoinStrategy.ADD || input.strategy === JoinStrategy.PREPARE),
            'strategies add and prepare never remove',
          );
        }
        if (step.kind === 'add-learner') {
          ok(members !== null, 'members is not null');
          ok(step.peerURL === input.self.peerURL, 'step.peerURL === input.self.peerURL');
          ok(input.strategy !== JoinStrategy.PREPARE, 'input.strategy !== JoinStrategy.PREPARE');
          ok(
            byPeer(members!, input.self.peerURL) === undefined,
            'byPeer(members!, input.self.peerURL) is undefined',
          );
          ok(joining(members!).length === 0, 'no other learner or unstarted member on add');
          ok(members!.length < input.sizeCap, 'add only below the size cap');
          // voters unchanged by a learner add; the quorum check is made for the future voter
          ok(keepsQuorum(members!, input.health), 'keepsQuorum(members!, input.health)');
          const single = members!.length === 1 && workingVoters(members!, input.health) === 1;
          ok(
            workingVoters(members!, input.health) >= majority(voterCount(members!) + 1) || single,
            'add only if the future quorum holds (or single-node growth)',
          );
        }
        if (step.kind === 'wipe-data') {
          // never wipe the data of a current member, nor when no cluster is reachable (unless etcd said removed)
          if (input.dataDir !== DataDirState.REMOVED_MEMBER) {
            ok(input.dataDir === DataDirState.HAS_DATA, 'input.dataDir === DataDirState.HAS_DATA');
            ok(members !== null, 'members is not null');
            ok(
              byPeer(members!, input.self.peerURL) === undefined,
              'byPeer(members!, input.self.peerURL) is undefined',
            );
          }
        }
        if (step.kind === 'reuse-unstarted') {
          const own = byPeer(members!, input.self.peerURL)!;
          ok(own.id === step.memberId, 'own.id === step.memberId');
          ok(!started(own), 'not started(own)');
          expect(step.initialCluster.map((e) => e.peerURL).sort()).toEqual(
            members!.flatMap((m) => m.peerURLs).sort(),
          );
        }
        if (step.kind === 'reuse-unstarted') {
          ok(input.dataDir !== DataDirState.REMOVED_MEMBER, 'never reuse with removed-member data');
        }
        if (step.kind === 'start-existing') {
          ok(input.dataDir === DataDirState.HAS_DATA, 'input.dataDir === DataDirState.HAS_DATA');
        }
      }),
      RUNS,
    );
    // planJoin has no `refuse` path (the variant is the agent's terminal failure).
    expectEveryKind(kinds, RUNS.numRuns, ['refuse']);
  });

  it('is deterministic and independent of the order of the group listing', () => {
    fc.assert(
      fc.property(joinArb, fc.func(fc.integer()), (input, order) => {
        const shuffled = [...input.instances].sort((a, b) => order(a.instanceId) - order(b.instanceId));
        const a = planJoin(input);
        expect(planJoin(structuredClone(input) as JoinInput)).toEqual(a);
        const b = planJoin({ ...input, instances: shuffled });
        ok(b.kind === a.kind, 'b.kind === a.kind');
        ok(
          ('memberId' in a ? a.memberId : undefined) === ('memberId' in b ? b.memberId : undefined),
          'same member id whatever the listing order',
        );
        if (a.kind === 'bootstrap-new' && b.kind === 'bootstrap-new') {
          ok(b.token === a.token, 'b.token === a.token');
          expect(b.initialCluster).toEqual(a.initialCluster);
        }
      }),
      { numRuns: 10000 },
    );
  });
});
