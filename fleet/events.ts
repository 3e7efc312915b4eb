/* The events the lifecycle Lambda receives on AWS, as the fleet builds them (EventBridge and the schedules). */
import * as crypto from 'crypto';
import { GROUP_NAME, REGION, TERMINATE_HOOK } from './types';

/**
 * EventBridge's "EC2 Instance-terminate Lifecycle Action" for the terminate hook (the fleet's group, hook and
 * region unless `where` names others; `detail` adds or overrides detail fields).
 */
export function terminateLifecycleEvent(
  instanceId: string,
  token: string,
  where: { region?: string; group?: string; hook?: string } = {},
  detail: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '000000000000',
    time: new Date().toISOString(),
    region: where.region ?? REGION,
    resources: [],
    detail: {
      LifecycleActionToken: token,
      AutoScalingGroupName: where.group ?? GROUP_NAME,
      LifecycleHookName: where.hook ?? TERMINATE_HOOK,
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...detail,
    },
  };
}

/** The scheduled reconcile's event. */
export function reconcileEvent(): Record<string, unknown> {
  return { kind: 'reconcile' };
}

/** The maintenance schedule's event (defragmentation, NOSPACE recovery). */
export function maintenanceEvent(): Record<string, unknown> {
  return { kind: 'maintenance' };
}
