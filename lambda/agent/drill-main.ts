/*
 * The wiring of `agent.js drill` (./drill-run.ts): the bucket's stores, the restore tool, the configured
 * image's etcd, the work dir on the data volume, the drill lock and the live digest through this member.
 * Exit 0 after a run whatever the drill found (its result says it), or when another member holds the lock;
 * 2 when the config has no backups or no etcd to drill with; 1 when the run could not be made.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Etcd3 } from 'etcd3';
import { NoopPolicy } from 'cockatiel';
import { InstanceMetadata } from '../adapters/aws';
import { ChunkStore } from '../adapters/chunk-store';
import { EtcdAdapter, LockNotTakenError } from '../adapters/etcd';
import { keyspaceSha256 } from '../adapters/keyspace-digest';
import { createS3Client, SnapshotStore } from '../adapters/s3';
import { retryWithBackoff } from '../adapters/backoff';
import type { AgentConfig } from './config';
import { runDrill } from './drill-run';
import { commandRunner } from './restore';
import { credentialsOnDisk } from './tls';

/** The drill lock's key: one member drills at a time. */
export const DRILL_LOCK_KEY = 'cdk-elastic-etcd/drill-lock';
/** The drill's work dir, on the data volume beside etcd's member dir (a snapshot may be GBs). */
export const DRILL_WORK_DIR = '.drill-work';

type Log = (message: string, fields?: Record<string, unknown>) => void;

/** This instance's identity from the metadata service, tried 5 times (0.5 s doubling to 4 s): ship and drill. */
export function identityWithRetry(metadata: InstanceMetadata, log: Log) {
  return retryWithBackoff(() => metadata.identity(), {
    what: 'instance identity',
    timing: { firstMs: 500, capMs: 4000 },
    attempts: 5,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    log,
  });
}

export async function drillMain(cfg: AgentConfig, log: Log): Promise<number> {
  if (!cfg.backupBucketFile || !cfg.etcdCommand || cfg.etcdCommand.length === 0) {
    log(
      'drill: the config has no backups or no etcdCommand (backupBucketFile, etcdCommand): nothing to drill with',
    );
    return 2;
  }
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  try {
    const bucket = fs.readFileSync(cfg.backupBucketFile, 'utf8').trim();
    const id = await identityWithRetry(new InstanceMetadata(), log);
    const s3 = createS3Client(process.env.AWS_REGION || id.region);
    const prefix = cfg.backupPrefix ?? '';
    const endpoint = `${cfg.scheme}://${id.privateIp}:${cfg.clientPort}`;
    const credentials = cfg.tls ? credentialsOnDisk(cfg.tls) : undefined;
    const etcd = new EtcdAdapter({ callTimeoutMs: 5000, probeTimeoutMs: 1000, credentials });
    const store = new SnapshotStore(s3, bucket, prefix);
    const chunks = new ChunkStore(s3, bucket, prefix);
    let held = false;
    const result = await runDrill({
      store,
      chunks: { list: (c) => chunks.list(c), get: (c) => chunks.get(c) },
      runRestore: commandRunner(cfg.restoreCommand ?? ['etcdutl']),
      etcdCommand: cfg.etcdCommand,
      workDir: path.join(cfg.dataDir, DRILL_WORK_DIR),
      liveDigest: async (revision) => {
        const client = new Etcd3({
          hosts: [endpoint],
          credentials,
          dialTimeout: 3000,
          faultHandling: { host: () => new NoopPolicy(), global: new NoopPolicy() },
        });
        try {
          return { sha256: await keyspaceSha256(client, revision) };
        } catch (err) {
          return {
            why: `the live cluster's keyspace at revision ${revision} could not be read: ${(err as Error).message}`,
          };
        } finally {
          client.close();
        }
      },
      // A short try: a member that finds the lock held leaves the drill to the holder.
      withLock: (fn) =>
        etcd.withLock([endpoint], DRILL_LOCK_KEY, 3000, () => ((held = true), fn()), sleep, 60),
      now: () => Date.now(),
      log,
    }).catch((err: Error) => {
      if (!held && err instanceof LockNotTakenError) {
        log('restore drill', {
          decision: 'no-drill',
          reason: `the drill lock is held (another member drills) or etcd did not answer: ${err.message}`,
        });
        return undefined;
      }
      throw err;
    });
    log('drill done', { outcome: result ? (result.ok ? 'passed' : 'failed') : 'nothing drilled' });
    return 0;
  } catch (err) {
    log(`drill failed: ${(err as Error).message}`);
    return 1;
  }
}
