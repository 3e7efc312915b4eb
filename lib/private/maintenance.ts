/*
 * The maintenance options of an EtcdCluster resolved into what the run time gets (synth time only): etcd's
 * backend settings in the agent config, the quota and the maintenance thresholds in the lifecycle Lambda's
 * environment, the function's timeout with the maintenance budget, and the maintenance schedule.
 */
import { Duration, Size } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AgentBackendConfig, CompactionMode, DEFAULTS, MaintenanceConfig } from '../contract';
import { EtcdCompaction, EtcdMaintenanceOptions } from '../maintenance';

/** What the maintenance options resolve to (after checkMaintenanceOptions found nothing). */
export interface ResolvedMaintenance {
  /** etcd's backend settings: the agent config's `backend`. */
  readonly backend: AgentBackendConfig;
  /** Defragmentation and NOSPACE recovery settings, without the budget (it follows the timeout); false = off. */
  readonly defrag: Omit<MaintenanceConfig, 'budgetSeconds'> | false;
  /** How often the maintenance runs (with defragmentation on). */
  readonly interval: Duration;
}

export function resolveMaintenance(o: EtcdMaintenanceOptions): ResolvedMaintenance {
  const compaction = o.compaction ?? EtcdCompaction.periodic(Duration.hours(1));
  const corruptCheck = o.corruptionCheck ?? DEFAULTS.corruptCheck;
  return {
    backend: {
      quotaBackendBytes: (o.quotaBackendSize ?? Size.bytes(DEFAULTS.quotaBackendBytes)).toBytes(),
      compactionMode: compaction.mode as CompactionMode,
      // none: no retention is written for etcd; the contract's default keeps the field valid.
      compactionRetention:
        compaction.mode === CompactionMode.NONE ? DEFAULTS.compactionRetention : compaction._retention(),
      corruptCheck,
      corruptCheckIntervalSeconds:
        o.corruptionCheckInterval?.toSeconds() ?? DEFAULTS.corruptCheckIntervalSeconds,
    },
    defrag:
      (o.defragmentation ?? true) &&
      ({
        reclaimPercent: o.defragReclaimPercent ?? DEFAULTS.reclaimPercent,
        reclaimMinBytes: o.defragReclaimMinSize?.toBytes() ?? DEFAULTS.reclaimMinBytes,
      } as const),
    interval: o.interval ?? Duration.minutes(5),
  };
}

/**
 * Time a maintenance run needs after its budget: the budget only bounds when a run starts a step, and the step
 * it started last may be a defragmentation, which the Lambda's etcd adapter allows 120 s
 * (lambda/adapters/etcd-maintenance.ts, defragTimeoutMs: the member blocks while it copies its whole
 * backend), plus 30 s to release the join lock and log. Budget + 30 s would let Lambda kill a run in the
 * middle of that defragmentation, with the join lock held until its lease expires.
 */
const LAST_STEP_ALLOWANCE_SECONDS = 150;

/**
 * The lifecycle function's timeout, and the budget of a maintenance run (undefined without maintenance).
 *
 * The budget is always the contract's default, 90 s: a leadership move, one defragmentation and the wait until
 * the member caught up fit in it, and a run holds the join lock (joins and removals wait for it) no longer
 * than that plus its last step; the next run, one `interval` later, continues where it stopped. A budget that
 * grows with the timeout (450 s with backups) would make joins and removals wait minutes for nothing. The
 * timeout: backups stream snapshots through the function (before removals too), 10 minutes; otherwise
 * 2 minutes, or with maintenance 4 minutes (budget + last step allowance).
 */
export function lifecycleTiming(
  backups: boolean,
  maintenance: boolean,
): { timeout: Duration; budgetSeconds?: number } {
  const base = backups ? 600 : 120;
  if (!maintenance) return { timeout: Duration.seconds(base) };
  const budgetSeconds = DEFAULTS.maintenanceBudgetSeconds;
  return {
    timeout: Duration.seconds(Math.max(base, budgetSeconds + LAST_STEP_ALLOWANCE_SECONDS)),
    budgetSeconds,
  };
}

/** The schedule that invokes the lifecycle function with `{"kind":"maintenance"}` every `interval`. */
export function maintenanceSchedule(
  cluster: Construct,
  fn: lambda.IFunction,
  groupName: string,
  interval: Duration,
): events.Rule {
  return new events.Rule(cluster, 'MaintenanceSchedule', {
    description: `cdk-elastic-etcd: defragmentation and NOSPACE recovery of ${groupName}`,
    schedule: events.Schedule.rate(interval),
    targets: [
      new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ kind: 'maintenance' }) }),
    ],
  });
}
