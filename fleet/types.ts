/*
 * The fleet's vocabulary, shared by its parts (fleet/supervisor.ts and the files it coordinates): the
 * options of `etcd-fleet up`, the group's names and ports, one simulated instance, and the status reply.
 */
import type { ChildProcess } from 'child_process';
import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../lib/contract';
import type { FleetBackupOptions } from './backup';
import type { FleetTlsFiles } from './tls';

export interface FleetOptions {
  readonly dir: string;
  readonly size: number;
  readonly strategy: string;
  readonly etcdBin: string;
  /** The etcd release the agent config names (its version-skew check); default: what `etcdBin --version` says. */
  readonly etcdVersion?: string;
  /** Repo root: where build/ lives. */
  readonly root: string;
  /** Seconds a launch may stay in Pending:Wait before the hook's default result (ABANDON) applies. */
  readonly launchTimeoutSeconds: number;
  /** Seconds a termination may stay in Terminating:Wait before the hook's default result (CONTINUE) applies. */
  readonly terminateTimeoutSeconds: number;
  /** Interval of the scheduled reconcile (0 = off). */
  readonly reconcileIntervalSeconds: number;
  readonly maxSize: number;
  /** Load the lifecycle Lambda bundle and send it terminate events and reconciles (default true). */
  readonly lifecycleHandler?: boolean;
  /** The first N instances launched never boot (die before etcd starts: FAILURE-SCENARIOS 2). */
  readonly breakBoot?: number;
  /** Backups and restore (fleet/backup.ts): restore policy, backup schedule. */
  readonly backup?: FleetBackupOptions;
  /** TLS for peers and clients with client-certificate auth, CA in the stand-in's Secrets Manager (`up --tls`). */
  readonly tls?: boolean;
  /** etcd's backend quota and the fleet's short maintenance settings for it (`up --quota-mb`); absent: the defaults. */
  readonly quotaMiB?: number;
  /** The lifecycle Lambda moves leadership away before a planned removal (default true; `up --no-leader-handoff`: false). */
  readonly leaderHandoff?: boolean;
  /** Seconds between maintenance events to the Lambda (0 = none); default: the reconcile interval. */
  readonly maintenanceIntervalSeconds?: number;
  /** Maintenance events are sent from the start (`up --no-maintenance`: false; `etcd-fleet maintenance on`). */
  readonly maintenance?: boolean;
}

/** The construct's hook names (the contract's): the agent and the Lambda bundle expect them. */
export const LAUNCH_HOOK = LAUNCH_HOOK_NAME;
export const TERMINATE_HOOK = TERMINATE_HOOK_NAME;
export const GROUP_NAME = 'etcd-fleet';
export const REGION = 'local-1';
export const IMDS_PORT = 8169;
export const CLIENT_PORT = 2379;
/** The fleet's CloudFormation stack and its group's logical id: the agents' SignalResource target (rolloutSignal). */
export const STACK_NAME = 'etcd-fleet';
export const GROUP_LOGICAL_ID = 'EtcdFleetGroup';
export const PEER_PORT = 2380;

/** One structured line of DIR/supervisor.log. */
export type FleetLog = (message: string, fields?: Record<string, unknown>) => void;

/** The lifecycle Lambda bundle's handler. */
export type LifecycleHandler = (event: unknown) => Promise<unknown>;

/**
 * What an instance is launched from (the group's launch template): the etcd binary it runs and the release
 * its agent config claims. `etcd-fleet roll` makes a new version; every launch takes the current one.
 */
export interface LaunchTemplate {
  /** 1 at `up`, +1 per roll (a rollback restores the previous one, number and all). */
  readonly version: number;
  readonly etcdBin: string;
  /** The etcd release the agent config names; undefined: what `etcdBin --version` says. */
  readonly etcdVersion?: string;
}

/** One simulated instance of the group: its address, directories and processes. */
export interface Instance {
  readonly id: string;
  readonly ip: string;
  readonly dir: string;
  readonly dataDir: string;
  /** The launch template it was launched from. */
  readonly template: LaunchTemplate;
  /** Why its join agent failed, from the agent's log (a refusal's reason), once it did. */
  joinFailure?: string;
  etcd?: ChildProcess;
  agent?: ChildProcess;
  /** The incremental backup log's shipper (`agent.js ship`), when the log is on. */
  shipper?: ChildProcess;
  /** booting: agent or etcd starting; running: etcd up; dead: etcd gone and not restarted; gone: terminated. */
  phase: 'booting' | 'running' | 'dead' | 'terminating' | 'retained' | 'gone';
  frozen: boolean;
  stopping: boolean;
  restarts: number[];
  launchedAt: number;
  /** Last launch-hook heartbeat (or the launch): the hook's timeout counts from here. */
  lastBeat: number;
  bootFailures: number;
  /** Incremented by every boot: a boot superseded by a reboot stops acting. */
  bootSeq?: number;
}

export interface InstanceStatus {
  id: string;
  ip: string;
  lifecycleState: string;
  memberId: string;
  role: 'voter' | 'learner' | 'unstarted' | 'none';
  healthy: boolean;
  leader: boolean;
  /** The pid of its running etcd process, if any. */
  etcdPid?: number;
  /** The launch template version it was launched from. */
  launchTemplate?: number;
  // The storage fields: in the answer of `etcd-fleet status` (not of the waiting commands, which poll often).
  /** The member's backend size (Maintenance.Status dbSize, bytes); null when it did not answer. */
  dbSize?: number | null;
  /** The part of it in use (dbSizeInUse, bytes); null when it did not answer. */
  dbSizeInUse?: number | null;
  /** The member's active alarms (NOSPACE, CORRUPT); null when no endpoint answered the alarm list. */
  alarms?: string[] | null;
}

export interface FleetStatus {
  clusterId: string;
  desired: number;
  converged: boolean;
  reason: string;
  endpoints: string[];
  instances: InstanceStatus[];
  /** The instance whose shipper writes the incremental backup log (`etcd-fleet status`, when one campaigns). */
  shipper?: string;
  /** Present when the fleet runs with TLS: a client identity signed by the fleet's CA. */
  tls?: FleetTlsFiles;
}
