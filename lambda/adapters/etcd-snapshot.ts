/*
 * A snapshot of one member as a byte stream (etcd's Maintenance.Snapshot), with the revision it is
 * guaranteed to contain. Thin; separate from etcd.ts because the stream outlives the short RPC deadline
 * that every other etcd call has.
 *
 * The revision: a linearizable read through the member first (ReadIndex: the member has then applied
 * everything the cluster committed before the read), then its status. Every write acknowledged before the
 * backup started has a revision <= that status revision, and the snapshot, taken after, contains at least
 * that revision. So "restored up to revision R" is exact, not an estimate.
 */
import { PassThrough, Readable } from 'stream';
import { NoopPolicy } from 'cockatiel';
import { Etcd3, IOptions } from 'etcd3';
import { memberIdHex } from './etcd';
import { keyspaceSha256 } from './keyspace-digest';

export interface SnapshotStream {
  readonly stream: Readable;
  readonly revision: number;
  /** Hex cluster id. */
  readonly clusterId: string;
  readonly endpoint: string;
  /**
   * sha256 of the keyspace at `revision` (keyspaceSha256), read from the same member before the snapshot
   * started: what a restore drill of this snapshot compares (lambda/core/drill.ts).
   */
  readonly contentSha256: string;
  /** Closes the client (after the stream ended or failed). */
  close(): void;
}

export async function openSnapshot(
  endpoint: string,
  opts: { credentials?: IOptions['credentials']; timeoutMs?: number } = {},
): Promise<SnapshotStream> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const client = new Etcd3({
    hosts: [endpoint],
    credentials: opts.credentials,
    dialTimeout: 3000,
    faultHandling: { host: () => new NoopPolicy(), global: new NoopPolicy() },
  });
  try {
    const short = () => ({ deadline: Date.now() + 3000 });
    await client.get('cdk-elastic-etcd/backup-probe').options(short()).exec();
    const status = await client.maintenance.status(short());
    const revision = Number(status.header.revision);
    const clusterId = memberIdHex(status.header.cluster_id);
    // The member has applied `revision` (the read above went through ReadIndex), and no compaction can pass
    // it before the snapshot starts: the snapshot holds that revision's keyspace in its history.
    const contentSha256 = await keyspaceSha256(client, revision);
    const out = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    const rpc = await client.maintenance.snapshot({ deadline: Date.now() + timeoutMs });
    rpc.on('data', (item) => {
      if (item.blob && item.blob.length > 0 && !out.write(item.blob)) {
        // Back-pressure: S3 is slower than the member; hold the gRPC stream until the buffer drains.
        const r = rpc as unknown as Readable;
        r.pause();
        out.once('drain', () => r.resume());
      }
    });
    rpc.on('end', () => out.end());
    rpc.on('error', (err) => out.destroy(err));
    return { stream: out, revision, clusterId, contentSha256, endpoint, close: () => client.close() };
  } catch (err) {
    client.close();
    throw err;
  }
}
