/*
 * The members' launch template (synth time only): the agent config, rendered into the Ignition user data
 * by lib/ignition.ts, and the volumes.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RestorePolicy } from '../backup';
import {
  AgentConfigFile,
  BACKUP_BUCKET_PATH,
  ETCD_DATA_DIR,
  ETCD_ENV_FILE,
  renderIgnition,
  TLS_ETCD_DIR,
  TLS_HOST_DIR,
} from '../ignition';
import { JoinStrategy } from '../join-strategy';
import { ClusterTls } from '../tls';
import { BackupWiring } from './backup-bucket';
import { AgentBundle } from './members';
import { LAUNCH_HOOK_NAME } from './names';

/** The agent's own deadline for one run (join or promote), in seconds. */
const AGENT_DEADLINE_SECONDS = 900;
/** Extra start time the agent units get on top of the deadline, mostly for pulling the Node image. */
const IMAGE_PULL_ALLOWANCE_SECONDS = 300;
/**
 * Block device name of the data volume (Flatcar's udev rules link the NVMe device of an EBS volume to the
 * name in the block device mapping). From AWS's recommended range for EBS volumes (/dev/sd[f-p],
 * /dev/xvd[f-p]): the Flatcar AMIs map an instance-store volume (ephemeral0) to /dev/xvdb, and
 * /dev/xvd[b-e] is the range EC2 uses for instance store. The mount unit finds the volume by its label.
 */
const DATA_DEVICE = '/dev/xvdf';
/** Root device name of the Flatcar AMIs. */
const ROOT_DEVICE = '/dev/xvda';

/** What the agent config is made of. */
export interface AgentConfigInput {
  readonly joinStrategy: JoinStrategy;
  readonly size: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly tls?: ClusterTls;
  readonly backup?: BackupWiring;
}

/** The join agent's config file (/etc/etcd-agent/config.json on each member). */
export function agentConfig(input: AgentConfigInput): AgentConfigFile {
  const { tls, backup } = input;
  return {
    strategy: input.joinStrategy,
    sizeCap: input.size,
    peerPort: input.peerPort,
    clientPort: input.clientPort,
    scheme: tls ? 'https' : 'http',
    ...(tls && {
      tls: { caSecretId: tls.caSecret.secretArn, certDir: TLS_HOST_DIR, etcdCertDir: TLS_ETCD_DIR },
    }),
    dataDir: ETCD_DATA_DIR,
    envFile: ETCD_ENV_FILE,
    output: 'env',
    launchHookName: LAUNCH_HOOK_NAME,
    deadlineSeconds: AGENT_DEADLINE_SECONDS,
    // Backups: the restore gate's settings.
    ...(backup && {
      backupBucketFile: BACKUP_BUCKET_PATH,
      backupPrefix: backup.prefix,
      restorePolicy: backup.options.restorePolicy ?? RestorePolicy.MANUAL,
      emptyStartBesideBackups: backup.options.startEmptyBesideBackups === true,
    }),
  };
}

export interface MemberLaunchTemplateInput {
  readonly instanceType: ec2.InstanceType;
  readonly machineImage: ec2.IMachineImage;
  readonly role: iam.IRole;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly agent: AgentBundle;
  readonly agentConfig: AgentConfigFile;
  readonly nodeImage: string;
  readonly etcdImage: string;
  readonly dataVolumeSize: number;
  readonly backup?: BackupWiring;
}

/** The launch template: Flatcar with the Ignition config as user data, IMDSv2, encrypted gp3 volumes. */
export function memberLaunchTemplate(
  cluster: Construct,
  input: MemberLaunchTemplateInput,
): ec2.LaunchTemplate {
  const ignition = renderIgnition({
    agentSource: input.agent.source,
    agentSha512: input.agent.sha512,
    agentConfig: input.agentConfig,
    nodeImage: input.nodeImage,
    etcdImage: input.etcdImage,
    dataDevice: DATA_DEVICE,
    agentTimeoutSeconds: AGENT_DEADLINE_SECONDS + IMAGE_PULL_ALLOWANCE_SECONDS,
    backupBucket: input.backup?.bucket.bucketName,
  });
  const volume = (sizeGiB: number) =>
    ec2.BlockDeviceVolume.ebs(sizeGiB, {
      volumeType: ec2.EbsDeviceVolumeType.GP3,
      encrypted: true,
      deleteOnTermination: true,
    });
  return new ec2.LaunchTemplate(cluster, 'LaunchTemplate', {
    instanceType: input.instanceType,
    machineImage: input.machineImage,
    role: input.role,
    securityGroup: input.securityGroup,
    // Flatcar's Ignition reads the user data as an Ignition config: no shebang, raw JSON.
    userData: ec2.UserData.custom(JSON.stringify(ignition)),
    requireImdsv2: true,
    // One-minute EC2 metrics (CPU, network, EBS): etcd trouble shows up in seconds, not five minutes.
    detailedMonitoring: true,
    blockDevices: [
      { deviceName: ROOT_DEVICE, volume: volume(20) },
      { deviceName: DATA_DEVICE, volume: volume(input.dataVolumeSize) },
    ],
  });
}
