/*
 * The agent's config file (/etc/etcd-agent/config.json, written by the construct's Ignition config): its
 * shape and validating reader are the contract's (lib/contract/agent-config.ts).
 */
export type {
  AgentBackendConfig,
  AgentConfig,
  AgentRolloutSignalConfig,
  AgentTlsConfig,
} from '../../lib/contract';
export {
  CompactionMode,
  ConfigError,
  OutputFormat,
  parseAgentConfig as parseConfig,
} from '../../lib/contract';
