/*
 * An EtcdCluster's props with their defaults applied, validated (synth time only): every error at once in
 * one exception that names the props, the warnings as acknowledgeable annotations.
 */
import * as fs from 'fs';
import { Annotations, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AGENT_BUNDLE, LAMBDA_BUNDLE_DIR } from '../assets';
import { checkBackupOptions } from '../backup';
import { DEFAULTS } from '../contract/defaults';
import { EtcdClusterProps } from '../etcd-cluster-props';
import { chooseFlatcarImage } from '../flatcar-ami';
import { JoinStrategy } from '../join-strategy';
import { checkMaintenanceOptions, maintenanceWarnings } from '../maintenance';
import { checkEtcdArchitecture, checkProps, versionOfImage } from '../validation';
import { ResolvedAlarms, resolveAlarms } from '../alarm-options';
import { ResolvedMaintenance, resolveMaintenance } from './maintenance';
import { DEFAULT_ETCD_VERSION, DEFAULT_NODE_IMAGE } from './names';

/** The props an EtcdCluster is built from: defaults applied, checked. */
export interface ResolvedProps {
  readonly size: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataVolumeSize: number;
  readonly reconcileInterval: Duration;
  readonly unstartedGrace: Duration;
  readonly heartbeatTimeout: Duration;
  /** The rollout gate's wait for signals (creation and each rolling-update batch). */
  readonly rolloutSignalTimeout: Duration;
  readonly nodeImage: string;
  readonly joinStrategy: JoinStrategy;
  readonly instanceType: ec2.InstanceType;
  readonly machineImage: ec2.IMachineImage;
  readonly etcdImage: string;
  /** The etcd release the image runs: etcdVersion, else the image's tag (checked: one of them tells it). */
  readonly etcdVersion: string;
  readonly tlsEnabled: boolean;
  readonly logRetention: logs.RetentionDays;
  /** Where the members, the lifecycle Lambda and the TLS material function run. */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** etcd's backend settings and the Lambda's maintenance. */
  readonly maintenance: ResolvedMaintenance;
  /** Which alarms the cluster creates. */
  readonly alarms: ResolvedAlarms;
  /** Whether the cluster creates its dashboard. */
  readonly dashboard: boolean;
}

/**
 * Applies the defaults and checks the props of the EtcdCluster `cluster`. Throws one error listing every
 * problem (each message names its prop); adds the warnings to `cluster`.
 */
export function resolveProps(cluster: Construct, props: EtcdClusterProps): ResolvedProps {
  const size = props.size ?? 3;
  const clientPort = props.clientPort ?? DEFAULTS.clientPort;
  const peerPort = props.peerPort ?? DEFAULTS.peerPort;
  const dataVolumeSize = props.dataVolumeSize ?? 20;
  const reconcileInterval = props.reconcileInterval ?? Duration.minutes(5);
  const unstartedGrace = props.unstartedGrace ?? Duration.seconds(DEFAULTS.unstartedGraceSeconds);
  const heartbeatTimeout = props.lifecycleHeartbeatTimeout ?? Duration.minutes(15);
  const rolloutSignalTimeout = props.rolloutSignalTimeout ?? Duration.minutes(30);
  const nodeImage = props.nodeImage ?? DEFAULT_NODE_IMAGE;
  const joinStrategy = props.joinStrategy ?? JoinStrategy.REPLACE;
  const instanceType =
    props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M6I, ec2.InstanceSize.LARGE);

  const tlsEnabled = props.tls ?? true;
  const checked = checkProps({
    size,
    dataVolumeSize,
    clientPort,
    peerPort,
    reconcileInterval,
    unstartedGrace,
    lifecycleHeartbeatTimeout: heartbeatTimeout,
    rolloutSignalTimeout,
    etcdVersion: props.etcdVersion,
    etcdImage: props.etcdImage,
    nodeImage,
  });
  const errors = [
    ...checked.errors,
    // A given etcdImage may be an arm64 build whatever its release.
    ...checkEtcdArchitecture(props.etcdImage === undefined ? props.etcdVersion : undefined, instanceType),
    ...checkBackupOptions(props.backup ?? {}),
    ...checkMaintenanceOptions(props.maintenance ?? {}, dataVolumeSize),
  ];
  if (!tlsEnabled && props.caSecret) errors.push('caSecret: only with tls enabled (tls is false)');
  let machineImage = props.machineImage;
  if (!machineImage) {
    const choice = chooseFlatcarImage(cluster, instanceType.architecture);
    if (choice.error) errors.push(choice.error);
    machineImage = choice.image;
  }
  if (!fs.existsSync(AGENT_BUNDLE)) {
    errors.push(`agent bundle: ${AGENT_BUNDLE} is missing; build it with \`npm run bundle\``);
  }
  if (!fs.existsSync(LAMBDA_BUNDLE_DIR)) {
    errors.push(
      `lifecycle function bundle: ${LAMBDA_BUNDLE_DIR} is missing; build it with \`npm run bundle\``,
    );
  }
  if (errors.length > 0 || !machineImage) {
    throw new Error(`Invalid EtcdCluster props at ${cluster.node.path}:\n  - ${errors.join('\n  - ')}`);
  }
  for (const w of [...checked.warnings, ...maintenanceWarnings(props.maintenance ?? {})])
    Annotations.of(cluster).addWarningV2(w.id, w.message);
  if (!tlsEnabled) {
    Annotations.of(cluster).addWarningV2(
      'cdk-elastic-etcd:tlsDisabled',
      'tls is false: etcd serves plain http without client authentication, so anything that reaches the client ' +
        'port can read and write every key, and peer traffic is unencrypted. Keep TLS on unless the network is ' +
        'the only boundary you need.',
    );
  }
  return {
    size,
    clientPort,
    peerPort,
    dataVolumeSize,
    reconcileInterval,
    unstartedGrace,
    heartbeatTimeout,
    rolloutSignalTimeout,
    nodeImage,
    joinStrategy,
    instanceType,
    machineImage,
    etcdImage: props.etcdImage ?? `quay.io/coreos/etcd:v${props.etcdVersion ?? DEFAULT_ETCD_VERSION}`,
    etcdVersion:
      props.etcdVersion ??
      (props.etcdImage !== undefined ? versionOfImage(props.etcdImage)! : DEFAULT_ETCD_VERSION),
    tlsEnabled,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    maintenance: resolveMaintenance(props.maintenance ?? {}),
    alarms: resolveAlarms(props.alarms ?? {}),
    dashboard: props.dashboard ?? true,
  };
}
