/*
 * A small local stand-in for the AWS APIs the join agent and the lifecycle Lambda call: AutoScaling (awsQuery),
 * EC2 DescribeInstances and RebootInstances (ec2Query) and one instance metadata service (IMDSv2) per simulated instance. The real
 * AWS SDK v3 clients reach it through AWS_ENDPOINT_URL (both services POST to '/', told apart by Version and
 * Action) and AWS_EC2_METADATA_SERVICE_ENDPOINT. Signatures are accepted and not checked. Node built-ins only.
 *
 * The stand-in never moves instances through their lifecycle by itself, except where an API call does so:
 * CompleteLifecycleAction (launch CONTINUE → Pending:Proceed, launch ABANDON → Terminating, terminate → Terminating:Proceed)
 * and the desired capacity (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup with decrement). The fleet
 * driver reacts to the events and sets the states that follow (InService, Terminating:Wait, ...).
 */
import { EventEmitter } from 'events';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as zlib from 'zlib';
import * as crypto from 'crypto';
import { AUTOSCALING_ACTIONS, AUTOSCALING_VERSION, AUTOSCALING_XMLNS } from './autoscaling';
import { CLOUDFORMATION_VERSION, CLOUDFORMATION_XMLNS, SignalBoard, signalResource } from './cloudformation';
import type { GroupState, ServiceContext, TerminatedInstance } from './context';
import { EC2_ACTIONS, EC2_VERSION, EC2_XMLNS } from './ec2';
import { createImdsServer } from './imds';
import { ApiError, StandInFaults, StandInInstance, StandInOptions } from './types';
import { QueryParams, escapeXml, xml } from './wire';
import { SECRETS_TARGET_PREFIX, SecretStore } from './secrets';

export { ApiError } from './types';
export type { StandInFaults, StandInInstance, StandInOptions } from './types';
export type { GroupState } from './context';
export type { ResourceSignal, SignalStatus, SignalTarget } from './cloudformation';

type Service = 'autoscaling' | 'ec2' | 'cloudformation';

interface ImdsListener {
  server: http.Server;
  port: number;
}

const INSTANCE_ID = /^i-[0-9a-f]{17}$/;

/**
 * Events: 'complete-lifecycle-action' {instanceId, hookName, token, result}, 'heartbeat' {instanceId, hookName, token},
 * 'set-desired-capacity' {desired}, 'terminate-instance' {instanceId, decrement},
 * 'signal-resource' (a ResourceSignal: CloudFormation SignalResource, accepted or not),
 * 'request' {service, action, fault?, accessKeyId?} (every AutoScaling/EC2 request, before it is answered;
 * accessKeyId from the SigV4 Authorization header, not verified).
 */
export class AwsStandIn extends EventEmitter {
  readonly group: GroupState;
  readonly faults: StandInFaults = { throttle: 0, unavailable: 0, imdsDown: new Set() };
  private readonly byId = new Map<string, StandInInstance>();
  private readonly imds = new Map<string, ImdsListener>();
  private removed: TerminatedInstance[] = [];
  private server?: http.Server;
  private port?: number;
  private stopped = false;
  private readonly ctx: ServiceContext;
  private readonly accountId: string;
  private readonly roleName: string;
  /** Secrets Manager (GetSecretValue, PutSecretValue) on the same endpoint, told apart by X-Amz-Target. */
  readonly secrets: SecretStore;
  /** CloudFormation's signalled resource (the group), when opts.signalTarget is set. */
  readonly signalBoard?: SignalBoard;

  constructor(private readonly opts: StandInOptions) {
    super();
    if (opts.minSize > opts.desiredCapacity || opts.desiredCapacity > opts.maxSize) {
      throw new Error('AwsStandIn: minSize <= desiredCapacity <= maxSize must hold');
    }
    this.group = {
      name: opts.groupName,
      desiredCapacity: opts.desiredCapacity,
      minSize: opts.minSize,
      maxSize: opts.maxSize,
    };
    this.accountId = opts.accountId ?? '000000000000';
    this.roleName = opts.roleName ?? 'etcd-fleet-instance-role';
    this.secrets = new SecretStore(opts.region, this.accountId);
    if (opts.signalTarget) this.signalBoard = new SignalBoard(opts.signalTarget);
    const retentionMs = (opts.terminatedRetentionSeconds ?? 3600) * 1000;
    const createdTime = new Date();
    this.ctx = {
      region: opts.region,
      accountId: this.accountId,
      group: this.group,
      launchHookName: opts.launchHookName,
      terminateHookName: opts.terminateHookName,
      launchHeartbeatTimeout: opts.launchHeartbeatTimeout ?? 300,
      terminateHeartbeatTimeout: opts.terminateHeartbeatTimeout ?? 300,
      createdTime,
      members: () => this.sorted([...this.byId.values()]),
      terminated: () => {
        const cutoff = Date.now() - retentionMs;
        this.removed = this.removed.filter((r) => r.terminatedAt.getTime() >= cutoff);
        return [...this.removed].sort(
          (a, b) =>
            a.instance.launchTime.getTime() - b.instance.launchTime.getTime() ||
            a.instance.instanceId.localeCompare(b.instance.instanceId),
        );
      },
      emit: (event, payload) => this.emit(event, payload),
    };
  }

