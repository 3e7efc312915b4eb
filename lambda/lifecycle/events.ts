/*
 * Classifies an incoming event. The handler is invoked by three EventBridge rules (launch and terminate
 * lifecycle actions of the group, and a schedule) and by the local fleet, which sends the same shapes.
 *
 * Lifecycle action (EventBridge, source aws.autoscaling):
 *   { "detail-type": "EC2 Instance-terminate Lifecycle Action", "source": "aws.autoscaling",
 *     "detail": { "LifecycleActionToken", "AutoScalingGroupName", "LifecycleHookName", "EC2InstanceId",
 *                 "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING", "NotificationMetadata"?,
 *                 "Origin": "EC2" | "AutoScalingGroup" | "WarmPool", "Destination": ... } }
 * Maintenance: { "kind": "maintenance" } (the maintenance schedule's constant input).
 * Reconcile: { "kind": "reconcile" } (the schedule's constant input), or an EventBridge
 *   { "detail-type": "Scheduled Event", "source": "aws.events" }.
 */

export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';

export interface LifecycleAction {
  readonly groupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  /** Absent in some test events; CompleteLifecycleAction then identifies the action by instance id. */
  readonly token?: string;
  readonly transition: string;
  readonly origin?: string;
  readonly destination?: string;
  /** EventBridge event id, for log correlation. */
  readonly eventId?: string;
}

export type ParsedEvent =
  | ({ readonly kind: 'terminate' } & LifecycleAction)
  | ({ readonly kind: 'launch' } & LifecycleAction)
  | { readonly kind: 'reconcile'; readonly eventId?: string }
  /** {"kind":"backup"}: a snapshot to S3 now (the backup schedule's constant input, or by hand). */
  | { readonly kind: 'backup'; readonly eventId?: string }
  /** {"kind":"maintenance"}: defragmentation and NOSPACE recovery (the maintenance schedule's constant input). */
  | { readonly kind: 'maintenance'; readonly eventId?: string }
  /**
   * {"kind":"restore"}: the manual restore trigger (README: Backups and disaster recovery); with
   * "untilRevision": N or "untilTime": "<ISO 8601>" a point-in-time restore (issue 16).
   */
  | {
      readonly kind: 'restore';
      readonly eventId?: string;
      readonly untilRevision?: number;
      /** Epoch ms. */
      readonly untilTime?: number;
    }
  /**
   * Not an event this function handles: logged, no action, no throw. `refused`: a manual request this
   * function does handle, with a bad argument (the invocation fails, saying which).
   */
  | { readonly kind: 'invalid'; readonly reason: string; readonly refused?: boolean };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The manual restore trigger's point-in-time arguments, validated. */
function parseRestore(event: Record<string, unknown>): ParsedEvent {
  const errors: string[] = [];
  const { untilRevision: rev, untilTime: time } = event;
  if (rev !== undefined && (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 1))
    errors.push(`untilRevision must be a positive integer (an etcd revision), got ${JSON.stringify(rev)}`);
  let ms: number | undefined;
  if (time !== undefined) {
    ms = typeof time === 'string' && ISO_TIME.test(time) ? Date.parse(time) : NaN;
    if (!Number.isFinite(ms))
      errors.push(
        `untilTime must be an ISO 8601 time with its zone, e.g. "2026-12-01T01:02:03Z", got ${JSON.stringify(time)}`,
      );
  }
  if (errors.length > 0)
    return { kind: 'invalid', reason: `restore refused: ${errors.join('; ')}`, refused: true };
  return {
    kind: 'restore',
    ...(rev !== undefined && { untilRevision: rev as number }),
    ...(ms !== undefined && { untilTime: ms }),
  };
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function parseEvent(event: unknown): ParsedEvent {
  if (!isRecord(event)) return { kind: 'invalid', reason: 'event is not a JSON object' };
  if (event.kind === 'reconcile') return { kind: 'reconcile' };
  if (event.kind === 'backup') return { kind: 'backup' };
  if (event.kind === 'restore') return parseRestore(event);
  if (event.kind === 'maintenance') return { kind: 'maintenance' };
  const detailType = event['detail-type'];
  const eventId = optString(event.id);
  if (detailType === SCHEDULED_DETAIL_TYPE && event.source === 'aws.events') {
    return { kind: 'reconcile', eventId };
  }
  if (detailType !== LAUNCH_DETAIL_TYPE && detailType !== TERMINATE_DETAIL_TYPE) {
    return {
      kind: 'invalid',
      reason:
        typeof detailType === 'string'
          ? `unsupported detail-type ${JSON.stringify(detailType)}`
          : 'neither {"kind":"reconcile"} nor an EventBridge event (no detail-type)',
    };
  }
  if (event.source !== 'aws.autoscaling') {
    return {
      kind: 'invalid',
      reason: `${detailType} from source ${JSON.stringify(event.source)}, not aws.autoscaling`,
    };
  }
  const d = event.detail;
  if (!isRecord(d)) return { kind: 'invalid', reason: `${detailType} without a detail object` };
  const missing = ['AutoScalingGroupName', 'LifecycleHookName', 'EC2InstanceId'].filter(
    (f) => typeof d[f] !== 'string' || d[f] === '',
  );
  if (missing.length > 0) {
    return { kind: 'invalid', reason: `${detailType} without ${missing.join(', ')}` };
  }
  const instanceId = d.EC2InstanceId as string;
  if (!INSTANCE_ID.test(instanceId)) {
    return { kind: 'invalid', reason: `malformed EC2InstanceId ${JSON.stringify(instanceId)}` };
  }
  const kind = detailType === LAUNCH_DETAIL_TYPE ? 'launch' : 'terminate';
  const expected =
    kind === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING';
  const transition = optString(d.LifecycleTransition) ?? expected;
  if (transition !== expected) {
    return {
      kind: 'invalid',
      reason: `${detailType} with LifecycleTransition ${JSON.stringify(transition)}`,
    };
  }
  return {
    kind,
    groupName: d.AutoScalingGroupName as string,
    hookName: d.LifecycleHookName as string,
    instanceId,
    token: optString(d.LifecycleActionToken),
    transition,
    origin: optString(d.Origin),
    destination: optString(d.Destination),
    eventId,
  };
}
