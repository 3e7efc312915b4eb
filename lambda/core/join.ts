/*
 * planJoin: the join agent's decision, one step at a time. The agent observes (member list, health, group
 * listing, data dir), calls planJoin, executes ONE step, and observes again; at most one membership change
 * happens between two observations. Pure: the result is a function of the input only.
 *
 * Strategies follow elastic-etcd (github.com/sttts/elastic-etcd, join/add.go):
 * - prepare: an operator makes the entry (`etcdctl member add`); the agent never adds or removes.
 * - add:     add while the cluster is below the size cap; never remove.
 * - replace: like add, but when the cluster is full, remove ONE dead member to make room.
 * - prune:   remove every dead member first (one per step), then add like add.
 * and in every adding strategy elastic-etcd's quorum check: add only if the quorum holds even when the new
 * member never starts (healthy started voters >= quorum(voters + 1)).
 *
 * A brand-new cluster (no member list, empty data dir) is bootstrapped by planBootstrap (bootstrap.ts), which
 * also holds the bootstrap guard beside backups.
 *
 * The size cap counts the members that stay: a member whose instance the group retained
 * (`Terminating:Retained`: its termination was unsafe and answered ABANDON) is on its way out, and the
 * scheduled reconcile removes it and terminates the instance as soon as that is safe
 * (planRetainedTerminations). It never holds a slot that blocks a replacement (FAILURE-SCENARIOS 15); the
 * quorum check of the add still counts it as the voter it is.
 */
import {
  canAddVoterSafely,
  canRemove,
  hasQuorum,
  healthyStartedVoterCount,
  isDead,
  isHealthy,
  isStarted,
  isTerminatingState,
  hasRunningInstance,
  memberByPeerURL,
  memberOfInstance,
  pendingMembers,
  quorum,
  voters,
} from './quorum';
import { planBootstrap } from './bootstrap';
import { DataDirState, JoinInput, JoinStep, JoinStrategy, Member, PeerEntry } from './types';

export function planJoin(input: JoinInput): JoinStep {
  const { members, dataDir, self } = input;

  if (dataDir === DataDirState.REMOVED_MEMBER) {
    return {
      kind: 'wipe-data',
      reason: 'the data dir belongs to a member the cluster removed permanently: wipe it and join again',
    };
  }

  if (members === null) {
    if (dataDir === DataDirState.HAS_DATA) {
      return {
        kind: 'start-existing',
        memberId: '',
        reason:
          'no cluster reachable and the data dir holds data: restart with it (full stop and start); ' +
          'never bootstrap a new cluster and never wipe here',
      };
    }
    return planBootstrap(input);
  }

  const own = memberByPeerURL(members, self.peerURL);

  if (dataDir === DataDirState.HAS_DATA) {
    if (own && isStarted(own)) {
      return {
        kind: 'start-existing',
        memberId: own.id,
        reason: `member ${own.id} (${own.isLearner ? 'learner' : 'voter'}) with data: restart with the data dir, no member change`,
      };
    }
    if (own) {
      // Unstarted entry with data: etcd created the data dir for this entry and stopped before it published
      // itself. Never wipe here (a bootstrap voter may have acknowledged log entries before it published):
      // start with the full initial cluster, which etcd ignores if its WAL exists and needs if it does not.
      // Stale data of an older member makes etcd exit with "removed"; the next plan then wipes.
      return {
        kind: 'reuse-unstarted',
        memberId: own.id,
        initialCluster: initialClusterFor(members, own, self.name),
        reason: `own entry ${own.id} is unstarted and the data dir holds data: start into it, keeping the data`,
      };
    }
    if (!hasQuorum(members, input.health)) {
      return {
        kind: 'wait',
        reason:
          `the data dir holds data and the member list has no entry for ${self.peerURL}, but the cluster has ` +
          'no working quorum: not wiping on a member list that may be stale',
      };
    }
    return {
      kind: 'wipe-data',
      reason: `the cluster has no member with peer URL ${self.peerURL}: the data dir belongs to a removed member`,
    };
  }

  // Empty data dir, a reachable cluster.
  if (own) {
    if (!isStarted(own)) {
      return {
        kind: 'reuse-unstarted',
        memberId: own.id,
        initialCluster: initialClusterFor(members, own, self.name),
        reason: `own entry ${own.id} exists and never started (e.g. a lost member-add reply): start into it, no new add`,
      };
    }
    return planStaleOwnEntry(input, members, own);
  }
  return planAdd(input, members);
}

