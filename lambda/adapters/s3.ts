/*
 * Object store adapter (S3): snapshots and restore records. Thin: requests and streams only; every decision
 * is in lambda/core/restore.ts. Works against real S3 and, in tests and the local fleet, against s3rver
 * behind fleet/s3.ts (reached through AWS_ENDPOINT_URL_S3 with path-style addressing).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { PassThrough, Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  parseRestoreRecordKey,
  parseSnapshotKey,
  RestoreRecord,
  restoreRecordKey,
  SnapshotInfo,
  snapshotKey,
} from '../core/restore';
import { DrillResult, drillResultKey, parseDrillKey } from '../core/drill';

export function createS3Client(region: string): S3Client {
  // Path-style when an endpoint override is set (local S3 servers); virtual-hosted on AWS.
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL);
  return new S3Client({
    region,
    maxAttempts: 4,
    forcePathStyle: local,
    // The default CRC32 trailers (aws-chunked) are an S3 feature local servers lack; the sha256 over the
    // snapshot is checked end to end by the restore anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export class SnapshotIntegrityError extends Error {}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

export interface StoredSnapshot extends SnapshotInfo {
  readonly sha256: string;
  readonly size: number;
}

export class SnapshotStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly prefix: string = '',
  ) {}

  /**
   * Streams a snapshot to S3 as a multipart upload (lib-storage), computing its sha256 on the way. The
   * snapshot object carries revision, cluster id and time in its key and metadata. The sha256 is known only
   * once the stream ended, after the object's metadata was sent, so it goes into a small sidecar object
   * `<key>.sha256` (in its body and metadata), written after the upload completed. A snapshot without its
   * sidecar (an interrupted backup) is never a restore candidate.
   */
  async upload(
    source: Readable,
    meta: { time: number; revision: number; clusterId: string; contentSha256?: string },
  ): Promise<StoredSnapshot> {
    const key = snapshotKey(this.prefix, meta.time, meta.revision, meta.clusterId);
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    const body = new PassThrough();
    const piping = pipeline(source, tap, body);
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/octet-stream',
        Metadata: {
          revision: String(meta.revision),
          'cluster-id': meta.clusterId,
          time: new Date(meta.time).toISOString(),
        },
      },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
      leavePartsOnError: false,
    });
    await Promise.all([piping, upload.done()]);
    const sha256 = hash.digest('hex');
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${key}.sha256`,
        Body: JSON.stringify({
          sha256,
          size,
          revision: meta.revision,
          clusterId: meta.clusterId,
          time: meta.time,
          ...(meta.contentSha256 !== undefined && { contentSha256: meta.contentSha256 }),
        }),
        ContentType: 'application/json',
        Metadata: { sha256, revision: String(meta.revision), 'cluster-id': meta.clusterId },
      }),
    );
    return {
      key,
      time: meta.time,
      revision: meta.revision,
      clusterId: meta.clusterId,
      sha256,
      size,
      ...(meta.contentSha256 !== undefined && { contentSha256: meta.contentSha256 }),
    };
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      if (!r.IsTruncated || !r.NextContinuationToken) break;
      token = r.NextContinuationToken;
    }
    return keys;
  }

  /** Every complete snapshot (one with its sha256 sidecar), with the sha256 from the sidecar. */
  async list(): Promise<SnapshotInfo[]> {
    const keys = await this.listKeys(`${this.prefix}snapshots/`);
    const set = new Set(keys);
    const out: SnapshotInfo[] = [];
    for (const key of keys) {
      const parsed = parseSnapshotKey(key);
      if (!parsed) continue;
      if (!set.has(`${key}.sha256`)) {
        out.push(parsed);
        continue;
      }
      const side = await this.getJson<{ sha256: string; size: number; contentSha256?: string }>(
        `${key}.sha256`,
      );
      out.push({
        ...parsed,
        sha256: side?.sha256,
        size: side?.size,
        ...(typeof side?.contentSha256 === 'string' && { contentSha256: side.contentSha256 }),
      });
    }
    return out;
  }

  /**
   * Key of the newest complete snapshot (one with its sha256 sidecar), from one listing and no reads: what
   * the agent's bootstrap guard needs to know (an earlier cluster of this group existed), at boot.
   */
  async newestSnapshotKey(): Promise<string | undefined> {
    return (await this.completeSnapshots()).sort((a, b) => b.time - a.time || b.revision - a.revision)[0]
      ?.key;
  }

  /**
   * Every complete snapshot (one with its sha256 sidecar) as its key says (time, revision, cluster id), from
   * listings only: what the incremental log's shipper needs to find the snapshot its chain extends.
   */
  async completeSnapshots(): Promise<Pick<SnapshotInfo, 'key' | 'time' | 'revision' | 'clusterId'>[]> {
    const keys = await this.listKeys(`${this.prefix}snapshots/`);
    const set = new Set(keys);
    return keys
      .map((k) => parseSnapshotKey(k))
      .filter((p): p is NonNullable<typeof p> => p !== undefined && set.has(`${p.key}.sha256`));
  }

  /**
   * Downloads a snapshot to `file`, verifying its sha256 while streaming. A mismatch deletes the file and
   * throws SnapshotIntegrityError naming the key and both digests.
   */
  async download(snapshot: SnapshotInfo, file: string): Promise<void> {
    if (!snapshot.sha256) throw new SnapshotIntegrityError(`snapshot ${snapshot.key} has no sha256: refused`);
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: snapshot.key }));
    const hash = createHash('sha256');
    const body = r.Body as Readable;
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      }),
      fs.createWriteStream(file),
    );
    const got = hash.digest('hex');
    if (got !== snapshot.sha256) {
      fs.rmSync(file, { force: true });
      throw new SnapshotIntegrityError(
        `snapshot ${snapshot.key} is corrupt: sha256 ${got} does not match the recorded ${snapshot.sha256}: refused`,
      );
    }
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await r.Body!.transformToString()) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.s3.send(this.jsonPut(key, value));
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /**
   * Creates `key` only if no object has that key (S3 conditional write, If-None-Match: *). Returns false when
   * another writer got there first (412 PreconditionFailed).
   */
  async putIfAbsent(key: string, value: unknown): Promise<boolean> {
    try {
      await this.s3.send(this.jsonPut(key, value, { IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      if (isPreconditionFailed(err)) return false;
      throw err;
    }
  }

  private jsonPut(key: string, value: unknown, extra: { IfNoneMatch?: string } = {}): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: 'application/json',
      ...extra,
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** The newest restore record, or undefined when there has never been a restore. */
  async latestRestore(): Promise<RestoreRecord | undefined> {
    const gens = (await this.listKeys(`${this.prefix}restores/`))
      .map((k) => parseRestoreRecordKey(k))
      .filter((g): g is number => g !== undefined)
      .sort((a, b) => b - a);
    if (gens.length === 0) return undefined;
    return this.getJson<RestoreRecord>(restoreRecordKey(this.prefix, gens[0]));
  }

  /** Writes the record of its generation if that generation is still free (the fence). */
  async claimRestore(record: RestoreRecord): Promise<boolean> {
    return this.putIfAbsent(restoreRecordKey(this.prefix, record.generation), record);
  }

  /** Keeps a restore drill's result (lambda/core/drill.ts drillResultKey): the whole result as JSON. */
  async putDrill(result: DrillResult): Promise<string> {
    const key = drillResultKey(this.prefix, result);
    await this.putJson(key, result);
    return key;
  }

  /** Every drill result, as their keys say (snapshot, kind, time, outcome), from listings only. */
  async listDrills(): Promise<DrillResult[]> {
    return (await this.listKeys(`${this.prefix}drills/`))
      .map((k) => parseDrillKey(this.prefix, k))
      .filter((d): d is DrillResult => d !== undefined);
  }
}
