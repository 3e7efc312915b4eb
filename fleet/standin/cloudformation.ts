/*
 * CloudFormation (awsQuery, Version 2010-05-15): SignalResource only, the call the join agent makes once its
 * instance is a healthy voter (or refused to join), which gates a rolling update of the Auto Scaling group.
 * One stack with one signalled resource (the group). Like CloudFormation, a resource that is not waiting for
 * signals (no creation or rolling update in progress) refuses them with a ValidationError; the driver (the
 * fleet's `up` and `roll`) opens and closes that window. Every signal, accepted or refused, is kept in order.
 */
import type { EventEmitter } from 'events';
import { ApiError, validationError } from './types';
import type { QueryParams } from './wire';

export const CLOUDFORMATION_VERSION = '2010-05-15';
export const CLOUDFORMATION_XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** The stack and the resource that takes signals (the fleet: its group's stand-in logical id). */
export interface SignalTarget {
  readonly stackName: string;
  readonly logicalResourceId: string;
}

export type SignalStatus = 'SUCCESS' | 'FAILURE';

export interface ResourceSignal {
  readonly stackName: string;
  readonly logicalResourceId: string;
  readonly uniqueId: string;
  readonly status: SignalStatus;
  /** Epoch ms when it arrived. */
  readonly at: number;
  /** false: the resource was not waiting for signals (ValidationError to the caller). */
  readonly accepted: boolean;
}

/** The signalled resource's state and every signal it got. */
export class SignalBoard {
  /** Whether the resource waits for signals now (a creation or rolling update in progress). */
  waiting = false;
  readonly signals: ResourceSignal[] = [];

  constructor(readonly target: SignalTarget) {}

  /**
   * SignalResource: throws the ValidationError CloudFormation answers a malformed or misaddressed signal with;
   * else records the signal and returns it (`accepted: false`: the caller answers with {@link notWaiting}).
   */
  signal(p: QueryParams): ResourceSignal {
    const stackName = p.get('StackName');
    const logicalResourceId = p.get('LogicalResourceId');
    const uniqueId = p.get('UniqueId');
    const status = p.get('Status');
    if (!stackName) throw validationError('1 validation error detected: StackName must not be null');
    if (!logicalResourceId)
      throw validationError('1 validation error detected: LogicalResourceId must not be null');
    if (!uniqueId) throw validationError('1 validation error detected: UniqueId must not be null');
    if (status !== 'SUCCESS' && status !== 'FAILURE')
      throw validationError(
        `1 validation error detected: Value '${status ?? ''}' at 'status' failed to satisfy constraint: ` +
          'Member must satisfy enum value set: [SUCCESS, FAILURE]',
      );
    if (stackName !== this.target.stackName)
      throw validationError(`Stack with id ${stackName} does not exist`);
    if (logicalResourceId !== this.target.logicalResourceId)
      throw validationError(`Resource ${logicalResourceId} does not exist for stack ${stackName}`);
    const signal: ResourceSignal = {
      stackName,
      logicalResourceId,
      uniqueId,
      status,
      at: Date.now(),
      accepted: this.waiting,
    };
    this.signals.push(signal);
    return signal;
  }

  /** CloudFormation's answer to a signal for a resource that waits for none. */
  notWaiting(signal: ResourceSignal): ApiError {
    return validationError(
      `Resource ${signal.logicalResourceId} is in UPDATE_COMPLETE state and cannot be signaled`,
    );
  }
}

/**
 * Answers one CloudFormation request: SignalResource recorded, emitted ('signal-resource') and accepted or
 * refused; anything else (or no signal target) is an unknown operation. Returns the response XML.
 */
export function signalResource(
  events: EventEmitter,
  board: SignalBoard | undefined,
  action: string,
  params: QueryParams,
  requestId: string,
): string {
  if (action !== 'SignalResource' || !board)
    throw new ApiError(
      400,
      'InvalidAction',
      `Could not find operation ${action} for version ${CLOUDFORMATION_VERSION}`,
    );
  const signal = board.signal(params);
  events.emit('signal-resource', signal);
  if (!signal.accepted) throw board.notWaiting(signal);
  return (
    `<SignalResourceResponse xmlns="${CLOUDFORMATION_XMLNS}">` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></SignalResourceResponse>`
  );
}
