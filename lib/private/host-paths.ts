/*
 * Where things live on a member (a Flatcar instance): the agent, its config, etcd's data dir and settings,
 * the TLS files. Plain constants with no imports, so the fleet's bundle can use the construct's renderers
 * (./run-time-config.ts) without aws-cdk-lib. lib/ignition.ts renders the units from them.
 */

/** Where the agent's files live on the host (and, mounted read-only, in the agent's container). */
export const AGENT_DIR = '/opt/etcd-agent';
export const AGENT_PATH = `${AGENT_DIR}/agent.js`;
export const AGENT_CONFIG_DIR = '/etc/etcd-agent';
export const AGENT_CONFIG_PATH = `${AGENT_CONFIG_DIR}/config.json`;
/** The EnvironmentFile the agent writes and etcd-member.service reads. */
export const ETCD_ENV_DIR = '/run/etcd';
export const ETCD_ENV_FILE = `${ETCD_ENV_DIR}/env`;
/** etcd's data dir: the mount point of the data volume. Flatcar's etcd-wrapper maps it to /var/lib/etcd in the container. */
export const ETCD_DATA_DIR = '/var/lib/etcd';
/** Where the agent writes the member's TLS files on the host (ca.crt, member.crt, member.key 0600). */
export const TLS_HOST_DIR = '/etc/etcd-tls';
/**
 * The same directory inside etcd's container: Flatcar's etcd-wrapper mounts the host's $ETCD_SSL_DIR
 * read-only at /etc/ssl/certs, so the drop-in sets ETCD_SSL_DIR=TLS_HOST_DIR.
 */
export const TLS_ETCD_DIR = '/etc/ssl/certs';
/** Where the backup bucket's name is written (read by the agent's restore gate). */
export const BACKUP_BUCKET_PATH = `${AGENT_CONFIG_DIR}/backup-bucket`;
