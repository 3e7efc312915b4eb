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
