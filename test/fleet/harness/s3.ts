/* The fleet's local S3 (the backup bucket) as a test reads it: a client, and the keys under a prefix. */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { blockFor, s3Address } from '../../../fleet/addresses';
import { BACKUP_BUCKET } from '../../../fleet/backup';
import type { TestFleet } from './fleet';

/** A client of the fleet's local S3 (path-style, the fleet's credentials, no checksum trailers). */
export function s3For(fleet: TestFleet): S3Client {
  return new S3Client({
    region: 'local-1',
    endpoint: `http://${s3Address(blockFor(fleet.dir))}:9000`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'fleet', secretAccessKey: 'fleet' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every key of the backup bucket under `prefix`, sorted. */
export async function keysUnder(s3: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await s3.send(
      new ListObjectsV2Command({ Bucket: BACKUP_BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of r.Contents ?? []) keys.push(o.Key!);
    if (!r.IsTruncated || !r.NextContinuationToken) break;
    token = r.NextContinuationToken;
  }
  return keys.sort();
}
