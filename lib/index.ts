export * from './etcd-cluster';
export * from './join-strategy';
export { FLATCAR_AMI_CONTEXT_KEY, FLATCAR_OWNER } from './flatcar-ami';
export { EtcdBackupOptions, RestorePolicy } from './backup';
