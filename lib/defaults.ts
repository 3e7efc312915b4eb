/*
 * The library's public constants as static members: jsii (Python, Java, .NET, Go) drops module-level
 * constants, so the public API carries them on classes. The values live beside the code that uses them
 * (lib/private/names.ts, lib/flatcar-ami.ts); these classes only publish them.
 */
import {
  DEFAULT_ETCD_VERSION,
  DEFAULT_NODE_IMAGE,
  LAUNCH_HOOK_NAME,
  METRIC_NAMESPACE,
  TERMINATE_HOOK_NAME,
} from './private/names';
import { FLATCAR_AMI_CONTEXT_KEY, FLATCAR_OWNER } from './flatcar-ami';

/** Defaults and fixed names of an {@link EtcdCluster}. */
export class EtcdClusterDefaults {
  /** The etcd release used when neither `etcdVersion` nor `etcdImage` is given (a pinned 3.5 patch release). */
  public static readonly ETCD_VERSION: string = DEFAULT_ETCD_VERSION;
  /** The container image that runs the join agent when `nodeImage` is not given (Node.js 22 Alpine, by digest). */
  public static readonly NODE_IMAGE: string = DEFAULT_NODE_IMAGE;
  /** Name of the launch lifecycle hook (the join agent completes it once its member is a healthy voter). */
  public static readonly LAUNCH_HOOK_NAME: string = LAUNCH_HOOK_NAME;
  /** Name of the terminate lifecycle hook (the lifecycle Lambda completes it). */
  public static readonly TERMINATE_HOOK_NAME: string = TERMINATE_HOOK_NAME;
  /** CloudWatch namespace of the lifecycle Lambda's metrics (see `EtcdCluster.metric`). */
  public static readonly METRIC_NAMESPACE: string = METRIC_NAMESPACE;

  private constructor() {}
}

/** Where the default Flatcar Container Linux AMI comes from when `machineImage` is not given. */
export class FlatcarAmi {
  /** The AWS account that publishes the official Flatcar AMIs. */
  public static readonly OWNER: string = FLATCAR_OWNER;
  /**
   * Context key of the AMI map for environment-agnostic stacks: an object `{ "<region>": "ami-..." }`,
   * or the same as a JSON string (the form `cdk synth -c key=value` gives).
   */
  public static readonly CONTEXT_KEY: string = FLATCAR_AMI_CONTEXT_KEY;

  private constructor() {}
}
