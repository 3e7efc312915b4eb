/* What the service handlers see of the stand-in's state. */
import type { StandInInstance } from './types';

export interface GroupState {
  readonly name: string;
  desiredCapacity: number;
  minSize: number;
  maxSize: number;
}

/** An instance that was removed from the group: EC2 still reports it as terminated for a while. */
export interface TerminatedInstance {
  readonly instance: StandInInstance;
  readonly terminatedAt: Date;
}

export interface ServiceContext {
  readonly region: string;
  readonly accountId: string;
  readonly group: GroupState;
  readonly launchHookName: string;
  readonly terminateHookName: string;
  readonly launchHeartbeatTimeout: number;
  readonly terminateHeartbeatTimeout: number;
  readonly createdTime: Date;
  /** The group's instances (live objects), oldest launch first. */
  members(): StandInInstance[];
  /** Instances removed within the retention period, oldest launch first. */
  terminated(): TerminatedInstance[];
  emit(event: string, payload: unknown): boolean;
}

export const LAUNCH_TEMPLATE = {
  LaunchTemplateId: 'lt-0123456789abcdef0',
  LaunchTemplateName: 'etcd-fleet',
  Version: '1',
};
export const INSTANCE_TYPE = 't3.small';
export const IMAGE_ID = 'ami-0123456789abcdef0';
