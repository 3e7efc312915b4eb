/* The events the lifecycle Lambda receives on AWS, as the fleet builds them (EventBridge and the schedules). */
import * as crypto from 'crypto';
import { GROUP_NAME, REGION, TERMINATE_HOOK } from './types';

/** EventBridge's "EC2 Instance-terminate Lifecycle Action" for the terminate hook. */
export function terminateLifecycleEvent(instanceId: string, token: string): Record<string, unknown> {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '000000000000',
    time: new Date().toISOString(),
    region: REGION,
    resources: [],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: GROUP_NAME,
      LifecycleHookName: TERMINATE_HOOK,
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
  };
}

/** The scheduled reconcile's event. */
export function reconcileEvent(): Record<string, unknown> {
  return { kind: 'reconcile' };
}
