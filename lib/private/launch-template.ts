/*
 * The members' launch template (synth time only): the agent config, rendered into the Ignition user data
 * by lib/ignition.ts, and the volumes.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { AgentConfig, AgentRolloutSignalConfig } from '../contract';
import { drillIntervalSeconds, incrementalBackupSeconds } from '../backup';
import { etcdCommand, renderIgnition, restoreCommand } from '../ignition';
import { JoinStrategy } from '../join-strategy';
import { ClusterTls } from '../tls';
import { BackupWiring } from './backup-bucket';
import { ResolvedMaintenance } from './maintenance';
import { AgentBundle } from './members';
import { renderAgentConfig } from './run-time-config';

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
  /** The etcd image: its restore tool is the agent's restore command. */
  readonly etcdImage: string;
  /** The release the image runs (the restore tool; the agent's version-skew check). */
  readonly etcdVersion: string;
  readonly tls?: ClusterTls;
  readonly backup?: BackupWiring;
  /** etcd's backend settings (quota, compaction, corruption checks). */
  readonly maintenance: ResolvedMaintenance;
  /** The rollout gate: the stack and the group's logical id the agent signals. */
  readonly rolloutSignal?: AgentRolloutSignalConfig;
}

/** The join agent's config file (/etc/etcd-agent/config.json on each member): ./run-time-config.ts renders it. */
export function agentConfig(input: AgentConfigInput): AgentConfig {
  const { tls, backup } = input;
  return renderAgentConfig({
    strategy: input.joinStrategy,
    size: input.size,
    clientPort: input.clientPort,
    peerPort: input.peerPort,
    caSecretId: tls?.caSecret.secretArn,
    // Backups: the restore gate's settings.
    backup: backup && {
      prefix: backup.prefix,
      restorePolicy: backup.options.restorePolicy,
      emptyStartBesideBackups: backup.options.startEmptyBesideBackups,
      // The etcd image's own tool, copied out of the image at boot (lib/ignition.ts, restoreToolCopy).
      restoreCommand: restoreCommand(input.etcdImage, input.etcdVersion),
      // The image's etcd, copied beside it (a restore replays the incremental log into a scratch etcd; the
      // restore drills start their scratch etcd from it), written whenever backups are on.
      etcdCommand: etcdCommand(),
      incrementalBackupSeconds: incrementalBackupSeconds(backup.options),
    },
    backend: input.maintenance.backend,
    etcdVersion: input.etcdVersion,
    rolloutSignal: input.rolloutSignal,
  });
}

export interface MemberLaunchTemplateInput {
  readonly instanceType: ec2.InstanceType;
  readonly machineImage: ec2.IMachineImage;
  readonly role: iam.IRole;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly agent: AgentBundle;
  readonly agentConfig: AgentConfig;
  readonly nodeImage: string;
  readonly etcdImage: string;
  /** The release the image runs (which restore tool the image has). */
  readonly etcdVersion: string;
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
    etcdVersion: input.etcdVersion,
    dataDevice: DATA_DEVICE,
    agentTimeoutSeconds: input.agentConfig.deadlineSeconds + IMAGE_PULL_ALLOWANCE_SECONDS,
    backupBucket: input.backup?.bucket.bucketName,
    drillIntervalSeconds: input.backup && drillIntervalSeconds(input.backup.options),
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
