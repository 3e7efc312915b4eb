/*
 * The AutoScaling (awsQuery, Version 2011-01-01) operations the join agent and the lifecycle Lambda call,
 * answered from the stand-in's in-memory group. Messages follow the ones AWS returns where they are known.
 */
import * as crypto from 'crypto';
import { INSTANCE_TYPE, LAUNCH_TEMPLATE, ServiceContext } from './context';
import type { StandInInstance } from './types';
import { validationError } from './types';
import type { QueryParams, XmlValue } from './wire';
import { decodeOffsetToken, encodeOffsetToken } from './wire';

export const AUTOSCALING_VERSION = '2011-01-01';
export const AUTOSCALING_XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** Result members of an operation (undefined: the operation has no Result element). */
export type AsgResult = Record<string, XmlValue> | undefined;

type Handler = (ctx: ServiceContext, p: QueryParams) => AsgResult;

export const AUTOSCALING_ACTIONS: Record<string, Handler> = {
  DescribeAutoScalingInstances: describeAutoScalingInstances,
  DescribeAutoScalingGroups: describeAutoScalingGroups,
  DescribeLifecycleHooks: describeLifecycleHooks,
  CompleteLifecycleAction: completeLifecycleAction,
  RecordLifecycleActionHeartbeat: recordLifecycleActionHeartbeat,
  SetDesiredCapacity: setDesiredCapacity,
  TerminateInstanceInAutoScalingGroup: terminateInstanceInAutoScalingGroup,
};

function groupArn(ctx: ServiceContext): string {
  return (
    `arn:aws:autoscaling:${ctx.region}:${ctx.accountId}:autoScalingGroup:` +
    `00000000-0000-4000-8000-000000000000:autoScalingGroupName/${ctx.group.name}`
  );
}

function requireGroup(ctx: ServiceContext, name: string | undefined): void {
  if (!name) throw validationError('AutoScalingGroupName is required');
  if (name !== ctx.group.name) {
    throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
  }
}

/** Pagination over a list with MaxRecords / NextToken (an opaque offset). */
function page<T>(items: T[], p: QueryParams, max: number): { items: T[]; next?: string } {
  const size = p.int('MaxRecords') ?? max;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw validationError(`MaxRecords must be between 1 and ${max}`);
  }
  let offset = 0;
  const token = p.get('NextToken');
  if (token) {
    const decoded = decodeOffsetToken(token);
    if (decoded === undefined) throw validationError('The token is invalid.');
    offset = decoded;
  }
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encodeOffsetToken(offset + size) : undefined;
  return { items: slice, next };
}

function describeAutoScalingInstances(ctx: ServiceContext, p: QueryParams): AsgResult {
  const ids = p.list('InstanceIds.member');
  const all = ctx.members().filter((i) => ids.length === 0 || ids.includes(i.instanceId));
  const { items, next } = page(all, p, 50);
  return {
    AutoScalingInstances: items.map((i) => ({
      InstanceId: i.instanceId,
      InstanceType: INSTANCE_TYPE,
      AutoScalingGroupName: ctx.group.name,
      AvailabilityZone: i.availabilityZone,
      LifecycleState: i.lifecycleState,
      // DescribeAutoScalingInstances reports HEALTHY / UNHEALTHY (the group's Instances list: Healthy).
      HealthStatus: i.healthStatus.toUpperCase(),
      LaunchTemplate: LAUNCH_TEMPLATE,
      ProtectedFromScaleIn: false,
    })),
    NextToken: next,
  };
}

