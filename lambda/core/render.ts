/* Pure string helpers: the initial-cluster rendering and a small deterministic hash for cluster tokens. */
import { PeerEntry } from './types';

/** `name1=url1,name2=url2`, in the given order (etcd's --initial-cluster / ETCD_INITIAL_CLUSTER). */
export function renderInitialCluster(entries: readonly PeerEntry[]): string {
  return entries.map((e) => `${e.name}=${e.peerURL}`).join(',');
}

/**
 * FNV-1a, 32 bit, over the UTF-8 bytes of the string, as 8 lower-case hex digits. Not cryptographic: it only
 * has to be deterministic and spread differing bootstrap views over different tokens.
 */
export function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  const bytes = utf8(text);
  for (const b of bytes) {
    hash ^= b;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function utf8(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return out;
}
