/*
 * Fixed names and defaults of an EtcdCluster, shared by the construct's parts (synth time only). Published on
 * EtcdClusterDefaults (lib/defaults.ts).
 */

/** The etcd release used when neither `etcdVersion` nor `etcdImage` is given (a pinned 3.5 patch release). */
export const DEFAULT_ETCD_VERSION = '3.5.26';

/**
 * The container image that runs the join agent when `nodeImage` is not given: the official Node.js 22
 * image (Alpine variant), pinned by digest so every instance runs the same bytes.
 */
export const DEFAULT_NODE_IMAGE =
  'docker.io/library/node:22-alpine@sha256:8094c002d08262dba12645a3b4a15cd6cd627d30bc782f53229a2ec13ee22a00';

/** The hook names and the metric namespace are the contract's: the agent and the Lambda use the same. */
export { LAUNCH_HOOK_NAME, METRIC_NAMESPACE, TERMINATE_HOOK_NAME } from '../contract/names';
