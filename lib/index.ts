export { EtcdCluster, EtcdClusterProps, IEtcdCluster } from './etcd-cluster';
export * from './join-strategy';
export { EtcdClusterDefaults, FlatcarAmi } from './defaults';
export { EtcdBackupOptions, RestorePolicy } from './backup';
