export { EtcdCluster, EtcdClusterProps, IEtcdCluster } from './etcd-cluster';
export * from './join-strategy';
export { EtcdClusterDefaults, FlatcarAmi } from './defaults';
export { EtcdBackupOptions, RestorePolicy } from './backup';
export { EtcdCompaction, EtcdMaintenanceOptions } from './maintenance';
export { EtcdAlarmOptions } from './alarm-options';
