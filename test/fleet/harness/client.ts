/* etcd clients of the harness: an etcd3 client for a fleet's endpoints (TLS when the fleet has it). */
import * as fs from 'fs';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { FleetStatus } from '../../../fleet/types';
import type { FleetTlsFiles } from '../../../fleet/tls';

/** What `etcd-fleet status --json` prints: the supervisor's own status type (the CLI contract). */
export type StatusJson = FleetStatus;

/** etcdctl's TLS flags for a `--tls` fleet's client identity ([] without TLS). */
export function etcdctlTls(tls?: FleetTlsFiles): string[] {
  return tls ? ['--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key] : [];
}

/** An etcd3 client; with `tls` (from `status --json` of a `--tls` fleet) it presents that client identity. */
export function client(
  endpoints: string[],
  tls?: FleetTlsFiles,
  opts: { dialTimeoutMs?: number; deadlineMs?: number; noRetry?: boolean } = {},
): Etcd3 {
  const deadlineMs = opts.deadlineMs ?? 3000;
  return new Etcd3({
    hosts: endpoints,
    ...(tls && {
      credentials: {
        rootCertificate: fs.readFileSync(tls.ca),
        certChain: fs.readFileSync(tls.cert),
        privateKey: fs.readFileSync(tls.key),
      },
    }),
    dialTimeout: opts.dialTimeoutMs ?? 2000,
    defaultCallOptions: () => ({ deadline: Date.now() + deadlineMs }),
    // noRetry: one attempt per call, no breaker (the caller picks the endpoint and retries itself).
    ...(opts.noRetry && { faultHandling: { global: noop, host: () => noop } }),
  });
}

/** The instances of a status that are InService. */
export function live(s: StatusJson): StatusJson['instances'] {
  return s.instances.filter((i) => i.lifecycleState === 'InService');
}

/** The endpoints of the InService voters of a status (all its endpoints when it shows no voter). */
export function voterEndpoints(s: StatusJson): string[] {
  const ips = new Set(
    live(s)
      .filter((i) => i.role === 'voter')
      .map((i) => i.ip),
  );
  const v = s.endpoints.filter((e) => ips.has(new URL(e).hostname));
  return v.length > 0 ? v : s.endpoints;
}
