/*
 * Types of the pure membership core. No I/O and no SDK imports anywhere under lambda/core/.
 * The join agent (lambda/agent), the lifecycle Lambda (lambda/lifecycle) and the local fleet
 * feed observations in and execute the returned plan steps through their adapters.
 */

/** How an instance joins, as elastic-etcd defines the strategies (the contract's enum, shared with the construct). */
import { JoinStrategy } from '../../lib/contract';

export { JoinStrategy };

/** One entry of etcd's member list. IDs are decimal strings (as etcd3 returns them). */
export interface Member {
  readonly id: string;
  /** Empty for a member that was added but has never started. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  /** Empty for a member that was added but has never started. */
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

/** An instance of the Auto Scaling group, as DescribeAutoScalingGroups + DescribeInstances report it. */
export interface GroupInstance {
  readonly instanceId: string;
  /** Private IPv4 address; undefined while EC2 has not assigned one yet. */
  readonly privateIp?: string;
  /** The ASG lifecycle state: Pending, Pending:Wait, Pending:Proceed, InService, Terminating, Terminating:Wait, Terminating:Proceed, Terminated, Standby, Warmed:*, ... */
  readonly lifecycleState: string;
}

/**
 * What every plan of the group starts from: etcd's member list, each member's health, the group's
 * instances, and how peer URLs are derived from their private IPs.
 */
export interface GroupObservation {
  readonly members: readonly Member[];
  /** Health of each member's client endpoint, by member id. A member missing here counts as unhealthy. */
  readonly health: Readonly<Record<string, boolean>>;
  /** The group's instances. */
  readonly instances: readonly GroupInstance[];
  /** Peer port used to derive other instances' peer URLs from their private IPs. */
  readonly peerPort: number;
  /** URL scheme of peer and client URLs. */
  readonly scheme: 'http' | 'https';
}

/** The instance the agent runs on. */
export interface Self {
  readonly instanceId: string;
  readonly privateIp: string;
  /** etcd member name: the instance id. */
  readonly name: string;
  /** Exact peer URL, e.g. http://10.0.2.15:2380 */
  readonly peerURL: string;
  /** Exact client URL, e.g. http://10.0.2.15:2379 */
  readonly clientURL: string;
}

/** What the local data dir holds. */
export enum DataDirState {
  EMPTY = 'empty',
  /** A member's data (the member dir exists). Whether it still belongs to a current member is decided from the member list. */
  HAS_DATA = 'has-data',
  /** Data of a member that the cluster removed (etcd exited with "the member has been permanently removed from the cluster"). */
  REMOVED_MEMBER = 'removed-member',
}

/** Everything the agent observed before a join decision. */
export interface JoinInput extends Omit<GroupObservation, 'members'> {
  /** null when no member list could be read from any peer (no reachable cluster). */
  readonly members: readonly Member[] | null;
  /** The group's instances, including this one. */
  readonly instances: readonly GroupInstance[];
  /** The group's desired capacity. */
  readonly desiredCapacity: number;
  readonly self: Self;
  readonly strategy: JoinStrategy;
  /** The largest number of members (voters + learners + unstarted) the agent may create. */
  readonly sizeCap: number;
  readonly dataDir: DataDirState;
  /** Client port used to derive other instances' client URLs from their private IPs. */
  readonly clientPort: number;
  /** Name of the Auto Scaling group (used to derive the bootstrap cluster token). */
  readonly groupName: string;
  /**
   * What the backup bucket says about earlier clusters of this group; undefined when backups are not
   * configured (then nothing but the group listing guards a bootstrap).
   */
  readonly backups?: BackupView;
}

/**
 * The backup bucket as the bootstrap decision sees it (FAILURE-SCENARIOS 13). A complete snapshot or a
 * restore record proves that a cluster of this group existed and held data: when no member of it is
 * reachable and the data dir is empty, that cluster is lost, and a new, empty one must not silently
 * take its place.
 */
export interface BackupView {
  /** Key of the newest complete snapshot (one with its sha256 sidecar); undefined when there is none. */
  readonly newestSnapshot?: string;
  /** Generation of the newest restore record; 0 when there has never been a restore. */
  readonly restoreGeneration: number;
  /** The operator chose, explicitly, to start a new, empty cluster beside these backups. @default false */
  readonly emptyStartAllowed: boolean;
  /** The restore policy, for the reason text only ('manual' | 'automatic'). */
  readonly restorePolicy?: string;
}

/** One initial-cluster entry: `name=peerURL`. */
export interface PeerEntry {
  readonly name: string;
  readonly peerURL: string;
}

/**
 * One step of a join. The agent executes the step and, unless it is terminal, observes again and
 * plans again: at most one membership change happens between two observations.
 */
export type JoinStep =
  /** Terminal. Start a brand-new cluster from this static list (ETCD_INITIAL_CLUSTER_STATE=new). */
  | {
      readonly kind: 'bootstrap-new';
      readonly initialCluster: readonly PeerEntry[];
      readonly token: string;
      readonly reason: string;
    }
  /** Terminal. Keep the data dir and start: this instance is a current member (ETCD_INITIAL_CLUSTER_STATE=existing). */
  | { readonly kind: 'start-existing'; readonly memberId: string; readonly reason: string }
  /** Terminal. Own entry exists but never started: start into it (state existing, initialCluster = every member's peer URL). */
  | {
      readonly kind: 'reuse-unstarted';
      readonly memberId: string;
      readonly initialCluster: readonly PeerEntry[];
      readonly reason: string;
    }
  /** Delete the local data dir, then plan again with DataDirState.EMPTY. */
  | { readonly kind: 'wipe-data'; readonly reason: string }
  /** Remove this member (a dead one, or this instance's own stale entry), then plan again. */
  | { readonly kind: 'remove'; readonly memberId: string; readonly reason: string }
  /** Add this instance as a learner with exactly this peer URL, then plan again. */
  | { readonly kind: 'add-learner'; readonly peerURL: string; readonly reason: string }
  /** Nothing safe to do now: back off and observe again (bounded by the caller). */
  | { readonly kind: 'wait'; readonly reason: string }
  /**
   * No member is reachable, the data dir is empty, and the backups hold a previous cluster: a total loss.
   * Never bootstrap: wait for the restore (the reconcile under the automatic policy, the trigger under
   * the manual one), observing again like `wait`.
   */
  | { readonly kind: 'await-restore'; readonly reason: string }
  /** Terminal failure: the agent exits non-zero with this reason. */
  | { readonly kind: 'refuse'; readonly reason: string };

/** Observations after etcd started, for the promote phase. */
export interface PromoteInput {
  readonly members: readonly Member[];
  readonly health: Readonly<Record<string, boolean>>;
  readonly self: Self;
}

export type PromoteStep =
  | { readonly kind: 'promote'; readonly memberId: string; readonly reason: string }
  /** This member is a started, healthy voter: complete the launch lifecycle action. */
  | { readonly kind: 'done'; readonly memberId: string; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/** Observations for the lifecycle handler when an instance terminates. */
export interface TerminationInput extends GroupObservation {
  /** The terminating instance's exact peer URL (from its private IP). */
  readonly peerURL: string;
  /**
   * The group's desired capacity. When given, a termination never leaves fewer healthy started voters
   * than the quorum of that size (and never fewer than one): with one member of three already dead, the
   * removal of a second one is unsafe even when removing the dead one first would keep a quorum of two
   * members. undefined = only the quorum of the resulting membership counts.
   */
  readonly desiredCapacity?: number;
}

export type TerminationStep =
  /** Remove the terminating instance's member (voter, learner or unstarted entry), then complete with CONTINUE. */
  | { readonly kind: 'remove'; readonly memberId: string; readonly reason: string }
  /** Removing the terminating member is unsafe while this dead member is registered: remove it first, then plan again. */
  | { readonly kind: 'remove-dead-first'; readonly memberId: string; readonly reason: string }
  /** No member for this instance: complete with CONTINUE. */
  | { readonly kind: 'absent'; readonly reason: string }
  /** Removal would lose quorum: complete with ABANDON so the group's retention policy keeps the instance. */
  | { readonly kind: 'unsafe'; readonly reason: string };

/** Observations for the scheduled reconcile. */
export interface ReconcileInput extends GroupObservation {
  readonly strategy: JoinStrategy;
  /** Seconds each unstarted member has been seen unstarted, by member id (tracked by the caller). */
  readonly unstartedAgeSeconds: Readonly<Record<string, number>>;
  readonly unstartedGraceSeconds: number;
}

export type ReconcileStep =
  | { readonly kind: 'remove'; readonly memberId: string; readonly reason: string }
  | { readonly kind: 'report'; readonly memberId: string; readonly reason: string }
  | { readonly kind: 'noop'; readonly reason: string };
