/*
 * The incremental backup log in the bucket (issue 16): chunks of consecutive revisions, keyed as
 * lambda/core/incremental.ts says. Thin: requests only; the format, the continuity and the replay plan are
 * the core's. Works against real S3 and against the local S3 of the fleet and the tests (createS3Client).
 */
import { createHash } from 'crypto';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  ChunkInfo,
  chunkKey,
  chunkPrefix,
  ChunkRevision,
  decodeChunk,
  encodeChunk,
  parseChunkKey,
} from '../core/incremental';

/** A chunk whose bytes do not match the sha256 in its key, or whose body does not match its key. */
export class ChunkIntegrityError extends Error {
  constructor(
    readonly chunk: ChunkInfo,
    message: string,
  ) {
    super(message);
  }
}

export class ChunkStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly prefix: string = '',
  ) {}

  /**
   * Uploads the revisions as one chunk (their receipt time of the newest one in the key) and returns it. The
   * key holds the body's sha256, so an upload retried with the same revisions writes the same object.
   */
  async put(clusterId: string, revisions: readonly ChunkRevision[]): Promise<ChunkInfo> {
    const body = encodeChunk(clusterId, revisions);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const info = {
      clusterId,
      first: revisions[0].revision,
      last: revisions[revisions.length - 1].revision,
      time: revisions[revisions.length - 1].time,
      sha256,
    };
    const key = chunkKey(this.prefix, info);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/x-ndjson',
        Metadata: { sha256, first: String(info.first), last: String(info.last), 'cluster-id': clusterId },
      }),
    );
    return { key, ...info };
  }

  /** Every chunk of one cluster (or of every cluster without `clusterId`), from listings only. */
  async list(clusterId?: string): Promise<ChunkInfo[]> {
    const prefix = clusterId ? chunkPrefix(this.prefix, clusterId) : `${this.prefix}incremental/`;
    const out: ChunkInfo[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const r = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) {
        const c = o.Key ? parseChunkKey(o.Key) : undefined;
        if (c) out.push(c);
      }
      if (!r.IsTruncated || !r.NextContinuationToken) break;
      token = r.NextContinuationToken;
    }
    return out.sort((a, b) => a.first - b.first || a.last - b.last);
  }

  /**
   * Downloads a chunk and checks it: sha256 of the bytes against the key's, then the body against the key
   * (decodeChunk). Throws ChunkIntegrityError naming the chunk and what is wrong.
   */
  async get(chunk: ChunkInfo): Promise<ChunkRevision[]> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: chunk.key }));
    const bytes = Buffer.from(await r.Body!.transformToByteArray());
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== chunk.sha256) {
      throw new ChunkIntegrityError(
        chunk,
        `chunk ${chunk.key} is corrupt: sha256 ${got} does not match the key's ${chunk.sha256}`,
      );
    }
    try {
      return decodeChunk(bytes.toString('utf8'), chunk).revisions;
    } catch (err) {
      throw new ChunkIntegrityError(chunk, `chunk ${chunk.key} is malformed: ${(err as Error).message}`);
    }
  }

  /** Deletes chunks (retention), up to 1000 per request. */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}
