/*
 * Join agent entry: `agent.js join|promote|handoff|ship|drill --config FILE`. Thin: wiring and exit codes only.
 *   exit 0  settings written (join) / promoted and launch action completed (promote) / handoff done or
 *           not needed or impossible (handoff: it never blocks a stop; its line says which) / the shipper
 *           stopped on SIGTERM (ship: long-running, see ./ship.ts) / a drill run made, whatever it found, or
 *           left to the member holding the drill lock (drill: see ./drill-run.ts)
 *   exit 2  missing or malformed config or arguments (the message names the field)
 *   exit 1  anything else, after bounded retries, with one clear line on stderr
 */
import * as fs from 'fs';
import { createAwsClients, FleetAdapter, InstanceMetadata } from '../adapters/aws';
import { EtcdAdapter, JOIN_LOCK_KEY } from '../adapters/etcd';
import { EtcdMaintenance } from '../adapters/etcd-maintenance';
import { AgentConfig, ConfigError, parseConfig } from './config';
import { createS3Client, SnapshotStore } from '../adapters/s3';
import { ChunkStore } from '../adapters/chunk-store';
import { commandRunner } from './restore';
import { Shipper } from './ship';
import { drillMain, identityWithRetry } from './drill-main';
import { AgentDeps } from './deps';
import { runJoin, writeSettings } from './join';
import { runPromote } from './promote';
import { runHandoff } from './handoff';
import { credentialsOnDisk, EtcdCredentials, MemberTls, memberTlsFromAws } from './tls';
import { RolloutSignaller } from '../adapters/cloudformation';

const USAGE = 'usage: agent.js join|promote|handoff|ship|drill --config FILE';
const COMMANDS = ['join', 'promote', 'handoff', 'ship', 'drill'];
/** The handoff runs while the instance stops: it gets this long, whatever the config's deadline. */
const HANDOFF_DEADLINE_SECONDS = 15;

function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), message, ...fields }) + '\n');
}

export function buildDeps(
  region: string | undefined,
  metadata: InstanceMetadata,
  credentials?: EtcdCredentials,
  rolloutSignal?: AgentConfig['rolloutSignal'],
): AgentDeps {
  // The 500 ms probe: see EtcdAdapterOptions.probeTimeoutMs (a cold start waited 2 s per silent peer).
  const etcd = new EtcdAdapter({ callTimeoutMs: 2000, probeTimeoutMs: 500, credentials });
  const maintenance = new EtcdMaintenance(etcd, { callTimeoutMs: 2000 });
  let fleet: FleetAdapter | undefined;
  const fleetFor = () => {
    if (!fleet) throw new Error('AWS clients used before the region was known');
    return fleet;
  };
  const init = (r: string) => {
    fleet ??= new FleetAdapter(createAwsClients(r));
  };
  if (region) init(region);
  let signaller: RolloutSignaller | undefined;
  return {
    identity: async () => {
      const id = await metadata.identity();
      init(region ?? id.region);
      return id;
    },
    groupOf: (id) => fleetFor().groupOf(id),
    describeGroup: (g) => fleetFor().describeGroup(g),
    memberList: (e) => etcd.memberList(e),
    healthOf: (m) => etcd.healthOf(m),
    versionsOf: async (m) =>
      Object.fromEntries(Object.entries(await maintenance.statusOf(m)).map(([id, s]) => [id, s?.version])),
    addLearner: (e, p) => etcd.addLearner(e, p),
    remove: (e, id) => etcd.remove(e, id),
    promote: (e, id) => etcd.promote(e, id),
    withLock: (e, fn) => etcd.withLock(e, JOIN_LOCK_KEY, 60_000, fn),
    completeLifecycleAction: (g, h, i, r) => fleetFor().completeLifecycleAction(g, h, i, r),
    heartbeat: (g, h, i) => fleetFor().heartbeat(g, h, i),
    ...(rolloutSignal && {
      signalRollout: async (instanceId: string, status: 'SUCCESS' | 'FAILURE') => {
        signaller ??= new RolloutSignaller(region ?? (await metadata.identity()).region, rolloutSignal);
        await signaller.signal(instanceId, status);
      },
    }),
    log,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => Date.now(),
  };
}

