/* What one invocation did; returned by the handler (Lambda ignores it; tests and the local fleet read it). */
import type { RestoreSource } from '../core/restore';
export interface HandlerResult {
  /** false when the invocation could not do its job (bad configuration, etcd unreachable, ...). */
  readonly ok: boolean;
  readonly kind:
    'terminate' | 'launch' | 'reconcile' | 'invalid' | 'config' | 'backup' | 'restore' | 'maintenance';
  /** CONTINUE / ABANDON for a terminate action; 'ignored', 'logged', 'reconciled', 'not-reconciled' otherwise. */
  readonly outcome:
    | 'CONTINUE'
    | 'ABANDON'
    | 'ignored'
    | 'logged'
    | 'reconciled'
    | 'not-reconciled'
    | 'stored'
    | 'failed'
    | 'no-restore'
    | 'fenced'
    | 'restore-started'
    | 'maintained'
    | 'waiting'
    | 'corrupt';
  readonly reason: string;
  /** Ids (decimal) of the members this invocation removed, in order. */
  readonly removed: readonly string[];
  /** backup: the snapshot stored. */
  readonly snapshot?: { key: string; revision: number; clusterId: string; sha256: string; size: number };
  /** maintenance: the steps executed, in order (kind and member). */
  readonly maintenance?: { kind: string; memberId?: string }[];
  /**
   * restore: the record written (generation, seed), its source (a survivor's own data, or a snapshot: then
   * also snapshotKey) and the revision the restored cluster starts from.
   */
  readonly restore?: {
    generation: number;
    seedInstanceId: string;
    source: RestoreSource;
    snapshotKey?: string;
    restoredUpToRevision: number;
  };
}
