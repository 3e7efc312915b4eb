/*
 * The enums both sides share: the construct writes these strings, the agent and the lifecycle Lambda read
 * them. JoinStrategy and RestorePolicy are also the library's public (jsii) enums.
 */

/**
 * How a new instance joins the cluster. The values are elastic-etcd's strategy names, and the
 * join agent's `strategy` config field takes exactly these strings.
 */
export enum JoinStrategy {
  /**
   * Expect a member entry for this instance that an operator made beforehand
   * (`etcdctl member add`); the automation never adds or removes members.
   */
  PREPARE = 'prepare',
  /** Add this instance when the cluster is below its size cap; never remove anything. */
  ADD = 'add',
  /**
   * When the cluster is full (at its size cap), remove one dead member to make room, then add
   * this instance. The usual choice for a self-healing group of fixed size.
   */
  REPLACE = 'replace',
  /** Remove every dead member first, then add this instance. */
  PRUNE = 'prune',
}

/** What happens after the cluster lost its quorum for good (the members that made it are gone with their data). */
export enum RestorePolicy {
  /**
   * Nothing is restored until an operator invokes the lifecycle function with `{"kind":"restore"}`.
   * The default: a restore replaces the cluster, from a surviving member's own data when it is at least as
   * new as the newest snapshot (every other member removed), otherwise from that snapshot (every write after
   * it discarded, a new cluster id); a human should decide that.
   */
  MANUAL = 'manual',
  /** The scheduled reconcile restores by itself once the quorum was lost for `restoreAfter`. */
  AUTOMATIC = 'automatic',
}

/** How the agent writes etcd's settings (the agent config's `output`). */
export enum OutputFormat {
  /** KEY=value lines: the EnvironmentFile that Flatcar's etcd-member.service reads. */
  ENV = 'env',
  /** A systemd drop-in: [Service] with Environment="KEY=value" lines. */
  DROPIN = 'dropin',
  /** etcd command-line flags, one per line. */
  FLAGS = 'flags',
}

/** etcd's auto-compaction mode (`--auto-compaction-mode`). */
export enum CompactionMode {
  /** Keep the revisions of a time window (`--auto-compaction-retention` is a duration such as `1h`). */
  PERIODIC = 'periodic',
  /** Keep a number of revisions (`--auto-compaction-retention` is a count). */
  REVISION = 'revision',
  /**
   * No auto-compaction by etcd: something else compacts (the seam for an incremental backup that must ship
   * every revision before it is compacted). Without one, the backend grows until NOSPACE.
   */
  NONE = 'none',
}

/** Scheme of every peer and client URL: https with TLS (client-certificate authentication), http without. */
export type Scheme = 'http' | 'https';