  /** Opens the AutoScaling/EC2 endpoint on host:port. */
  async start(): Promise<void> {
    if (this.server) return;
    this.stopped = false;
    const server = http.createServer((req, res) => void this.handle(req, res));
    await listen(server, this.opts.host, this.opts.port ?? 0);
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Closes the endpoint and every instance metadata listener. */
  async stop(): Promise<void> {
    this.stopped = true;
    const servers = [...this.imds.values()].map((l) => l.server);
    this.imds.clear();
    if (this.server) servers.push(this.server);
    this.server = undefined;
    await Promise.all(servers.map(close));
  }

  /** 'http://host:port' of the AutoScaling/EC2 endpoint: the value for AWS_ENDPOINT_URL. */
  get endpoint(): string {
    const port = this.port ?? this.opts.port;
    if (!port) throw new Error('AwsStandIn: not started');
    return `http://${this.opts.host}:${port}`;
  }

  /** Copies of the group's instances, oldest launch first. */
  instances(): StandInInstance[] {
    return this.ctx.members().map((i) => ({ ...i }));
  }

  /** A copy of the instance, or undefined once removed. */
  getInstance(id: string): StandInInstance | undefined {
    const i = this.byId.get(id);
    return i && { ...i };
  }

  /** Adds the instance to the group and opens its metadata service on privateIp:imdsPort. */
  async addInstance(inst: StandInInstance): Promise<void> {
    if (!INSTANCE_ID.test(inst.instanceId))
      throw new Error(`AwsStandIn: malformed instance id ${inst.instanceId}`);
    if (this.byId.has(inst.instanceId)) throw new Error(`AwsStandIn: instance ${inst.instanceId} exists`);
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(inst.privateIp)) {
      throw new Error(`AwsStandIn: privateIp ${inst.privateIp} is not a loopback address`);
    }
    const stored: StandInInstance = { ...inst };
    this.byId.set(stored.instanceId, stored);
    this.applyState(stored, stored.lifecycleState);
    const id = stored.instanceId;
    const server = createImdsServer({
      instance: () => this.byId.get(id),
      down: () => this.faults.imdsDown.has(id),
      region: this.opts.region,
      accountId: this.accountId,
      roleName: this.roleName,
    });
    try {
      await listen(server, stored.privateIp, this.opts.imdsPort);
    } catch (err) {
      this.byId.delete(id);
      throw err;
    }
    if (!this.byId.has(id) || this.stopped) {
      await close(server); // removed, or the stand-in stopped, while the listener was opening
      return;
    }
    this.imds.set(id, { server, port: (server.address() as AddressInfo).port });
  }

  /**
   * Drops the instance from the group and closes its metadata service. EC2 DescribeInstances goes on
   * reporting it as 'terminated' (no private IP) for terminatedRetentionSeconds.
   */
  async removeInstance(id: string): Promise<void> {
    const inst = this.byId.get(id);
    if (!inst) return;
    this.byId.delete(id);
    this.removed.push({ instance: { ...inst, lifecycleState: 'Terminated' }, terminatedAt: new Date() });
    const l = this.imds.get(id);
    this.imds.delete(id);
    if (l) await close(l.server);
  }

  /**
   * Sets the lifecycle state. Entering 'Pending:Wait' / 'Terminating:Wait' opens the hook's lifecycle action
   * with `token` (or a fresh UUID when none is given); leaving it clears the token.
   */
  setLifecycleState(id: string, state: string, token?: string): void {
    const inst = this.byId.get(id);
    if (!inst) throw new Error(`AwsStandIn: no instance ${id}`);
    this.applyState(inst, state, token);
  }

  /** 'http://<privateIp>:<port>' of the instance's metadata service: the value for AWS_EC2_METADATA_SERVICE_ENDPOINT. */
  metadataEndpointFor(id: string): string {
    const inst = this.byId.get(id);
    if (!inst) throw new Error(`AwsStandIn: no instance ${id}`);
    const port = this.imds.get(id)?.port ?? this.opts.imdsPort;
    return `http://${inst.privateIp}:${port}`;
  }

  private applyState(inst: StandInInstance, state: string, token?: string): void {
    const wasLaunchWait = inst.lifecycleState === 'Pending:Wait' && inst.launchToken !== undefined;
    const wasTermWait = inst.lifecycleState === 'Terminating:Wait' && inst.terminateToken !== undefined;
    inst.lifecycleState = state;
    if (state === 'Pending:Wait')
      inst.launchToken = token ?? (wasLaunchWait ? inst.launchToken : crypto.randomUUID());
    else inst.launchToken = undefined;
    if (state === 'Terminating:Wait') {
      inst.terminateToken = token ?? (wasTermWait ? inst.terminateToken : crypto.randomUUID());
    } else inst.terminateToken = undefined;
  }

