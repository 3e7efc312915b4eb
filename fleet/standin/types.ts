/* Public data types of the AWS stand-in, and the error every handler throws to answer with an AWS error. */

export interface StandInInstance {
  /** 'i-' + 17 hex characters. */
  instanceId: string;
  /** A 127.x.y.z address: the instance's private IPv4, where its metadata service listens too. */
  privateIp: string;
  /**
   * Auto Scaling lifecycle state: 'Pending' | 'Pending:Wait' | 'Pending:Proceed' | 'InService' |
   * 'Terminating' | 'Terminating:Wait' | 'Terminating:Proceed' | 'Terminating:Retained' | 'Terminated'.
   */
  lifecycleState: string;
  healthStatus: 'Healthy' | 'Unhealthy';
  /** e.g. 'local-1a'. */
  availabilityZone: string;
  launchTime: Date;
  /** LifecycleActionToken of the pending launch action (generated when the state is 'Pending:Wait' and none is given). */
  launchToken?: string;
  /** LifecycleActionToken of the pending terminate action (generated when the state is 'Terminating:Wait' and none is given). */
  terminateToken?: string;
}

export interface StandInOptions {
  /** Loopback address the AutoScaling/EC2 endpoint listens on, e.g. '127.0.0.1'. */
  host: string;
  /** @default 0 - an ephemeral port */
  port?: number;
  /** e.g. 'local-1'. */
  region: string;
  groupName: string;
  launchHookName: string;
  terminateHookName: string;
  /** Port of each instance's metadata listener on its privateIp; 0 gives each instance an ephemeral port. */
  imdsPort: number;
  desiredCapacity: number;
  minSize: number;
  maxSize: number;
  /** @default '000000000000' */
  accountId?: string;
  /** Name of the instance profile role the metadata service hands credentials out for. @default 'etcd-fleet-instance-role' */
  roleName?: string;
  /** HeartbeatTimeout reported by DescribeLifecycleHooks (the stand-in itself never times an action out). @default 300 */
  launchHeartbeatTimeout?: number;
  /** @default 300 */
  terminateHeartbeatTimeout?: number;
  /** How long DescribeInstances still reports a removed instance as 'terminated', in seconds. @default 3600 */
  terminatedRetentionSeconds?: number;
  /** CloudFormation SignalResource's one stack and resource; absent: SignalResource is an unknown operation. */
  signalTarget?: { readonly stackName: string; readonly logicalResourceId: string };
}

/** Fault injection: consumed by the next requests. */
export interface StandInFaults {
  /** The next N AutoScaling/EC2 calls fail with a throttling error (AutoScaling: 400 Throttling, EC2: 503 RequestLimitExceeded). */
  throttle: number;
  /** The next N AutoScaling/EC2 calls fail with 503 ServiceUnavailable (EC2: Unavailable). */
  unavailable: number;
  /** Instance ids whose metadata service answers every request with HTTP 500. */
  imdsDown: Set<string>;
}

/** An error answered in the service's own error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

export function validationError(message: string): ApiError {
  return new ApiError(400, 'ValidationError', message);
}