/** Every member's peer URLs, as etcd requires the initial cluster of a joining member to list them. */
function initialClusterFor(members: readonly Member[], own: Member, selfName: string): PeerEntry[] {
  const entries: PeerEntry[] = [];
  for (const m of members) {
    const name = m.id === own.id ? selfName : m.name !== '' ? m.name : m.id;
    for (const peerURL of m.peerURLs) entries.push({ name, peerURL });
  }
  return entries;
}

/** Own entry is started, but the data dir is empty: the member's data is gone. */
function planStaleOwnEntry(input: JoinInput, members: readonly Member[], own: Member): JoinStep {
  const { health, strategy } = input;
  if (isHealthy(own, health)) {
    return {
      kind: 'wait',
      reason: `own entry ${own.id} is started and answers as healthy, yet the data dir is empty: not removing a healthy member`,
    };
  }
  if (strategy === JoinStrategy.PREPARE || strategy === JoinStrategy.ADD) {
    return {
      kind: 'wait',
      reason:
        `own entry ${own.id} is registered as started but its data is gone; strategy ${strategy} never removes ` +
        `members: an operator must remove member ${own.id}`,
    };
  }
  if (!hasQuorum(members, health)) return noQuorum(members, input.health);
  if (!canRemove(members, health, own.id)) {
    return {
      kind: 'wait',
      reason: `own entry ${own.id} lost its data, but removing it would leave the cluster without a working quorum`,
    };
  }
  return {
    kind: 'remove',
    memberId: own.id,
    reason: `own entry ${own.id} is registered as started but the data dir is empty: remove it, then join again as a learner`,
  };
}

function noQuorum(members: readonly Member[], health: Readonly<Record<string, boolean>>): JoinStep {
  const v = voters(members).length;
  return {
    kind: 'wait',
    reason:
      `the cluster has no working quorum (${healthyStartedVoterCount(members, health)} healthy started voters ` +
      `of ${v}, quorum ${quorum(v)}): no member change is possible`,
  };
}

/**
 * Dead members that this join may remove: unstarted or unhealthy, removable without losing quorum, and not
 * another instance's join in progress (a learner or unstarted entry whose instance is still in the group).
 * Ordered: members whose instance is gone first, then unstarted ones, then by id (deterministic).
 */
function removableDead(input: JoinInput, members: readonly Member[]): { member: Member; gone: boolean }[] {
  const { health, instances, peerPort, scheme } = input;
  const out: { member: Member; gone: boolean; unstarted: boolean }[] = [];
  for (const m of members) {
    if (!isDead(m, health)) continue;
    const gone = !hasRunningInstance(m, instances, peerPort, scheme);
    const joining = m.isLearner || !isStarted(m);
    if (joining && !gone) continue;
    if (!canRemove(members, health, m.id)) continue;
    out.push({ member: m, gone, unstarted: !isStarted(m) });
  }
  out.sort(
    (a, b) =>
      Number(b.gone) - Number(a.gone) ||
      Number(b.unstarted) - Number(a.unstarted) ||
      (a.member.id < b.member.id ? -1 : a.member.id > b.member.id ? 1 : 0),
  );
  return out;
}

function describe(m: Member, gone: boolean): string {
  const what = !isStarted(m) ? 'unstarted' : m.isLearner ? 'unhealthy learner' : 'unhealthy voter';
  return `${what} ${m.id}${m.name ? ` (${m.name})` : ''}${gone ? ', its instance is gone' : ''}`;
}

/** Members of instances the group retained (`Terminating:Retained`): leaving, not counted against the cap. */
export function retainedMembers(
  input: Pick<JoinInput, 'instances' | 'peerPort' | 'scheme'>,
  members: readonly Member[],
): Member[] {
  const out: Member[] = [];
  for (const i of input.instances) {
    if (i.lifecycleState !== 'Terminating:Retained') continue;
    const m = memberOfInstance(i, members, input.peerPort, input.scheme);
    if (m && !out.includes(m)) out.push(m);
  }
  return out;
}

