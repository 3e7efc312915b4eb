/* etcd's settings, rendered in elastic-etcd's three output formats. Pure. */
import { AgentBackendConfig, CompactionMode, OutputFormat } from './config';

export interface EtcdSettings {
  readonly name: string;
  readonly dataDir: string;
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  /** Only for a new cluster. */
  readonly initialClusterToken?: string;
  readonly peerURL: string;
  readonly clientURL: string;
  /** Extra listen URLs for clients (e.g. http://127.0.0.1:2379 on a real instance). */
  readonly extraListenClientURLs?: readonly string[];
  /** TLS for clients and peers, with client-certificate authentication on both (paths as etcd sees them). */
  readonly tls?: EtcdTlsFiles;
  /**
   * Start once as a one-member cluster on the existing data (etcd's --force-new-cluster: every other member
   * removed, data and cluster id kept): the seed of a restore from a survivor's own data.
   */
  readonly forceNewCluster?: boolean;
  /** Backend quota, auto-compaction and corruption checks; absent: etcd's own defaults. */
  readonly backend?: AgentBackendConfig;
}

/** The member's TLS files as etcd sees them (one certificate serves clients and peers). */
export interface EtcdTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The settings as ordered [ETCD_* variable, value] pairs. */
export function settingsToVars(s: EtcdSettings): [string, string][] {
  const vars: [string, string][] = [
    ['ETCD_NAME', s.name],
    ['ETCD_DATA_DIR', s.dataDir],
    ['ETCD_INITIAL_CLUSTER', s.initialCluster],
    ['ETCD_INITIAL_CLUSTER_STATE', s.initialClusterState],
  ];
  if (s.initialClusterToken) vars.push(['ETCD_INITIAL_CLUSTER_TOKEN', s.initialClusterToken]);
  vars.push(
    ['ETCD_INITIAL_ADVERTISE_PEER_URLS', s.peerURL],
    ['ETCD_LISTEN_PEER_URLS', s.peerURL],
    ['ETCD_LISTEN_CLIENT_URLS', [s.clientURL, ...(s.extraListenClientURLs ?? [])].join(',')],
    ['ETCD_ADVERTISE_CLIENT_URLS', s.clientURL],
    ['ETCD_STRICT_RECONFIG_CHECK', 'true'],
  );
  if (s.forceNewCluster) vars.push(['ETCD_FORCE_NEW_CLUSTER', 'true']);
  const b = s.backend;
  if (b) {
    vars.push(['ETCD_QUOTA_BACKEND_BYTES', String(b.quotaBackendBytes)]);
    if (b.compactionMode !== CompactionMode.NONE) {
      vars.push(
        ['ETCD_AUTO_COMPACTION_MODE', b.compactionMode],
        ['ETCD_AUTO_COMPACTION_RETENTION', b.compactionRetention],
      );
    }
    if (b.corruptCheck) {
      // The experimental names: 3.4 and 3.5 know only these; 3.6 still accepts them (deprecated).
      vars.push(
        ['ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK', 'true'],
        ['ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME', `${b.corruptCheckIntervalSeconds}s`],
      );
    }
  }
  if (s.tls) {
    vars.push(
      ['ETCD_TRUSTED_CA_FILE', s.tls.caFile],
      ['ETCD_CERT_FILE', s.tls.certFile],
      ['ETCD_KEY_FILE', s.tls.keyFile],
      ['ETCD_CLIENT_CERT_AUTH', 'true'],
      ['ETCD_PEER_TRUSTED_CA_FILE', s.tls.caFile],
      ['ETCD_PEER_CERT_FILE', s.tls.certFile],
      ['ETCD_PEER_KEY_FILE', s.tls.keyFile],
      ['ETCD_PEER_CLIENT_CERT_AUTH', 'true'],
    );
  }
  return vars;
}

function flagName(variable: string): string {
  return (
    '--' +
    variable
      .replace(/^ETCD_/, '')
      .toLowerCase()
      .replace(/_/g, '-')
  );
}

export function renderSettings(s: EtcdSettings, format: OutputFormat): string {
  const vars = settingsToVars(s);
  switch (format) {
    case OutputFormat.ENV:
      return vars.map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    case OutputFormat.DROPIN:
      return '[Service]\n' + vars.map(([k, v]) => `Environment="${k}=${v}"`).join('\n') + '\n';
    case OutputFormat.FLAGS:
      return vars.map(([k, v]) => `${flagName(k)}=${v}`).join('\n') + '\n';
  }
}

/** Parses the env format back (used by the local fleet to start etcd as etcd-member.service would). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}
