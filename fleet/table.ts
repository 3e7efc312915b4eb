/* The member table that `etcd-fleet status` (and the waiting commands without --json) print. */
import type { FleetStatus } from './types';

export function table(s: FleetStatus): string {
  const storage = s.instances.some((i) => i.dbSize !== undefined);
  const head = [
    'INSTANCE',
    'IP',
    'LIFECYCLE',
    'MEMBER ID',
    'ROLE',
    'HEALTHY',
    'LEADER',
    ...(storage ? ['DB SIZE', 'IN USE', 'ALARMS'] : []),
  ];
  const rows = s.instances.map((i) => [
    i.id,
    i.ip,
    i.lifecycleState,
    i.memberId || '-',
    i.role,
    String(i.healthy),
    String(i.leader),
    ...(storage ? [mib(i.dbSize), mib(i.dbSizeInUse), i.alarms?.join(',') || (i.alarms ? 'none' : '-')] : []),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const fmt = (r: string[]) => '| ' + r.map((v, c) => v.padEnd(widths[c])).join(' | ') + ' |';
  return [
    `cluster ${s.clusterId || '-'}  desired ${s.desired}  converged ${s.converged}${s.converged ? '' : ` (${s.reason})`}`,
    line,
    fmt(head),
    line,
    ...rows.map(fmt),
    line,
    ...(s.shipper ? [`incremental backup log shipped by ${s.shipper}`] : []),
    ...(s.tls ? [`tls: etcdctl --cacert ${s.tls.ca} --cert ${s.tls.cert} --key ${s.tls.key}`] : []),
  ].join('\n');
}

/** Bytes as MiB with one decimal; '-' for no answer. */
function mib(bytes: number | null | undefined): string {
  return typeof bytes === 'number' ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : '-';
}
