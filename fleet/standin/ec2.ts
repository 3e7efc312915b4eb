/*
 * EC2 DescribeInstances (ec2Query, Version 2016-11-15): the group's instances as running instances, removed
 * ones as terminated (without a private IP, as AWS reports them) for the retention period.
 */
import * as crypto from 'crypto';
import { IMAGE_ID, INSTANCE_TYPE, ServiceContext } from './context';
import type { StandInInstance } from './types';
import { ApiError } from './types';
import type { QueryParams, XmlValue } from './wire';
import { decodeOffsetToken, encodeOffsetToken } from './wire';

export const EC2_VERSION = '2016-11-15';
export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** Members of the response element after requestId. */
export type Ec2Result = Record<string, XmlValue>;

type Handler = (ctx: ServiceContext, p: QueryParams) => Ec2Result;

export const EC2_ACTIONS: Record<string, Handler> = {
  DescribeInstances: describeInstances,
  RebootInstances: rebootInstances,
  TerminateInstances: terminateInstances,
};

/**
 * The `InstanceId.N` parameters of an instance action, each a well-formed id of an instance of the group (a
 * retained one included); else the error EC2 answers (MissingParameter, InvalidInstanceID.Malformed or
 * InvalidInstanceID.NotFound).
 */
function groupInstanceIds(ctx: ServiceContext, p: QueryParams): string[] {
  const ids = p.list('InstanceId');
  if (ids.length === 0)
    throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids) {
    if (!/^i-[0-9a-f]{8,17}$/.test(id))
      throw new ApiError(400, 'InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
  }
  const known = new Set(ctx.members().map((i) => i.instanceId));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new ApiError(
      400,
      'InvalidInstanceID.NotFound',
      `The instance IDs '${missing.join(', ')}' do not exist`,
    );
  }
  return ids;
}

/**
 * TerminateInstances: every id must be an instance of the group, a retained one (Terminating:Retained)
 * included (else InvalidInstanceID.NotFound, as EC2); emits 'terminate-instances' with the ids, which the
 * fleet turns into terminations (the instance stops and leaves the group). Answers the state change of each,
 * running → shutting-down, as EC2 does.
 */
function terminateInstances(ctx: ServiceContext, p: QueryParams): Ec2Result {
  const ids = groupInstanceIds(ctx, p);
  ctx.emit('terminate-instances', { instanceIds: ids });
  return {
    instancesSet: ids.map((instanceId) => ({
      instanceId,
      currentState: { code: 32, name: 'shutting-down' },
      previousState: { code: 16, name: 'running' },
    })),
  };
}

/**
 * RebootInstances: every id must be a live instance of the group (else InvalidInstanceID.NotFound, as EC2);
 * emits 'reboot-instances' with the ids, which the fleet turns into reboots. Answers `return true`.
 */
function rebootInstances(ctx: ServiceContext, p: QueryParams): Ec2Result {
  const ids = groupInstanceIds(ctx, p);
  ctx.emit('reboot-instances', { instanceIds: ids });
  return { return: true };
}

interface Row {
  inst: StandInInstance;
  state: { code: number; name: string };
  tags: Record<string, string>;
}

function stateOf(lifecycleState: string): { code: number; name: string } {
  if (lifecycleState === 'Terminating:Proceed') return { code: 32, name: 'shutting-down' };
  if (lifecycleState === 'Terminated') return { code: 48, name: 'terminated' };
  return { code: 16, name: 'running' };
}

function invalid(message: string): ApiError {
  return new ApiError(400, 'InvalidParameterValue', message);
}

/** EC2 filter values accept * and ? wildcards. */
function matcher(values: string[]): (v: string | undefined) => boolean {
  const res = values.map(
    (v) =>
      new RegExp(
        '^' +
          v
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.') +
          '$',
      ),
  );
  return (v) => v !== undefined && res.some((re) => re.test(v));
}

function filterValue(row: Row, name: string): string | undefined {
  switch (name) {
    case 'instance-id':
      return row.inst.instanceId;
    case 'private-ip-address':
      return row.state.name === 'terminated' ? undefined : row.inst.privateIp;
    case 'instance-state-name':
      return row.state.name;
    case 'instance-state-code':
      return String(row.state.code);
    case 'availability-zone':
      return row.inst.availabilityZone;
    default:
      if (name.startsWith('tag:')) return row.tags[name.slice(4)];
      throw invalid(`The filter '${name}' is invalid`);
  }
}

