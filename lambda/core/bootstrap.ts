/*
 * planBootstrap: the join plan when no member of the cluster is reachable and the data dir is empty
 * (planJoin, join.ts). Pure: the result is a function of the input only.
 *
 * Bootstrap of a brand-new cluster (members === null, empty data dir) is race-free by construction:
 *
 *   Every instance of a cold start computes the initial cluster from the same input, the group listing, and
 *   only once the group is full: the active instances (not terminating/terminated, not standby, not warmed)
 *   number exactly the desired capacity, all have a private IP, include this instance, and none of them is
 *   InService (nor any instance of the group InService or in Standby: an InService instance means a cluster
 *   was formed already, since the launch action completes only once the instance is a healthy voter; then the
 *   agent waits and never bootstraps). The list is sorted by instance id and the cluster token is the group
 *   name plus a hash of the sorted "id=peerURL" list. So:
 *   - instances with the same view compute the same list and the same token: one cluster;
 *   - instances with differing views (a listing taken while the group changed) compute different tokens, and
 *     etcd members with different tokens or different initial clusters never form one cluster together;
 *   - no two clusters can both have a quorum: a cluster needs a majority of ITS list, and two lists of the
 *     same desired capacity drawn from one group can only both reach a majority by sharing an instance, while
 *     an instance starts exactly one etcd with exactly one list (it bootstraps once and keeps its data dir);
 *   - an instance that never boots (scenario 2) is one missing member of the list; the rest are a majority
 *     (for a capacity of 3 or more) and form the cluster; the group later replaces the dead instance and the
 *     replacement joins through the member list (remove the dead member, add as learner).
 *   A bootstrap never happens when a member list is readable (members !== null): then the agent joins.
 *
 * Nor beside backups (FAILURE-SCENARIOS 13): when the backup bucket holds a complete snapshot or a restore
 * record, a cluster of this group existed and held data. No reachable member and an empty data dir then mean
 * that cluster is lost (every instance replaced with its volume, an AZ-wide failure, the group scaled to 0 and
 * back), and the plan is `await-restore`: the restore brings it back (automatic policy), or an operator
 * triggers it (manual). Only `backups.emptyStartAllowed` (an explicit choice) lets such a group start empty.
 */
import { isActiveInstanceState, peerURLFor, sameURL } from './quorum';
import { fnv1a32 } from './render';
import { JoinInput, JoinStep, PeerEntry } from './types';

/** Bootstrap a new cluster, or wait: see the block comment at the top of this file. */
export function planBootstrap(input: JoinInput): JoinStep {
  const { instances, desiredCapacity, self, peerPort, scheme, groupName } = input;
  const active = instances.filter((i) => isActiveInstanceState(i.lifecycleState));

  if (!active.some((i) => i.instanceId === self.instanceId)) {
    return {
      kind: 'wait',
      reason: `no cluster reachable and ${self.instanceId} is not an active instance of the group`,
    };
  }
  const formed = instances.filter((i) => i.lifecycleState === 'InService' || i.lifecycleState === 'Standby');
  if (formed.length > 0) {
    return {
      kind: 'wait',
      reason:
        `no cluster reachable, but instance ${formed[0].instanceId} is ${formed[0].lifecycleState}: a cluster ` +
        'was formed already; waiting for it (never bootstrapping a second cluster)',
    };
  }
  const noIp = active.filter((i) => !i.privateIp);
  if (noIp.length > 0) {
    return {
      kind: 'wait',
      reason: `no cluster reachable; waiting for the private IP of ${noIp.map((i) => i.instanceId).join(', ')}`,
    };
  }
  if (active.length !== desiredCapacity) {
    return {
      kind: 'wait',
      reason: `no cluster reachable; waiting for the group to be full: ${active.length} of ${desiredCapacity} instances`,
    };
  }
  const sorted = [...active].sort((a, b) =>
    a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0,
  );
  const initialCluster: PeerEntry[] = sorted.map((i) => ({
    name: i.instanceId,
    peerURL: peerURLFor(i.privateIp!, peerPort, scheme),
  }));
  const mine = initialCluster.find((e) => e.name === self.instanceId)!;
  if (!sameURL(mine.peerURL, self.peerURL)) {
    return {
      kind: 'wait',
      reason: `the group listing gives ${self.instanceId} the peer URL ${mine.peerURL}, not ${self.peerURL}`,
    };
  }
  const urls = new Set(initialCluster.map((e) => e.peerURL));
  if (urls.size !== initialCluster.length) {
    return { kind: 'wait', reason: 'two instances of the group listing share a peer URL' };
  }
  const guard = backupGuard(input);
  if (guard) return guard;
  const token = `${groupName}-${fnv1a32(initialCluster.map((e) => `${e.name}=${e.peerURL}`).join(','))}`;
  return {
    kind: 'bootstrap-new',
    initialCluster,
    token,
    reason:
      `no cluster reachable and the group is full with ${desiredCapacity} new instances: bootstrap` +
      (input.backups === undefined
        ? ' (backups not configured)'
        : input.backups.emptyStartAllowed &&
            (input.backups.newestSnapshot || input.backups.restoreGeneration > 0)
          ? ' (an empty start beside backups is allowed explicitly)'
          : ' (the backups hold no earlier cluster)'),
  };
}

/**
 * The bootstrap guard beside backups: `await-restore` when the backups prove an earlier cluster of this
 * group (a complete snapshot, or a restore record) and no empty start was allowed explicitly.
 */
function backupGuard(input: JoinInput): JoinStep | undefined {
  const b = input.backups;
  if (!b || b.emptyStartAllowed) return undefined;
  const evidence = [
    ...(b.restoreGeneration > 0 ? [`restore record of generation ${b.restoreGeneration}`] : []),
    ...(b.newestSnapshot ? [`snapshot ${b.newestSnapshot}`] : []),
  ];
  if (evidence.length === 0) return undefined;
  const next =
    b.restorePolicy === 'automatic'
      ? 'the scheduled reconcile restores it (automatic policy)'
      : 'invoke the restore trigger ({"kind":"restore"}) to bring it back (manual policy)';
  return {
    kind: 'await-restore',
    reason:
      `total loss: no member of the cluster is reachable and the data dir is empty, but the backups hold an ` +
      `earlier cluster (${evidence.join(', ')}): never bootstrapping an empty cluster beside it; ${next}`,
  };
}