/** Backups configured (backupBucketFile): the join runs behind the restore gate, with S3 read access. */
function withRestoreDeps(cfg: AgentConfig, deps: AgentDeps, metadata: InstanceMetadata): AgentDeps {
  const bucket = cfg.backupBucketFile && fs.readFileSync(cfg.backupBucketFile, 'utf8').trim();
  if (!bucket) return deps;
  let store: SnapshotStore | undefined;
  let chunks: ChunkStore | undefined;
  let client: ReturnType<typeof createS3Client> | undefined;
  const clientOf = async () =>
    (client ??= createS3Client(process.env.AWS_REGION || (await metadata.identity()).region));
  const storeOf = async () => {
    store ??= new SnapshotStore(await clientOf(), bucket, cfg.backupPrefix ?? '');
    return store;
  };
  const chunksOf = async () => {
    chunks ??= new ChunkStore(await clientOf(), bucket, cfg.backupPrefix ?? '');
    return chunks;
  };
  return {
    ...deps,
    restore: {
      latestRestore: async () => (await storeOf()).latestRestore(),
      newestSnapshot: async () => (await storeOf()).newestSnapshotKey(),
      download: async (snapshot, file) => (await storeOf()).download(snapshot, file),
      runRestore: commandRunner(cfg.restoreCommand ?? ['etcdutl']),
      log,
      chunks: {
        listChunks: async (clusterId) => (await chunksOf()).list(clusterId),
        getChunk: async (chunk) => (await chunksOf()).get(chunk),
      },
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let configPath: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--config') configPath = rest[++i];
    else if (rest[i].startsWith('--config=')) configPath = rest[i].slice('--config='.length);
    else {
      log(`unknown argument ${rest[i]}; ${USAGE}`);
      return 2;
    }
  }
  if (!COMMANDS.includes(command)) {
    log(`unknown command ${JSON.stringify(command ?? '')}; ${USAGE}`);
    return 2;
  }
  if (!configPath) {
    log(`config: --config FILE is required; ${USAGE}`);
    return 2;
  }
  let cfg: AgentConfig;
  try {
    cfg = parseConfig(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    log(
      err instanceof ConfigError
        ? err.message
        : `config: cannot read ${configPath}: ${(err as Error).message}`,
    );
    return 2;
  }
  if (command === 'handoff') return handoff(cfg);
  if (command === 'ship') return ship(cfg);
  if (command === 'drill') return drillMain(cfg, log);
  // Hard stop: whatever happens inside, the agent never runs past its deadline (plus a grace for cleanup).
  const hardStop = setTimeout(
    () => {
      log(`${command}: overall deadline of ${cfg.deadlineSeconds} s exceeded, exiting`);
      process.exit(1);
    },
    (cfg.deadlineSeconds + 15) * 1000,
  );
  hardStop.unref();
  const metadata = new InstanceMetadata();
  const started = Date.now();
  let tls: MemberTls | undefined;
  if (cfg.tls) {
    try {
      tls = await memberTlsFromAws(cfg.tls, metadata, log);
      log('member certificate', {
        issued: tls.issued,
        reason: tls.reason,
        notAfter: tls.notAfter,
        ms: Date.now() - started,
      });
    } catch (err) {
      log(`${command} failed: ${(err as Error).message}`);
      clearTimeout(hardStop);
      return 1;
    }
  }
  const deps = withRestoreDeps(
    cfg,
    buildDeps(process.env.AWS_REGION, metadata, tls?.credentials, cfg.rolloutSignal),
    metadata,
  );
  try {
    if (command === 'join') {
      const result = await runJoin(cfg, deps);
      writeSettings(cfg, tls ? { ...result.settings, tls: tls.etcdFiles } : result.settings);
      log('settings written', {
        step: result.step.kind,
        reason: result.step.reason,
        file: cfg.envFile,
        state: result.settings.initialClusterState,
        token: result.settings.initialClusterToken,
        ms: Date.now() - started,
        steps: result.steps,
      });
    } else {
      const r = await runPromote(cfg, deps);
      log('member is a healthy voter', { memberId: r.memberId, ms: Date.now() - started });
    }
    return 0;
  } catch (err) {
    log(`${command} failed: ${(err as Error).message}`);
    return 1;
  } finally {
    clearTimeout(hardStop);
  }
}

/** `handoff`: move leadership away before this instance's etcd stops; exit 0 whatever happened (logged). */
async function handoff(cfg: AgentConfig): Promise<number> {
  const hardStop = setTimeout(() => {
    log(`handoff: deadline of ${HANDOFF_DEADLINE_SECONDS} s exceeded, exiting: the stop goes ahead`);
    process.exit(0);
  }, HANDOFF_DEADLINE_SECONDS * 1000);
  hardStop.unref();
  try {
    const credentials = cfg.tls ? credentialsOnDisk(cfg.tls) : undefined;
    const etcd = new EtcdAdapter({ callTimeoutMs: 2000, probeTimeoutMs: 500, credentials });
    const maintenance = new EtcdMaintenance(etcd, { callTimeoutMs: 2000 });
    const metadata = new InstanceMetadata();
    const result = await runHandoff(cfg, {
      identity: () => metadata.identity(),
      memberList: (e) => etcd.memberList(e),
      healthOf: (m) => etcd.healthOf(m),
      statusOf: (m) => maintenance.statusOf(m),
      moveLeader: (leader, to) => maintenance.moveLeader(leader, to),
      log,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    log('handoff done', { outcome: result.outcome });
  } catch (err) {
    log('leader handoff', {
      for: 'stop',
      decision: 'error',
      reason: `${(err as Error).message}: the stop goes ahead without a handoff`,
    });
  } finally {
    clearTimeout(hardStop);
  }
  return 0;
}

/**
 * `ship`: the incremental backup log's shipper (./ship.ts), until SIGTERM. Exit 2 when the config has no
 * incremental log; 1 when it cannot start (no identity, no bucket file); 0 after a clean stop.
 */
async function ship(cfg: AgentConfig): Promise<number> {
  if (cfg.incrementalBackupSeconds === undefined || !cfg.backupBucketFile) {
    log('ship: the config has no incremental backup log (incrementalBackupSeconds and backupBucketFile)');
    return 2;
  }
  let shipper: Shipper;
  try {
    const bucket = fs.readFileSync(cfg.backupBucketFile, 'utf8').trim();
    const id = await identityWithRetry(new InstanceMetadata(), log);
    const s3 = createS3Client(process.env.AWS_REGION || id.region);
    const prefix = cfg.backupPrefix ?? '';
    shipper = new Shipper({
      endpoint: `${cfg.scheme}://${id.privateIp}:${cfg.clientPort}`,
      instanceId: id.instanceId,
      intervalSeconds: cfg.incrementalBackupSeconds,
      credentials: cfg.tls ? credentialsOnDisk(cfg.tls) : undefined,
      chunks: new ChunkStore(s3, bucket, prefix),
      snapshots: new SnapshotStore(s3, bucket, prefix),
      log,
    });
  } catch (err) {
    log(`ship failed to start: ${(err as Error).message}`);
    return 1;
  }
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log('ship: stop requested', { signal: sig });
      // Bounded: the flush and the resignation get 20 s, then the process ends regardless.
      setTimeout(() => process.exit(0), 20_000).unref();
      void shipper.stop();
    });
  }
  await shipper.run();
  return 0;
}

if (require.main === module) {
  // A background rejection (e.g. a lock lease's keep-alive after its client closed) must not kill a
  // join half-way; it is logged on one line and the run goes on under its own deadline.
  process.on('unhandledRejection', (err) =>
    log(`background error: ${(err as Error)?.message ?? String(err)}`),
  );
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      log(`unexpected: ${(err as Error).stack ?? err}`);
      process.exit(1);
    },
  );
}
