/*
 * Day two of an EtcdCluster (synth time only): etcd's backend settings (quota, auto-compaction, corruption
 * checks) and the lifecycle Lambda's maintenance (defragmentation, NOSPACE recovery), their options and
 * validation. The construct's parts: lib/private/maintenance.ts (what the agent and the Lambda get, the
 * schedule), the run-time side: the agent writes etcd's flags, lambda/lifecycle/maintenance.ts runs the
 * maintenance.
 */
import { Duration, Size, Token } from 'aws-cdk-lib';
import { CompactionMode } from './contract/enums';

/**
 * etcd's auto-compaction (`--auto-compaction-mode`, `--auto-compaction-retention`): which old revisions
 * etcd discards. A watcher (or a client reading at a revision) can resume only from a revision that is not
 * compacted yet; everything older is gone for good, and the backend only stays bounded when old revisions
 * are discarded.
 */
export class EtcdCompaction {
  /**
   * Keep the revisions of the last `retention` (etcd's periodic mode): a watcher that was away for less than
   * that resumes without a gap. Longer retention, larger backend for a key-overwriting workload.
   * A whole number of seconds, 1 minute to 30 days.
   */
  public static periodic(retention: Duration): EtcdCompaction {
    return new EtcdCompaction(CompactionMode.PERIODIC, retention, undefined);
  }

  /**
   * Keep the last `count` revisions (etcd's revision mode): the backend is bounded by write count, not by
   * time, so a write burst shortens how far back a watcher can resume. A whole number from 1.
   */
  public static revisions(count: number): EtcdCompaction {
    return new EtcdCompaction(CompactionMode.REVISION, undefined, count);
  }

  /**
   * No auto-compaction by etcd: for a setup where something else compacts, e.g. an incremental backup that
   * must ship every revision before it is discarded. Without such a process the backend grows until the
   * quota and etcd turns read-only (NOSPACE); the construct warns (`cdk-elastic-etcd:noCompaction`).
   */
  public static none(): EtcdCompaction {
    return new EtcdCompaction(CompactionMode.NONE, undefined, undefined);
  }

  /** etcd's `--auto-compaction-mode`: `periodic`, `revision`, or `none` (no auto-compaction). */
  public readonly mode: string;

  private constructor(
    mode: CompactionMode,
    /** periodic: the time window kept. */
    private readonly window: Duration | undefined,
    /** revision: the number of revisions kept. */
    private readonly count: number | undefined,
  ) {
    this.mode = mode;
  }

  /**
   * The problem with this compaction (naming `maintenance.compaction`), or undefined. Internal: used by the
   * construct's validation.
   *
   * @internal
   */
  public _problem(): string | undefined {
    const prop = 'maintenance.compaction';
    if (this.window !== undefined) {
      if (this.window.isUnresolved()) return `${prop}: the periodic retention must be known at synth time`;
      const s = this.window.toSeconds();
      if (!Number.isInteger(s) || s < 60 || s > 30 * 86400)
        return `${prop}: the periodic retention must be a whole number of seconds from 1 minute to 30 days (got ${this.window.toHumanString()})`;
    }
    if (this.mode === CompactionMode.REVISION) {
      if (Token.isUnresolved(this.count)) return `${prop}: the revision count must be known at synth time`;
      if (!Number.isInteger(this.count) || (this.count as number) < 1)
        return `${prop}: the revision count must be a whole number from 1 (got ${this.count})`;
    }
    return undefined;
  }

  /**
   * etcd's `--auto-compaction-retention` for this compaction: a duration (`1h`, `30m`, `90s`), a revision
   * count, or '' for none. Only after `_problem()` found nothing.
   *
   * @internal
   */
  public _retention(): string {
    if (this.window !== undefined) {
      const s = this.window.toSeconds();
      if (s % 3600 === 0) return `${s / 3600}h`;
      return s % 60 === 0 ? `${s / 60}m` : `${s}s`;
    }
    return this.count !== undefined ? String(this.count) : '';
  }
}