function describeInstances(ctx: ServiceContext, p: QueryParams): Ec2Result {
  const ids = p.list('InstanceId');
  const maxResults = p.int('MaxResults');
  if (maxResults !== undefined) {
    if (ids.length > 0) {
      throw new ApiError(
        400,
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    }
    if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
      throw invalid(
        `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
      );
    }
  }
  const tags = { 'aws:autoscaling:groupName': ctx.group.name };
  const rows: Row[] = [
    ...ctx.members().map((inst) => ({ inst, state: stateOf(inst.lifecycleState), tags })),
    ...ctx.terminated().map(({ instance }) => ({ inst: instance, state: stateOf('Terminated'), tags })),
  ];
  for (const id of ids) {
    if (!/^i-[0-9a-f]{8,17}$/.test(id)) {
      throw new ApiError(400, 'InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    }
  }
  const missing = ids.filter((id) => !rows.some((r) => r.inst.instanceId === id));
  if (missing.length === 1) {
    throw new ApiError(400, 'InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
  }
  if (missing.length > 1) {
    throw new ApiError(
      400,
      'InvalidInstanceID.NotFound',
      `The instance IDs '${missing.join(', ')}' do not exist`,
    );
  }
  let selected = ids.length > 0 ? rows.filter((r) => ids.includes(r.inst.instanceId)) : rows;
  for (const n of p.indices('Filter')) {
    const name = p.get(`Filter.${n}.Name`);
    if (!name) throw invalid('The filter name is missing');
    const match = matcher(p.list(`Filter.${n}.Value`));
    selected = selected.filter((r) => match(filterValue(r, name)));
  }
  let offset = 0;
  const token = p.get('NextToken');
  if (token) {
    const decoded = decodeOffsetToken(token);
    if (decoded === undefined) throw invalid('Invalid value for nextToken');
    offset = decoded;
  }
  const size = maxResults ?? 1000;
  const pageRows = selected.slice(offset, offset + size);
  const next = offset + size < selected.length ? encodeOffsetToken(offset + size) : undefined;
  return {
    reservationSet: pageRows.map((r) => reservation(ctx, r)),
    nextToken: next,
  };
}

function reservation(ctx: ServiceContext, r: Row): XmlValue {
  const i = r.inst;
  const live = r.state.name !== 'terminated';
  const hostname = `ip-${i.privateIp.replace(/\./g, '-')}.${ctx.region}.compute.internal`;
  return {
    reservationId: 'r-' + crypto.createHash('sha256').update(i.instanceId).digest('hex').slice(0, 17),
    ownerId: ctx.accountId,
    requesterId: '940372691376',
    groupSet: [],
    instancesSet: [
      {
        instanceId: i.instanceId,
        imageId: IMAGE_ID,
        instanceState: r.state,
        privateDnsName: live ? hostname : '',
        dnsName: '',
        reason: live ? '' : 'User initiated',
        amiLaunchIndex: 0,
        productCodes: [],
        instanceType: INSTANCE_TYPE,
        launchTime: i.launchTime,
        placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: 'default' },
        monitoring: { state: 'disabled' },
        subnetId: live ? 'subnet-0123456789abcdef0' : undefined,
        vpcId: live ? 'vpc-0123456789abcdef0' : undefined,
        privateIpAddress: live ? i.privateIp : undefined,
        groupSet: [],
        architecture: 'x86_64',
        rootDeviceType: 'ebs',
        rootDeviceName: '/dev/xvda',
        blockDeviceMapping: [],
        virtualizationType: 'hvm',
        tagSet: Object.entries(r.tags).map(([key, value]) => ({ key, value })),
        hypervisor: 'xen',
        iamInstanceProfile: live
          ? { arn: `arn:aws:iam::${ctx.accountId}:instance-profile/etcd-fleet`, id: 'AIPA0000000000000000' }
          : undefined,
        ebsOptimized: false,
        enaSupport: true,
        metadataOptions: {
          state: 'applied',
          httpTokens: 'required',
          httpPutResponseHopLimit: 2,
          httpEndpoint: 'enabled',
        },
      },
    ],
  };
}