function describeAutoScalingGroups(ctx: ServiceContext, p: QueryParams): AsgResult {
  const names = p.list('AutoScalingGroupNames.member');
  const groups = names.length === 0 || names.includes(ctx.group.name) ? [ctx.group] : [];
  const { items, next } = page(groups, p, 100);
  const zones = [...new Set(ctx.members().map((i) => i.availabilityZone))].sort();
  return {
    AutoScalingGroups: items.map((g) => ({
      AutoScalingGroupName: g.name,
      AutoScalingGroupARN: groupArn(ctx),
      LaunchTemplate: LAUNCH_TEMPLATE,
      MinSize: g.minSize,
      MaxSize: g.maxSize,
      DesiredCapacity: g.desiredCapacity,
      DefaultCooldown: 300,
      AvailabilityZones: zones.length > 0 ? zones : [`${ctx.region}a`],
      LoadBalancerNames: [],
      TargetGroupARNs: [],
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 0,
      Instances: ctx.members().map((i) => ({
        InstanceId: i.instanceId,
        InstanceType: INSTANCE_TYPE,
        AvailabilityZone: i.availabilityZone,
        LifecycleState: i.lifecycleState,
        HealthStatus: i.healthStatus,
        LaunchTemplate: LAUNCH_TEMPLATE,
        ProtectedFromScaleIn: false,
      })),
      CreatedTime: ctx.createdTime,
      SuspendedProcesses: [],
      VPCZoneIdentifier: 'subnet-0123456789abcdef0',
      EnabledMetrics: [],
      Tags: [],
      TerminationPolicies: ['Default'],
      NewInstancesProtectedFromScaleIn: false,
      ServiceLinkedRoleARN: `arn:aws:iam::${ctx.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
      CapacityRebalance: false,
      TrafficSources: [],
    })),
    NextToken: next,
  };
}

function describeLifecycleHooks(ctx: ServiceContext, p: QueryParams): AsgResult {
  requireGroup(ctx, p.get('AutoScalingGroupName'));
  const names = p.list('LifecycleHookNames.member');
  const hooks = [
    {
      LifecycleHookName: ctx.launchHookName,
      AutoScalingGroupName: ctx.group.name,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      HeartbeatTimeout: ctx.launchHeartbeatTimeout,
      GlobalTimeout: Math.min(ctx.launchHeartbeatTimeout * 100, 172800),
      DefaultResult: 'ABANDON',
    },
    {
      LifecycleHookName: ctx.terminateHookName,
      AutoScalingGroupName: ctx.group.name,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: ctx.terminateHeartbeatTimeout,
      GlobalTimeout: Math.min(ctx.terminateHeartbeatTimeout * 100, 172800),
      DefaultResult: 'CONTINUE',
    },
  ];
  return { LifecycleHooks: hooks.filter((h) => names.length === 0 || names.includes(h.LifecycleHookName)) };
}

/** The instance whose lifecycle action of this hook is pending and matches the id and/or token given. */
function activeAction(
  ctx: ServiceContext,
  p: QueryParams,
): { inst: StandInInstance; hook: 'launch' | 'terminate'; token: string } {
  requireGroup(ctx, p.get('AutoScalingGroupName'));
  const hookName = p.get('LifecycleHookName');
  if (!hookName) throw validationError('LifecycleHookName is required');
  const instanceId = p.get('InstanceId') || undefined;
  const token = p.get('LifecycleActionToken') || undefined;
  if (!instanceId && !token) {
    throw validationError('Either InstanceId or LifecycleActionToken must be specified');
  }
  const notFound = () =>
    validationError(
      instanceId
        ? `No active Lifecycle Action found with instance ID ${instanceId}`
        : `No active Lifecycle Action found with token ${token}`,
    );
  const hook =
    hookName === ctx.launchHookName ? 'launch' : hookName === ctx.terminateHookName ? 'terminate' : undefined;
  if (!hook) throw notFound();
  const waitState = hook === 'launch' ? 'Pending:Wait' : 'Terminating:Wait';
  const tokenOf = (i: StandInInstance) => (hook === 'launch' ? i.launchToken : i.terminateToken);
  const inst = ctx
    .members()
    .find(
      (i) =>
        (!instanceId || i.instanceId === instanceId) &&
        (!token || tokenOf(i) === token) &&
        i.lifecycleState === waitState,
    );
  if (!inst) throw notFound();
  return { inst, hook, token: tokenOf(inst) ?? '' };
}

function completeLifecycleAction(ctx: ServiceContext, p: QueryParams): AsgResult {
  const result = p.get('LifecycleActionResult');
  if (result !== 'CONTINUE' && result !== 'ABANDON') {
    throw validationError(
      `Value '${result ?? ''}' at 'lifecycleActionResult' failed to satisfy constraint: Member must be CONTINUE or ABANDON`,
    );
  }
  const { inst, hook, token } = activeAction(ctx, p);
  if (hook === 'launch') {
    inst.launchToken = undefined;
    inst.lifecycleState = result === 'CONTINUE' ? 'Pending:Proceed' : 'Terminating';
  } else {
    inst.terminateToken = undefined;
    inst.lifecycleState = 'Terminating:Proceed';
  }
  ctx.emit('complete-lifecycle-action', {
    instanceId: inst.instanceId,
    hookName: p.get('LifecycleHookName'),
    token,
    result,
  });
  return {};
}

function recordLifecycleActionHeartbeat(ctx: ServiceContext, p: QueryParams): AsgResult {
  const { inst, token } = activeAction(ctx, p);
  ctx.emit('heartbeat', { instanceId: inst.instanceId, hookName: p.get('LifecycleHookName'), token });
  return {};
}

function setDesiredCapacity(ctx: ServiceContext, p: QueryParams): AsgResult {
  requireGroup(ctx, p.get('AutoScalingGroupName'));
  const desired = p.int('DesiredCapacity');
  if (desired === undefined || !Number.isInteger(desired))
    throw validationError('DesiredCapacity is required');
  const g = ctx.group;
  if (desired > g.maxSize) {
    throw validationError(
      `New SetDesiredCapacity value ${desired} is above max value ${g.maxSize} for the AutoScalingGroup.`,
    );
  }
  if (desired < g.minSize) {
    throw validationError(
      `New SetDesiredCapacity value ${desired} is below min value ${g.minSize} for the AutoScalingGroup.`,
    );
  }
  g.desiredCapacity = desired;
  ctx.emit('set-desired-capacity', { desired });
  return undefined;
}

function terminateInstanceInAutoScalingGroup(ctx: ServiceContext, p: QueryParams): AsgResult {
  const instanceId = p.get('InstanceId');
  const decrement = p.bool('ShouldDecrementDesiredCapacity');
  if (!instanceId) throw validationError('InstanceId is required');
  if (decrement === undefined) throw validationError('ShouldDecrementDesiredCapacity is required');
  const inst = ctx.members().find((i) => i.instanceId === instanceId);
  if (!inst)
    throw validationError(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
  const g = ctx.group;
  if (decrement) {
    if (g.desiredCapacity <= g.minSize) {
      throw validationError(
        `Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will ` +
          `violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
      );
    }
    g.desiredCapacity -= 1;
  }
  ctx.emit('terminate-instance', { instanceId, decrement });
  const now = new Date();
  return {
    Activity: {
      ActivityId: crypto.randomUUID(),
      AutoScalingGroupName: g.name,
      Description: `Terminating EC2 instance: ${instanceId}`,
      Cause:
        `At ${now.toISOString()} instance ${instanceId} was taken out of service in response to a user request` +
        (decrement ? `, shrinking the capacity from ${g.desiredCapacity + 1} to ${g.desiredCapacity}.` : '.'),
      StartTime: now,
      StatusCode: 'InProgress',
      Progress: 0,
      Details: JSON.stringify({ 'Availability Zone': inst.availabilityZone }),
    },
  };
}