/** etcd's space and integrity settings and the lifecycle Lambda's maintenance of them. */
export interface EtcdMaintenanceOptions {
  /**
   * Which old revisions etcd discards (auto-compaction). Compaction frees space inside the backend for new
   * writes; only a defragmentation gives it back to the file system.
   *
   * @default EtcdCompaction.periodic(Duration.hours(1))
   */
  readonly compaction?: EtcdCompaction;

  /**
   * etcd's backend quota (`--quota-backend-bytes`): when a member's backend file reaches it, etcd raises the
   * NOSPACE alarm and the cluster accepts only reads and deletes until the space is reclaimed. 1 MiB to
   * 100 GiB (etcd advises at most 8 GiB; more gets the warning `cdk-elastic-etcd:largeQuota`).
   * `dataVolumeSize` must hold twice the quota plus 1 GiB: a defragmentation writes a full copy of the
   * backend, a restore holds the snapshot file beside the restored backend, and the WAL and snapshot
   * files need room too.
   *
   * @default Size.gibibytes(8)
   */
  readonly quotaBackendSize?: Size;

  /**
   * Let the lifecycle Lambda defragment members (one at a time, followers first, the leader last after
   * moving leadership away, only while every member is a healthy voter and no membership change or
   * restore is in progress) and recover from NOSPACE (compact, defragment every member, disarm). Off: no
   * maintenance schedule; a NOSPACE alarm then needs an operator.
   *
   * @default true
   */
  readonly defragmentation?: boolean;

  /**
   * Defragment a member only when at least this percentage of its backend file is reclaimable
   * (dbSize - dbSizeInUse). 0 to 100. Only with `defragmentation`.
   *
   * @default 25
   */
  readonly defragReclaimPercent?: number;

  /**
   * ...and at least this much is reclaimable. 0 to 100 GiB. Only with `defragmentation`.
   *
   * @default Size.mebibytes(64)
   */
  readonly defragReclaimMinSize?: Size;

  /**
   * How often the maintenance runs (an EventBridge schedule that invokes the lifecycle function with
   * `{"kind":"maintenance"}`). A whole number of minutes, 1 to 1440. Only with `defragmentation`.
   *
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;

  /**
   * etcd's data corruption checks: each member compares its data with the cluster's at start
   * (`--experimental-initial-corrupt-check`) and the leader compares the members' hashes every
   * `corruptionCheckInterval`; a mismatch raises the CORRUPT alarm (never disarmed automatically).
   *
   * @default true
   */
  readonly corruptionCheck?: boolean;

  /**
   * Interval of the periodic hash comparison. A whole number of seconds, 1 minute to 7 days. Only with
   * `corruptionCheck`.
   *
   * @default Duration.hours(1)
   */
  readonly corruptionCheckInterval?: Duration;
}

