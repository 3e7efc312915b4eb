/*
 * The defaults of every setting that crosses from synth time to run time, in one place. The construct
 * documents them on its props (`@default`) and writes its values explicitly; the readers fall back to the
 * same values when a field is absent (a hand-written config, a test). test/construct/contract.test.ts checks
 * that dropping an optional field from what the construct writes does not change what the readers see.
 */
import { CompactionMode, OutputFormat, RestorePolicy } from './enums';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

export const DEFAULTS = {
  /** etcd's client port. */
  clientPort: 2379,
  /** etcd's peer port. */
  peerPort: 2380,
  /**
   * Scheme when none is written. The construct always writes it (https unless `tls: false`); an absent
   * scheme cannot mean https, which needs the TLS settings too.
   */
  scheme: 'http',
  output: OutputFormat.ENV,
  /** The agent completes no launch lifecycle action ('' = no hook). */
  launchHookName: '',
  /** The agent's overall deadline for one run (join or promote). */
  deadlineSeconds: 900,
  /** Interval of the agent's lifecycle heartbeats while it waits. */
  heartbeatSeconds: 60,
  /** The agent's first back-off between observations while its plan says wait (doubles up to 8x). */
  retryDelayMs: 500,
  /** How long the reconcile leaves an added-but-never-started member alone (`unstartedGrace`: 20 minutes). */
  unstartedGraceSeconds: 1200,
  /** Automatic restore: how long the quorum must be lost for good first (`backup.restoreAfter`: 10 minutes). */
  restoreAfterSeconds: 600,
  restorePolicy: RestorePolicy.MANUAL,
  /** A snapshot before each member removal (`backup.snapshotBeforeMembershipChange`). */
  snapshotBeforeRemoval: true,
  /** Key prefix in the backup bucket. */
  backupPrefix: '',
  /** A group beside backups of an earlier cluster never bootstraps an empty one unless allowed. */
  emptyStartBesideBackups: false,
  /** etcd's backend quota (`--quota-backend-bytes`): 8 GiB, etcd's recommended maximum (its own default is 2 GiB). */
  quotaBackendBytes: 8 * GiB,
  /** Auto-compaction: keep one hour of revisions (watchers may resume up to an hour back). */
  compactionMode: CompactionMode.PERIODIC,
  compactionRetention: '1h',
  /** Corruption checks: at start (`--experimental-initial-corrupt-check`) and by hash comparison periodically. */
  corruptCheck: true,
  /** Interval of the periodic hash comparison (`--experimental-corrupt-check-time`). */
  corruptCheckIntervalSeconds: 3600,
  /** Defragment a member when at least this share of its backend is reclaimable (dbSize - dbSizeInUse)... */
  reclaimPercent: 25,
  /** ...and at least this many bytes are. */
  reclaimMinBytes: 64 * MiB,
  /** How long one maintenance run (a Lambda invocation) may keep starting steps. */
  maintenanceBudgetSeconds: 90,
} as const;
