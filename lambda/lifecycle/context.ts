/*
 * Everything a handler function needs, built per invocation by a factory that tests replace
 * (setContextFactory in index.ts). SDK clients and the etcd adapter are created here, never at module scope.
 */
import { AwsClients, createAwsClients, FleetAdapter } from '../adapters/aws';
import { EtcdAdapter } from '../adapters/etcd';
import { EtcdMaintenance } from '../adapters/etcd-maintenance';
import { openSnapshot, SnapshotStream } from '../adapters/etcd-snapshot';
import { ChunkStore } from '../adapters/chunk-store';
import { createS3Client, SnapshotStore } from '../adapters/s3';
import { LifecycleConfig, readConfig } from './config';
import { Logger } from './log';
import type { EtcdCredentials } from './tls';
import { EtcdLeaderRecord, EtcdUnstartedStore, LeaderRecord, UnstartedStore } from './unstarted';

/** The AWS calls the handler makes (FleetAdapter implements them). */
export type FleetPort = Pick<
  FleetAdapter,
  | 'describeGroup'
  | 'privateIps'
  | 'completeLifecycleAction'
  | 'heartbeat'
  | 'rebootInstances'
  | 'terminateInstances'
>;

/** The etcd maintenance calls the handler makes (EtcdMaintenance implements them). */
export type MaintenancePort = Pick<
  EtcdMaintenance,
  'statusOf' | 'alarms' | 'compact' | 'defragment' | 'moveLeader' | 'disarmNospace'
>;

/** The etcd calls the handler makes (EtcdAdapter implements them). */
export type EtcdPort = Pick<EtcdAdapter, 'memberList' | 'healthOf' | 'remove' | 'withLock' | 'isLocked'>;

export interface LifecycleContext {
  readonly config: LifecycleConfig;
  readonly fleet: FleetPort;
  readonly etcd: EtcdPort;
  /** etcd's maintenance calls: status, alarms, compaction, defragmentation, leadership transfer. */
  readonly maintenance: MaintenancePort;
  /** Persistent first-seen times of unstarted members (kept in etcd itself: Lambda is stateless). */
  readonly unstarted: UnstartedStore;
  /** The leader the previous reconcile saw (kept in etcd), for the LeaderChanges gauge. */
  readonly leaderRecord: LeaderRecord;
  readonly log: Logger;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long to wait for the join lock. */
  readonly lockTimeoutMs: number;
  /** Interval of lifecycle heartbeats while a terminate action is being worked on. */
  readonly heartbeatIntervalMs: number;
  /** The client identity towards etcd (TLS clusters); the reconcile also checks certificate expiry with it. */
  readonly tls?: EtcdCredentials;
  /** Upper bound of observe → plan → act rounds of one invocation. */
  readonly maxRounds: number;
  /**
   * First back-off after a failed removal (doubles, capped at 16x). etcd rejects a removal with "unhealthy
   * cluster" until the remaining members have been connected for 5 s (its strict reconfig check), e.g.
   * right after a restart, a join or another removal: that is transient and worth waiting for. 250 ms
   * steps find the end of that window within a quarter second; 8 rounds wait up to 15.75 s in all.
   */
  readonly retryDelayMs: number;
  /**
   * Move leadership away from a member before its planned removal when it leads (lifecycle/handoff.ts).
   * On in production; the bench switches it off to measure the removal without it. @default true
   */
  readonly leaderHandoff?: boolean;
  /** Snapshots and restore records in S3; undefined when backups are not configured (no BACKUP_BUCKET). */
  readonly store?: SnapshotStore;
  /** The incremental backup log's chunks (the same bucket and prefix), when backups are configured. */
  readonly chunks?: ChunkStore;
  /** A snapshot stream of the member at this client URL. */
  readonly openSnapshot: (endpoint: string) => Promise<SnapshotStream>;
}

export type ContextFactory = (
  env: Readonly<Record<string, string | undefined>>,
  /** etcd: false when the event will be ignored (no etcd call, so no client identity is needed). */
  opts?: { readonly etcd?: boolean },
) => LifecycleContext | Promise<LifecycleContext>;

/** The production context: config from env (throws ConfigError), real SDK clients, a real etcd adapter. */
export function createContext(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Partial<Omit<LifecycleContext, 'config'>> & {
    awsClients?: AwsClients;
    /** Client certificate for etcd (TLS clusters), from lifecycle/tls.ts. */
    etcdCredentials?: EtcdCredentials;
  } = {},
): LifecycleContext {
  const config = readConfig(env);
  const { awsClients, etcdCredentials, ...rest } = overrides;
  const etcdAdapter = new EtcdAdapter({ callTimeoutMs: 2000, credentials: etcdCredentials });
  const s3 = config.backup ? createS3Client(config.region) : undefined;
  return {
    config,
    fleet: new FleetAdapter(awsClients ?? createAwsClients(config.region)),
    etcd: etcdAdapter,
    maintenance: new EtcdMaintenance(etcdAdapter),
    unstarted: new EtcdUnstartedStore(etcdAdapter),
    leaderRecord: new EtcdLeaderRecord(etcdAdapter),
    tls: etcdCredentials,
    log: new Logger({ groupName: config.groupName }),
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    lockTimeoutMs: 30_000,
    heartbeatIntervalMs: 30_000,
    maxRounds: 8,
    retryDelayMs: 250,
    leaderHandoff: true,
    store: s3 && new SnapshotStore(s3, config.backup!.bucket, config.backup!.prefix),
    chunks: s3 && new ChunkStore(s3, config.backup!.bucket, config.backup!.prefix),
    openSnapshot: (endpoint) => openSnapshot(endpoint, { credentials: etcdCredentials }),
    ...rest,
  };
}
