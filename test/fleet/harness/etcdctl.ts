/*
 * Debian's etcdctl (etcd-client) as an independent judge of a fleet: endpoint status, alarm list and reads
 * through etcd's own command-line client, not the project's code.
 */
import { execFile } from 'child_process';
import type { FleetTlsFiles } from '../../../fleet/tls';
import { etcdctlTls } from './client';

/** Runs `etcdctl <args>` (API v3) against these endpoints; rejects with its stderr when it fails. */
export function etcdctl(endpoints: string[], args: string[], tls?: FleetTlsFiles): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'etcdctl',
      ['--endpoints', endpoints.join(','), '--command-timeout', '10s', ...etcdctlTls(tls), ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err ? reject(new Error(`etcdctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

export interface EndpointStatus {
  readonly endpoint: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly raftIndex: number;
}

/** `etcdctl endpoint status -w json` of each endpoint (sizes in bytes). */
export async function endpointStatus(endpoints: string[], tls?: FleetTlsFiles): Promise<EndpointStatus[]> {
  const out = JSON.parse(await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'], tls)) as {
    Endpoint: string;
    Status: { dbSize: number; dbSizeInUse: number; raftIndex: number };
  }[];
  return out.map((e) => ({
    endpoint: e.Endpoint,
    dbSize: e.Status.dbSize,
    dbSizeInUse: e.Status.dbSizeInUse,
    raftIndex: e.Status.raftIndex,
  }));
}

/** `etcdctl alarm list`: the names of the active alarms (e.g. ['NOSPACE']), one per member that raised one. */
export async function alarmList(endpoints: string[], tls?: FleetTlsFiles): Promise<string[]> {
  const out = await etcdctl(endpoints, ['alarm', 'list'], tls);
  return [...out.matchAll(/alarm:(\w+)/g)].map((m) => m[1]);
}

/** `etcdctl get --prefix -w json`: every key under the prefix with its value's bytes. */
export async function getPrefix(
  endpoints: string[],
  prefix: string,
  tls?: FleetTlsFiles,
): Promise<Map<string, Buffer>> {
  const out = JSON.parse(await etcdctl(endpoints, ['get', prefix, '--prefix', '-w', 'json'], tls)) as {
    kvs?: { key: string; value?: string }[];
  };
  return new Map(
    (out.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, 'base64').toString('utf8'),
      Buffer.from(kv.value ?? '', 'base64'),
    ]),
  );
}

/** `etcdctl put KEY VALUE`: resolves true when etcd acknowledged it, false when it refused. */
export async function tryPut(
  endpoints: string[],
  key: string,
  value: string,
  tls?: FleetTlsFiles,
): Promise<boolean> {
  try {
    await etcdctl(endpoints, ['put', key, value], tls);
    return true;
  } catch {
    return false;
  }
}
