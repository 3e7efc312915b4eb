/*
 * A sha256 of an etcd keyspace at one revision: every key in order with its value, create and mod revision and
 * version. The same data gives the same digest on any etcd of the v3 API (HashKV is not in the etcd3 client's
 * protocol, and hashes the MVCC history rather than the keyspace). Used by the backup (the digest recorded
 * beside a snapshot), the restore drills (the restored store's digest, and the live cluster's) and the tests.
 *
 * Pages start at 1000 keys; a page over the client's receive limit (gRPC's 4 MB by default; large values) is
 * read again at half the size, down to one key.
 */
import type { Etcd3 } from 'etcd3';
import { createHash } from 'crypto';

function tooLarge(err: unknown): boolean {
  const e = err as { name?: string; constructor?: { name?: string }; message?: string };
  return (
    /ResourceExhasted|ResourceExhausted/.test(e?.constructor?.name ?? '') ||
    /RESOURCE_EXHAUSTED|larger than max/i.test(e?.message ?? '')
  );
}

export async function keyspaceSha256(
  client: Etcd3,
  revision: number,
  opts: { readonly deadlineMs?: number } = {},
): Promise<string> {
  const h = createHash('sha256');
  let from = Buffer.from([0]);
  let limit = 1000;
  const perCall = opts.deadlineMs ?? 30_000;
  for (let page = 0; page < 10_000_000; page++) {
    let r;
    try {
      r = await client.kv.range(
        { key: from, range_end: Buffer.from([0]), revision: String(revision), limit: String(limit) },
        { deadline: Date.now() + perCall },
      );
    } catch (err) {
      if (tooLarge(err) && limit > 1) {
        limit = Math.max(1, Math.floor(limit / 2));
        continue;
      }
      throw err;
    }
    for (const kv of r.kvs) {
      for (const b of [kv.key, kv.value]) {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        h.update(len).update(b);
      }
      h.update(`${kv.create_revision} ${kv.mod_revision} ${kv.version}\n`);
    }
    if (!r.more || r.kvs.length === 0) break;
    from = Buffer.concat([r.kvs[r.kvs.length - 1].key, Buffer.from([0])]);
  }
  return h.digest('hex');
}