/** Validates the maintenance options against the data volume (GiB); every message names its prop. Token-safe. */
export function checkMaintenanceOptions(o: EtcdMaintenanceOptions, dataVolumeSize: number): string[] {
  const errors: string[] = [];
  const problem = o.compaction?._problem();
  if (problem) errors.push(problem);
  const size = (name: string, s: Size | undefined, minBytes: number, range: string): number | undefined => {
    if (s === undefined) return undefined;
    if (s.isUnresolved()) {
      errors.push(`maintenance.${name}: must be known at synth time, not a token`);
      return undefined;
    }
    const bytes = s.toBytes();
    if (!Number.isInteger(bytes) || bytes < minBytes || bytes > 100 * GiB) {
      errors.push(`maintenance.${name}: must be a whole number of bytes from ${range} (got ${bytes} bytes)`);
      return undefined;
    }
    return bytes;
  };
  const quota = size('quotaBackendSize', o.quotaBackendSize, MiB, '1 MiB to 100 GiB') ?? DEFAULT_QUOTA_BYTES;
  size('defragReclaimMinSize', o.defragReclaimMinSize, 0, '0 to 100 GiB');
  if (!Token.isUnresolved(dataVolumeSize) && Number.isInteger(dataVolumeSize)) {
    const needed = minimumVolumeGiB(quota);
    if (dataVolumeSize < needed) {
      errors.push(
        `maintenance.quotaBackendSize: ${formatBytes(quota)} needs a dataVolumeSize of at least ${needed} GiB ` +
          '(twice the quota: a defragmentation writes a full copy of the backend and a restore holds the snapshot ' +
          `beside the restored backend; plus 1 GiB for the WAL and snapshot files), but dataVolumeSize is ${dataVolumeSize}`,
      );
    }
  }
  const pct = o.defragReclaimPercent;
  if (pct !== undefined && !Token.isUnresolved(pct) && (!Number.isInteger(pct) || pct < 0 || pct > 100)) {
    errors.push(`maintenance.defragReclaimPercent: must be a whole number from 0 to 100 (got ${pct})`);
  }
  if (pct !== undefined && Token.isUnresolved(pct)) {
    errors.push('maintenance.defragReclaimPercent: must be known at synth time, not a token');
  }
  if (o.interval !== undefined) {
    if (o.interval.isUnresolved()) {
      errors.push('maintenance.interval: must be known at synth time, not a token');
    } else {
      const s = o.interval.toSeconds();
      if (s % 60 !== 0 || s < 60 || s > 86400)
        errors.push(
          `maintenance.interval: must be a whole number of minutes from 1 to 1440 (got ${o.interval.toHumanString()})`,
        );
    }
  }
  if (o.corruptionCheckInterval !== undefined) {
    if (o.corruptionCheckInterval.isUnresolved()) {
      errors.push('maintenance.corruptionCheckInterval: must be known at synth time, not a token');
    } else {
      const s = o.corruptionCheckInterval.toSeconds();
      if (!Number.isInteger(s) || s < 60 || s > 7 * 86400)
        errors.push(
          `maintenance.corruptionCheckInterval: must be a whole number of seconds from 1 minute to 7 days (got ${o.corruptionCheckInterval.toHumanString()})`,
        );
    }
  }
  if (o.defragmentation === false) {
    const set = (['defragReclaimPercent', 'defragReclaimMinSize', 'interval'] as const).filter(
      (k) => o[k] !== undefined,
    );
    if (set.length > 0)
      errors.push(`maintenance.${set.join(' / maintenance.')}: only with maintenance.defragmentation on`);
  }
  if (o.corruptionCheck === false && o.corruptionCheckInterval !== undefined) {
    errors.push('maintenance.corruptionCheckInterval: only with maintenance.corruptionCheck on');
  }
  return errors;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DEFAULT_QUOTA_BYTES = 8 * GiB;

/** The smallest data volume (whole GiB) for a backend quota: 2 x quota + 1 GiB. */
export function minimumVolumeGiB(quotaBytes: number): number {
  return Math.ceil((2 * quotaBytes + GiB) / GiB);
}

function formatBytes(bytes: number): string {
  if (bytes % GiB === 0) return `${bytes / GiB} GiB`;
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

/** The acknowledgeable warnings of the maintenance options (id for `Annotations.addWarningV2`, message). */
export function maintenanceWarnings(o: EtcdMaintenanceOptions): { id: string; message: string }[] {
  const warnings: { id: string; message: string }[] = [];
  if (o.compaction?.mode === CompactionMode.NONE) {
    warnings.push({
      id: 'cdk-elastic-etcd:noCompaction',
      message:
        'maintenance.compaction is EtcdCompaction.none(): etcd keeps every revision, so the backend grows until ' +
        'the quota and the cluster turns read-only (NOSPACE), unless something else compacts (e.g. an ' +
        'incremental backup after shipping the revisions).',
    });
  }
  const q = o.quotaBackendSize;
  if (q !== undefined && !q.isUnresolved() && q.toBytes() > DEFAULT_QUOTA_BYTES) {
    warnings.push({
      id: 'cdk-elastic-etcd:largeQuota',
      message:
        `maintenance.quotaBackendSize is ${formatBytes(q.toBytes())}: etcd advises at most 8 GiB; a larger ` +
        'backend makes snapshots, restores, defragmentations and a new member catching up slower.',
    });
  }
  return warnings;
}
