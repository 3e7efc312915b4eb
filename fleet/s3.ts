/*
 * The fleet's local S3: s3rver (a filesystem-backed S3-compatible server) on a loopback address, reached by
 * the real S3 client through AWS_ENDPOINT_URL_S3 with path-style addressing.
 *
 * s3rver 3.7.1 ignores `If-None-Match: *` on PutObject (it implements the header only on GET). S3 has
 * supported it since 2024 (conditional writes: 412 PreconditionFailed when the key exists), and the restore
 * fence relies on it, so this wrapper implements exactly that in front of s3rver: a conditional PutObject is
 * serialized per key and answered 412 when the object exists; everything else goes to s3rver unchanged.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

// s3rver ships no types.
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverApp;

const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
};

interface S3rverApp {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  configureBuckets(): Promise<void>;
  store: { existsObject(bucket: string, key: string): Promise<boolean> };
}

/** s3rver's only built-in account. */
export const LOCAL_S3_ACCESS_KEY = 'S3RVER';
export const LOCAL_S3_SECRET_KEY = 'S3RVER';

export class LocalS3 {
  private server?: http.Server;
  private readonly app: S3rverApp;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly opts: {
      host: string;
      port: number;
      directory: string;
      buckets: string[];
      /** Extra access key pairs that s3rver accepts (it checks SigV4 signatures). */
      credentials?: Array<{ accessKeyId: string; secretAccessKey: string }>;
    },
  ) {
    for (const c of opts.credentials ?? []) DUMMY_ACCOUNT.createKeyPair(c.accessKeyId, c.secretAccessKey);
    this.app = new S3rver({
      directory: opts.directory,
      silent: true,
      configureBuckets: opts.buckets.map((name) => ({ name })),
    });
  }

  get endpoint(): string {
    return `http://${this.opts.host}:${this.opts.port}`;
  }

  async start(): Promise<void> {
    await this.app.configureBuckets();
    const handle = this.app.callback();
    this.server = http.createServer((req, res) => void this.route(req, res, handle));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.opts.port = addr.port;
  }

  private async route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const conditional =
      req.method === 'PUT' &&
      req.headers['if-none-match'] === '*' &&
      !url.searchParams.has('uploadId') &&
      !req.headers['x-amz-copy-source'];
    if (!conditional) return handle(req, res);
    // Path-style: /bucket/key...
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const before = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = before.then(() => mine);
    this.locks.set(id, chain);
    await before;
    try {
      if (await this.app.store.existsObject(bucket, key)) {
        req.resume();
        res.writeHead(412, { 'Content-Type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
            '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
            `<Condition>If-None-Match</Condition><Key>${key}</Key></Error>`,
        );
        return;
      }
      await new Promise<void>((resolve) => {
        res.once('finish', resolve);
        res.once('close', resolve);
        handle(req, res);
      });
    } finally {
      release();
      if (this.locks.get(id) === chain) this.locks.delete(id);
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
