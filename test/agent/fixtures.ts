/** A valid agent config, as the construct writes it (the tests vary one field at a time). */
export const VALID_AGENT_CONFIG = {
  strategy: 'replace',
  sizeCap: 3,
  peerPort: 2380,
  clientPort: 2379,
  scheme: 'http',
  dataDir: '/var/lib/etcd',
  envFile: '/run/etcd/env',
  output: 'env',
  launchHookName: 'launch',
  deadlineSeconds: 900,
};
