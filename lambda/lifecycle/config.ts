/*
 * The handler's configuration, read from the environment at invocation time (never at module load: the
 * local fleet sets process.env after loading the bundle's host process and before the first call). The
 * variables, their defaults and the validating reader are the contract's (lib/contract/lifecycle-env.ts).
 */
export type { BackupConfig, LifecycleConfig } from '../../lib/contract';
export { ConfigError, readLifecycleEnvironment as readConfig } from '../../lib/contract';