/** No own entry, empty data dir: add this instance (as a learner), possibly after removing a dead member. */
function planAdd(input: JoinInput, members: readonly Member[]): JoinStep {
  const { health, strategy, sizeCap, self } = input;
  const mine = input.instances.find((i) => i.instanceId === self.instanceId);
  if (mine && isTerminatingState(mine.lifecycleState)) {
    // e.g. a retained instance whose member the reconcile removed, restarted before its termination
    return {
      kind: 'wait',
      reason: `${self.instanceId} is ${mine.lifecycleState}: a leaving instance never joins`,
    };
  }

  if (!hasQuorum(members, health)) return noQuorum(members, health);

  if (strategy === JoinStrategy.PREPARE) {
    return {
      kind: 'wait',
      reason: `strategy prepare expects an entry an operator made for ${self.peerURL}; none found`,
    };
  }

  const dead = removableDead(input, members);
  const leaving = retainedMembers(input, members);
  const counted = members.length - leaving.length;
  const full = counted >= sizeCap;
  const of = `${counted} of cap ${sizeCap}${leaving.length > 0 ? `, not counting ${leaving.length} member(s) of retained instances` : ''}`;

  if (strategy === JoinStrategy.PRUNE && dead.length > 0) {
    return {
      kind: 'remove',
      memberId: dead[0].member.id,
      reason: `strategy prune: remove every dead member before adding: ${describe(dead[0].member, dead[0].gone)}`,
    };
  }
  // replace: a full member list (retained members included) makes room by removing one dead member, as
  // elastic-etcd does; only when the members that stay fill the cap does the join wait for that.
  if (strategy === JoinStrategy.REPLACE && (full || members.length >= sizeCap)) {
    if (dead.length > 0) {
      return {
        kind: 'remove',
        memberId: dead[0].member.id,
        reason:
          `strategy replace: the cluster is full (${of}): remove one dead member ` +
          `to make room: ${describe(dead[0].member, dead[0].gone)}`,
      };
    }
    if (full) {
      return {
        kind: 'wait',
        reason: `cluster full (${of}) and no dead member can be removed safely`,
      };
    }
  }
  if (full) {
    return { kind: 'wait', reason: `cluster full: ${of}` };
  }

  const pending = pendingMembers(members);
  if (pending.length > 0) {
    const p = pending[0];
    return {
      kind: 'wait',
      reason:
        `member ${p.id} is ${!isStarted(p) ? 'unstarted' : 'a learner'}: one joining member at a time ` +
        '(etcd allows one learner)',
    };
  }

  // etcd's strict reconfig check makes one exception, kept here: a single started, healthy voter may grow.
  // The learner is only promoted once it runs and is healthy (planPromote), so the 1 -> 2 step never
  // depends on a member that has not started.
  const singleNode = members.length === 1 && healthyStartedVoterCount(members, health) === 1;
  if (!canAddVoterSafely(members, health) && !singleNode) {
    const v = voters(members).length;
    const h = healthyStartedVoterCount(members, health);
    // replace below the cap: elastic-etcd removes nothing there; the one exception made here is a dead member
    // whose instance is gone (a missed terminate hook), which is certain never to come back.
    const goneDead = dead.filter((d) => d.gone);
    if (strategy === JoinStrategy.REPLACE && goneDead.length > 0) {
      return {
        kind: 'remove',
        memberId: goneDead[0].member.id,
        reason:
          `adding would put the future quorum at risk (${h} healthy started voters, quorum of ${v + 1} is ` +
          `${quorum(v + 1)}): remove the ${describe(goneDead[0].member, true)} first`,
      };
    }
    return {
      kind: 'wait',
      reason:
        `adding would put the future quorum at risk: ${h} healthy started voters, but ${quorum(v + 1)} needed ` +
        `if the new member (voter ${v + 1}) never starts`,
    };
  }

  return {
    kind: 'add-learner',
    peerURL: self.peerURL,
    reason: `join as a learner (${of} members, strategy ${strategy})`,
  };
}