  private sorted(list: StandInInstance[]): StandInInstance[] {
    return list.sort(
      (a, b) => a.launchTime.getTime() - b.launchTime.getTime() || a.instanceId.localeCompare(b.instanceId),
    );
  }

  private handleJson(target: string, body: string, res: http.ServerResponse, requestId: string): void {
    const action = target.slice(SECRETS_TARGET_PREFIX.length);
    this.emit('request', { service: 'secretsmanager', action });
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body || '{}');
      } catch {
        throw new ApiError(400, 'SerializationException', 'request body is not JSON');
      }
      return sendJson(res, 200, requestId, this.secrets.call(action, parsed as Record<string, unknown>));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'InternalServiceError', String(err));
      return sendJson(res, e.status, requestId, { __type: e.code, message: e.message }, e.code);
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = crypto.randomUUID();
    let service: Service = 'autoscaling';
    try {
      const body = await readBody(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target.startsWith(SECRETS_TARGET_PREFIX)) return this.handleJson(target, body, res, requestId);
      const query = (req.url ?? '/').split('?')[1] ?? '';
      const params = new QueryParams(req.method === 'GET' ? query : body);
      const action = params.get('Action') ?? '';
      const version = params.get('Version');
      if (version === EC2_VERSION || (version === undefined && action in EC2_ACTIONS)) service = 'ec2';
      else if (version === CLOUDFORMATION_VERSION) service = 'cloudformation';
      let fault: string | undefined;
      if (this.faults.throttle > 0) fault = 'throttle';
      else if (this.faults.unavailable > 0) fault = 'unavailable';
      const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
      this.emit('request', { service, action, ...(fault && { fault }), ...(accessKeyId && { accessKeyId }) });
      if (fault === 'throttle') {
        this.faults.throttle--;
        throw service === 'ec2'
          ? new ApiError(503, 'RequestLimitExceeded', 'Request limit exceeded.', 'Sender')
          : new ApiError(400, 'Throttling', 'Rate exceeded');
      }
      if (fault === 'unavailable') {
        this.faults.unavailable--;
        throw service === 'ec2'
          ? new ApiError(503, 'Unavailable', 'The server is overloaded and cannot handle the request.')
          : new ApiError(503, 'ServiceUnavailable', 'Service is unavailable. Please try again later.');
      }
      if (service === 'ec2') {
        const handler = EC2_ACTIONS[action];
        if (!handler)
          throw new ApiError(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
        const result = handler(this.ctx, params);
        const inner =
          `<requestId>${requestId}</requestId>` +
          Object.entries(result)
            .map(([k, v]) => xml(k, v, 'item'))
            .join('');
        return send(
          res,
          200,
          requestId,
          `<${action}Response xmlns="${EC2_XMLNS}">${inner}</${action}Response>`,
        );
      }
      if (service === 'cloudformation')
        return send(res, 200, requestId, signalResource(this, this.signalBoard, action, params, requestId));
      if (version !== AUTOSCALING_VERSION) {
        throw new ApiError(
          400,
          'InvalidAction',
          `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`,
        );
      }
      const handler = AUTOSCALING_ACTIONS[action];
      if (!handler)
        throw new ApiError(400, 'InvalidAction', `Could not find operation ${action} for version ${version}`);
      const result = handler(this.ctx, params);
      const resultXml = result === undefined ? '' : xml(`${action}Result`, result, 'member');
      return send(
        res,
        200,
        requestId,
        `<${action}Response xmlns="${AUTOSCALING_XMLNS}">${resultXml}` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      );
    } catch (err) {
      const e =
        err instanceof ApiError
          ? err
          : new ApiError(500, 'InternalFailure', String((err as Error)?.message ?? err));
      const code = escapeXml(e.code);
      const message = escapeXml(e.message);
      const body =
        service === 'ec2'
          ? `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>` +
            `<RequestID>${requestId}</RequestID></Response>`
          : `<ErrorResponse xmlns="${service === 'cloudformation' ? CLOUDFORMATION_XMLNS : AUTOSCALING_XMLNS}"><Error><Type>${e.type}</Type><Code>${code}</Code>` +
            `<Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      return send(res, e.status, requestId, body);
    }
  }
}

/** Secrets Manager's JSON protocol: errors carry __type and the x-amzn-errortype header. */
function sendJson(
  res: http.ServerResponse,
  status: number,
  requestId: string,
  obj: unknown,
  errorType?: string,
): void {
  const text = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  res.end(text);
}

function send(res: http.ServerResponse, status: number, requestId: string, body: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, {
    'content-type': 'text/xml;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      let buf = Buffer.concat(chunks);
      try {
        if (req.headers['content-encoding'] === 'gzip') buf = zlib.gunzipSync(buf);
      } catch (err) {
        return reject(
          new ApiError(400, 'MalformedQueryString', `body is not gzip: ${(err as Error).message}`),
        );
      }
      resolve(buf.toString('utf8'));
    });
  });
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
