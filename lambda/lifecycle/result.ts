/* What one invocation did; returned by the handler (Lambda ignores it; tests and the local fleet read it). */
export interface HandlerResult {
  /** false when the invocation could not do its job (bad configuration, etcd unreachable, ...). */
  readonly ok: boolean;
  readonly kind: 'terminate' | 'launch' | 'reconcile' | 'invalid' | 'config';
  /** CONTINUE / ABANDON for a terminate action; 'ignored', 'logged', 'reconciled', 'not-reconciled' otherwise. */
  readonly outcome: 'CONTINUE' | 'ABANDON' | 'ignored' | 'logged' | 'reconciled' | 'not-reconciled';
  readonly reason: string;
  /** Ids (decimal) of the members this invocation removed, in order. */
  readonly removed: readonly string[];
}
