/*
 * Thin adapters over the AWS APIs the agent and the Lambda call: AutoScaling, EC2 and the instance
 * metadata service (IMDSv2). Clients come from a factory so tests can point them at the local stand-in
 * (AWS_ENDPOINT_URL / AWS_EC2_METADATA_SERVICE_ENDPOINT, honoured by the SDK) or replace them.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  EC2Client,
  paginateDescribeInstances,
  RebootInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { GroupInstance } from '../core/types';

export interface AwsClients {
  readonly autoscaling: AutoScalingClient;
  readonly ec2: EC2Client;
}

/** Real SDK clients with bounded retries; endpoints follow AWS_ENDPOINT_URL when it is set. */
export function createAwsClients(region: string): AwsClients {
  const common = { region, maxAttempts: 4 };
  return { autoscaling: new AutoScalingClient(common), ec2: new EC2Client(common) };
}

export interface GroupView {
  readonly groupName: string;
  readonly desiredCapacity: number;
  readonly instances: GroupInstance[];
}

export class FleetAdapter {
  constructor(private readonly clients: AwsClients) {}

  /** The Auto Scaling group an instance belongs to (the group name is not baked into user data: it would be a cycle). */
  async groupOf(instanceId: string): Promise<string | undefined> {
    const res = await this.clients.autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    return res.AutoScalingInstances?.[0]?.AutoScalingGroupName;
  }

  /** The group's desired capacity and its instances with their private IPs. */
  async describeGroup(groupName: string): Promise<GroupView> {
    const res = await this.clients.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
    );
    const group = res.AutoScalingGroups?.[0];
    if (!group) throw new Error(`Auto Scaling group ${groupName} not found`);
    const members = (group.Instances ?? []).filter((i) => i.InstanceId);
    const ips = await this.privateIps(members.map((i) => i.InstanceId!));
    return {
      groupName,
      desiredCapacity: group.DesiredCapacity ?? 0,
      instances: members.map((i) => ({
        instanceId: i.InstanceId!,
        privateIp: ips.get(i.InstanceId!),
        lifecycleState: i.LifecycleState ?? 'Pending',
      })),
    };
  }

  /** Private IPv4 of each instance, from DescribeInstances (paginated). */
  async privateIps(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (instanceIds.length === 0) return out;
    const pages = paginateDescribeInstances(
      { client: this.clients.ec2, pageSize: 50 },
      { Filters: [{ Name: 'instance-id', Values: [...instanceIds] }] },
    );
    for await (const page of pages) {
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) {
          if (i.InstanceId && i.PrivateIpAddress) out.set(i.InstanceId, i.PrivateIpAddress);
        }
      }
    }
    return out;
  }

  async completeLifecycleAction(
    groupName: string,
    hookName: string,
    instanceId: string,
    result: 'CONTINUE' | 'ABANDON',
    token?: string,
  ): Promise<void> {
    await this.clients.autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: groupName,
        LifecycleHookName: hookName,
        InstanceId: instanceId,
        LifecycleActionToken: token,
        LifecycleActionResult: result,
      }),
    );
  }

  async heartbeat(groupName: string, hookName: string, instanceId: string, token?: string): Promise<void> {
    await this.clients.autoscaling.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: groupName,
        LifecycleHookName: hookName,
        InstanceId: instanceId,
        LifecycleActionToken: token,
      }),
    );
  }

  /** EC2 RebootInstances: the restore trigger reboots the group so every agent runs again at boot. */
  async rebootInstances(instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.clients.ec2.send(new RebootInstancesCommand({ InstanceIds: [...instanceIds] }));
  }

  /**
   * EC2 TerminateInstances: the reconcile finishes a retained termination (FAILURE-SCENARIOS 15). IAM limits
   * it to instances tagged with the group's name.
   */
  async terminateInstances(instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [...instanceIds] }));
  }
}

/** "No active Lifecycle Action found": the action was completed already or timed out. */
export function isNoActiveLifecycleAction(err: unknown): boolean {
  return /No active Lifecycle Action found/i.test(String((err as Error)?.message));
}

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly region: string;
  readonly availabilityZone: string;
}

/**
 * IMDSv2: a session token (PUT), then the identity paths. The endpoint is the SDK's variable
 * AWS_EC2_METADATA_SERVICE_ENDPOINT when set (the local fleet), else 169.254.169.254.
 * One agent process asks for its identity more than once (member certificate, restore gate, join): the
 * token is reused while it is fresh, and the identity document, which does not change while the instance
 * runs, is fetched once (a failed fetch is not kept, so callers can retry).
 */
export class InstanceMetadata {
  private readonly endpoint: string;
  private token?: { value: string; until: number };
  private identityOnce?: Promise<InstanceIdentity>;

  constructor(
    endpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || 'http://169.254.169.254',
    private readonly timeoutMs = 2000,
  ) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  private async call(method: string, path: string, headers: Record<string, string>): Promise<string> {
    const res = await fetch(`${this.endpoint}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new Error(`instance metadata ${method} ${path}: HTTP ${res.status}`);
    return res.text();
  }

  /** A session token (TTL 300 s), reused for up to 240 s. */
  private async sessionToken(): Promise<string> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    const value = await this.call('PUT', '/latest/api/token', {
      'X-aws-ec2-metadata-token-ttl-seconds': '300',
    });
    this.token = { value, until: Date.now() + 240_000 };
    return value;
  }

  /** The instance's private DNS name (meta-data/local-hostname), for its TLS certificate's SANs. */
  async localHostname(): Promise<string> {
    const token = await this.sessionToken();
    return (
      await this.call('GET', '/latest/meta-data/local-hostname', { 'X-aws-ec2-metadata-token': token })
    ).trim();
  }

  identity(): Promise<InstanceIdentity> {
    this.identityOnce ??= this.fetchIdentity().catch((err: unknown) => {
      this.identityOnce = undefined;
      throw err;
    });
    return this.identityOnce;
  }

  private async fetchIdentity(): Promise<InstanceIdentity> {
    const token = await this.sessionToken();
    const doc = JSON.parse(
      await this.call('GET', '/latest/dynamic/instance-identity/document', {
        'X-aws-ec2-metadata-token': token,
      }),
    ) as Record<string, string>;
    for (const field of ['instanceId', 'privateIp', 'region', 'availabilityZone']) {
      if (typeof doc[field] !== 'string' || !doc[field]) {
        throw new Error(`instance identity document has no ${field}`);
      }
    }
    return {
      instanceId: doc.instanceId,
      privateIp: doc.privateIp,
      region: doc.region,
      availabilityZone: doc.availabilityZone,
    };
  }
}
