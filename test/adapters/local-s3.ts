/*
 * The fleet's local S3 (s3rver + the conditional-write front, fleet/s3.ts) for one test file: started before
 * its tests with one bucket, the real S3 client pointed at it through AWS_ENDPOINT_URL_S3, everything stopped,
 * restored and removed after them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lambda/adapters/s3';
import { LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY, LocalS3 } from '../../fleet/s3';

export const BUCKET = 'etcd-backups';

export interface LocalS3World {
  /** The S3 client of the lambda's adapters (createS3Client), set in beforeAll. */
  client: S3Client;
  /** A temp dir of the test file's own (removed after it). */
  dir: string;
  /** The local S3's endpoint (AWS_ENDPOINT_URL_S3 while the file runs). */
  endpoint: string;
}

/** Registers beforeAll/afterAll; the returned object's `client` is usable inside the tests. */
export function useLocalS3(
  name: string,
  /** More key pairs the local S3 accepts (beside its own, which the client here uses). */
  credentials: readonly { accessKeyId: string; secretAccessKey: string }[] = [],
): LocalS3World {
  const world = {} as LocalS3World;
  let s3: LocalS3 | undefined;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    world.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    s3 = new LocalS3({
      host: '127.0.0.1',
      port: 0,
      directory: path.join(world.dir, 's3'),
      buckets: [BUCKET],
      credentials: [...credentials],
    });
    await s3.start();
    for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])
      saved[k] = process.env[k];
    world.endpoint = s3.endpoint;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    process.env.AWS_ACCESS_KEY_ID = LOCAL_S3_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = LOCAL_S3_SECRET_KEY;
    world.client = createS3Client('local-1');
  });
  afterAll(async () => {
    world.client?.destroy();
    await s3?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (world.dir) fs.rmSync(world.dir, { recursive: true, force: true });
  });
  return world;
}
