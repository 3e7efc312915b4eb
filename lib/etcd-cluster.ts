import * as crypto from 'crypto';
import * as fs from 'fs';
import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AGENT_BUNDLE, LAMBDA_BUNDLE_DIR } from './assets';
import {
  checkBackupOptions,
  EtcdBackupOptions,
  prepareBackups,
  restoreAwaitedAlarm,
  wireBackups,
} from './backup';
import { allowLogGroups, CFN_GUARD, createDataKey } from './controls';
import { chooseFlatcarImage } from './flatcar-ami';
import { renderIgnition, restoreCommand } from './ignition';
import { renderAgentConfig, renderLifecycleEnvironment } from './private/run-time-config';
import { JoinStrategy } from './join-strategy';
import { ClusterTls, decryptViaSecretsManager } from './tls';
import { checkEtcdArchitecture, checkProps } from './validation';
import { tcpPort } from './tokens';

/** The etcd release used when neither `etcdVersion` nor `etcdImage` is given (a pinned 3.5 patch release). */
export const DEFAULT_ETCD_VERSION = '3.5.26';

/**
 * The container image that runs the join agent when `nodeImage` is not given: the official Node.js 22
 * image (Alpine variant), pinned by digest so every instance runs the same bytes.
 */
export const DEFAULT_NODE_IMAGE =
  'docker.io/library/node:22-alpine@sha256:8094c002d08262dba12645a3b4a15cd6cd627d30bc782f53229a2ec13ee22a00';

/** Name of the launch lifecycle hook (the agent's `promote` completes it). */
export const LAUNCH_HOOK_NAME = 'cdk-elastic-etcd-launch';
/** CloudWatch namespace of the lifecycle Lambda's metrics (lambda/lifecycle/log.ts). */
export const METRIC_NAMESPACE = 'CdkElasticEtcd';
/** Name of the terminate lifecycle hook (the lifecycle Lambda completes it). */
export const TERMINATE_HOOK_NAME = 'cdk-elastic-etcd-terminate';

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

/** The behaviour of an etcd cluster that other constructs use. */
export interface IEtcdCluster extends IConstruct, ec2.IConnectable {
  /** Name of the Auto Scaling group that runs the members. */
  readonly autoScalingGroupName: string;
  /** TCP port of etcd's client API. */
  readonly clientPort: number;
  /** TCP port of etcd's peer (member to member) traffic. */
  readonly peerPort: number;
}

/** Properties of an {@link EtcdCluster}. */
export interface EtcdClusterProps {
  /** The VPC to run the members (and the lifecycle Lambda) in. */
  readonly vpc: ec2.IVpc;

  /**
   * Where to place the members (and the lifecycle Lambda). Spread them over at least three
   * Availability Zones for a cluster that survives the loss of one zone.
   *
   * @default - the VPC's private subnets with egress (`SubnetType.PRIVATE_WITH_EGRESS`)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Number of members: the Auto Scaling group's min, max and desired capacity, and the agent's
   * size cap. 1 to 7; an even size gets the acknowledgeable warning `cdk-elastic-etcd:evenSize`.
   *
   * @default 3
   */
  readonly size?: number;

  /**
   * EC2 instance type of the members. Its architecture also picks the Flatcar AMI (x86_64 or arm64).
   *
   * @default - m6i.large: 2 vCPU and 8 GiB without CPU credits, so etcd's heartbeats never stall on
   * an exhausted burst balance (a t3 instance can, and then loses leadership)
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The machine image. It must be Flatcar Container Linux (the user data is an Ignition config, and
   * the members run Flatcar's `etcd-member.service`).
   *
   * @default - the newest Flatcar stable AMI (`Flatcar-stable-*-hvm`, or `Flatcar-stable-*-arm64-hvm`
   * for arm64 instance types) of owner 075585003325, found with `MachineImage.lookup` when the stack
   * has a concrete account and region; for an environment-agnostic stack, the region map in context
   * `cdk-elastic-etcd:flatcarAmi`; otherwise synth fails with an error that says what to pass.
   */
  readonly machineImage?: ec2.IMachineImage;

  /**
   * etcd release to run, without the "v" (3.4.x to 3.6.x). Selects `quay.io/coreos/etcd:v<version>`.
   * Set either this or `etcdImage`.
   *
   * @default '3.5.26'
   */
  readonly etcdVersion?: string;

  /**
   * Full etcd container image reference, e.g. an ECR pull-through cache of quay.io for subnets
   * without internet access. Set either this or `etcdVersion`.
   *
   * @default - `quay.io/coreos/etcd:v<etcdVersion>`
   */
  readonly etcdImage?: string;

  /**
   * Container image with `node` (Node.js 20 or later) that runs the join agent. Pin it by digest;
   * point it at a mirror (e.g. an ECR pull-through cache of Docker Hub) for subnets without
   * internet access.
   *
   * @default - the official Node.js 22 Alpine image by digest ({@link DEFAULT_NODE_IMAGE})
   */
  readonly nodeImage?: string;

  /**
   * How a new instance joins the cluster (elastic-etcd's strategies).
   *
   * @default JoinStrategy.REPLACE
   */
  readonly joinStrategy?: JoinStrategy;

  /**
   * Size of each member's data volume (gp3, encrypted, mounted at /var/lib/etcd), in GiB.
   *
   * @default 20
   */
  readonly dataVolumeSize?: number;

  /**
   * TCP port of etcd's client API. The `connections` default port.
   *
   * @default 2379
   */
  readonly clientPort?: number;

  /**
   * TCP port of etcd's peer traffic.
   *
   * @default 2380
   */
  readonly peerPort?: number;

  /**
   * How often the lifecycle Lambda reconciles the member list with the group (events are
   * best-effort, so this catches what they miss). A whole number of minutes, 1 to 1440.
   *
   * @default Duration.minutes(5)
   */
  readonly reconcileInterval?: Duration;

  /**
   * How long a member entry may stay added-but-never-started before the reconcile removes it (an
   * unstarted entry counts against quorum). 60 s to 24 h; shorter than
   * `lifecycleHeartbeatTimeout` gets the warning `cdk-elastic-etcd:shortUnstartedGrace`.
   *
   * @default Duration.minutes(20)
   */
  readonly unstartedGrace?: Duration;

  /**
   * Heartbeat timeout of both lifecycle hooks, 30 to 7200 seconds. The agent sends heartbeats while
   * it waits, so this bounds how long a silent (dead) agent or Lambda holds an instance.
   *
   * @default Duration.minutes(15)
   */
  readonly lifecycleHeartbeatTimeout?: Duration;

  /**
   * Snapshots to S3 and the restore after quorum loss (README: Backups and disaster recovery).
   *
   * @default - backups on: a new bucket, a snapshot every 30 minutes and before each member removal,
   * kept 30 days, restore policy MANUAL
   */
  readonly backup?: EtcdBackupOptions;

  /**
   * TLS on etcd's client and peer ports, with client-certificate authentication on both
   * (`--client-cert-auth`, `--peer-client-cert-auth`). Each member issues its own certificate from the
   * cluster CA at boot. Turning it off leaves the cluster readable and writable by anything that reaches
   * the client port inside the security group, and gets the warning `cdk-elastic-etcd:tlsDisabled`.
   *
   * @default true
   */
  readonly tls?: boolean;

  /**
   * Bring your own cluster CA: a Secrets Manager secret whose SecretString is JSON
   * `{"caCert": "<PEM>", "caKey": "<PKCS#8 PEM>"}` with an ECDSA P-256 key. If it is encrypted with a
   * customer managed KMS key, import it with that key (`Secret.fromSecretAttributes({ encryptionKey })`)
   * so the members may decrypt it. Only with `tls` on.
   *
   * @default - a CA generated at deploy time (10 years) into a new secret encrypted with a new KMS key
   */
  readonly caSecret?: secretsmanager.ISecret;

  /**
   * Actions of every alarm the cluster creates (the certificate expiry alarm with TLS, the snapshot age
   * alarm with backups), e.g. `[new cloudwatch_actions.SnsAction(topic)]`. An alarm without an action only
   * changes its state; AWS Control Tower's proactive control CT.CLOUDWATCH.PR.1 rejects such alarms.
   *
   * @default - no actions: add your own to `certificateExpiryAlarm` and `snapshotAgeAlarm`
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];

  /**
   * How long the log groups of the lifecycle Lambda and the TLS material function keep their events.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * KMS key that encrypts the backup bucket the construct creates (SSE-KMS with an S3 bucket key) and the
   * log groups of its functions. The construct adds a key policy statement for CloudWatch Logs
   * (`logs.<region>.amazonaws.com`, log groups of this account and region) only to a key defined in this
   * app (`kms.Key`); an imported key must already allow it.
   *
   * @default - a new customer managed key, rotated yearly, kept (RemovalPolicy.RETAIN) as long as the created
   * backup bucket is kept
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A self-healing etcd cluster on an EC2 Auto Scaling group of Flatcar Container Linux instances.
 *
 * Each instance joins the cluster by itself at boot (the join agent, run from Ignition-installed
 * systemd units), a terminating instance leaves the member list through the terminate lifecycle
 * hook (the lifecycle Lambda), and a scheduled reconcile cleans up what events missed.
 *
 * Clients connect on `clientPort`: `cluster.connections.allowDefaultPortFrom(myApp)`.
 */
export class EtcdCluster extends Construct implements IEtcdCluster {
  /** The Auto Scaling group that runs the members. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** Name of the Auto Scaling group (a plain string, fixed at synth time). */
  public readonly autoScalingGroupName: string;
  /** Network access to the cluster; the default port is the client port. */
  public readonly connections: ec2.Connections;
  /** TCP port of etcd's client API. */
  public readonly clientPort: number;
  /** TCP port of etcd's peer traffic. */
  public readonly peerPort: number;
  /** The lifecycle/reconcile Lambda. */
  public readonly lifecycleFunction: lambda.IFunction;
  /** The members' security group. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** The members' instance role. */
  public readonly role: iam.IRole;
  /** The join strategy in use. */
  public readonly joinStrategy: JoinStrategy;
  /** The etcd container image the members run. */
  public readonly etcdImage: string;
  /** The bucket of snapshots and restore records (undefined when backups are disabled). */
  public readonly backupBucket?: s3.IBucket;
  /** Key prefix of the snapshots and restore records in `backupBucket`. */
  public readonly backupPrefix: string = '';
  /** Alarm on the age of the newest complete snapshot (undefined when backups are disabled). */
  public readonly snapshotAgeAlarm?: cloudwatch.Alarm;
  /**
   * Alarm while the group waits for the restore trigger: the quorum is lost for good (e.g. a total loss)
   * under `RestorePolicy.MANUAL` (undefined when backups are disabled).
   */
  public readonly restoreAwaitedAlarm?: cloudwatch.Alarm;
  /** Whether peers and clients use TLS with client-certificate authentication. */
  public readonly tlsEnabled: boolean;
  /** The cluster CA secret (`{caCert, caKey}`); undefined without TLS. */
  public readonly caSecret?: secretsmanager.ISecret;
  /**
   * The client identity secret (`{ca, cert, key}`, PEM: etcdctl's --cacert/--cert/--key); undefined
   * without TLS. Give consumers access with {@link grantClientAccess}.
   */
  public readonly clientSecret?: secretsmanager.ISecret;
  /** The KMS key of the generated secrets; undefined without TLS. */
  public readonly tlsKey?: kms.IKey;
  /** The KMS key of the created backup bucket and of the functions' log groups. */
  public readonly encryptionKey: kms.IKey;
  /**
   * Alarm when a certificate of the cluster (CA, the Lambda's client identity, a member's served
   * certificate) has fewer than 30 days left; undefined without TLS. Add your actions to it.
   */
  public readonly certificateExpiryAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    const stack = Stack.of(this);

    const size = props.size ?? 3;
    const clientPort = props.clientPort ?? 2379;
    const peerPort = props.peerPort ?? 2380;
    const dataVolumeSize = props.dataVolumeSize ?? 20;
    const reconcileInterval = props.reconcileInterval ?? Duration.minutes(5);
    const unstartedGrace = props.unstartedGrace ?? Duration.minutes(20);
    const heartbeatTimeout = props.lifecycleHeartbeatTimeout ?? Duration.minutes(15);
    const nodeImage = props.nodeImage ?? DEFAULT_NODE_IMAGE;
    const strategy = props.joinStrategy ?? JoinStrategy.REPLACE;
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
      etcdVersion: props.etcdVersion,
      etcdImage: props.etcdImage,
      nodeImage,
    });
    const errors = [
      ...checked.errors,
      ...checkEtcdArchitecture(props.etcdVersion, instanceType),
      ...checkBackupOptions(props.backup ?? {}),
    ];
    if (!tlsEnabled && props.caSecret) errors.push('caSecret: only with tls enabled (tls is false)');
    let machineImage = props.machineImage;
    if (!machineImage) {
      const choice = chooseFlatcarImage(this, instanceType.architecture);
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
    if (errors.length > 0) {
      throw new Error(`Invalid EtcdCluster props at ${this.node.path}:\n  - ${errors.join('\n  - ')}`);
    }
    for (const w of checked.warnings) Annotations.of(this).addWarningV2(w.id, w.message);
    if (!tlsEnabled) {
      Annotations.of(this).addWarningV2(
        'cdk-elastic-etcd:tlsDisabled',
        'tls is false: etcd serves plain http without client authentication, so anything that reaches the client ' +
          'port can read and write every key, and peer traffic is unencrypted. Keep TLS on unless the network is ' +
          'the only boundary you need.',
      );
    }
    this.tlsEnabled = tlsEnabled;

    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.joinStrategy = strategy;
    this.etcdImage = props.etcdImage ?? `quay.io/coreos/etcd:v${props.etcdVersion ?? DEFAULT_ETCD_VERSION}`;

    // A fixed, deterministic group name: the IAM policies and the EventBridge patterns name the group
    // without referencing the group resource, which would make a cycle (role -> group -> launch
    // template -> instance profile -> role) and let instances boot before their permissions exist.
    // Changing the construct path changes the name, which replaces the group.
    this.autoScalingGroupName = Names.uniqueResourceName(this, { maxLength: 200 });
    const groupArn = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${this.autoScalingGroupName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // ---- Network ---------------------------------------------------------------------------------
    // Egress is limited to HTTPS (S3 for the agent bundle, the Auto Scaling and EC2 APIs, the image
    // registries, Flatcar updates) plus etcd's own ports inside the group. DNS, NTP and the instance
    // metadata service use link-local addresses that security groups do not filter.
    const sg = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'etcd members (cdk-elastic-etcd): peers and clients from the cluster itself',
      allowAllOutbound: false,
    });
    sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: S3, AWS APIs, container registries');
    this.securityGroup = sg;
    const clientTcp = tcpPort(clientPort, 'clientPort');
    this.connections = new ec2.Connections({ securityGroups: [sg], defaultPort: clientTcp });
    this.connections.allowInternally(tcpPort(peerPort, 'peerPort'), 'etcd peers');
    this.connections.allowInternally(clientTcp, 'etcd clients (members and agents)');

    // ---- Instance role ---------------------------------------------------------------------------
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'etcd members (cdk-elastic-etcd): join agent',
    });
    this.role = role;
    for (const statement of lifecycleStatements(groupArn)) role.addToPrincipalPolicy(statement);

    // The agent bundle: Ignition fetches it from S3 with the instance role and checks its sha512.
    const agent = new s3assets.Asset(this, 'AgentBundle', { path: AGENT_BUNDLE });
    // Read on this one object only (Asset.grantRead would grant read on the whole staging bucket).
    // GetBucketLocation lets Ignition find the bucket's region.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [agent.bucket.arnForObjects(agent.s3ObjectKey)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [agent.bucket.bucketArn] }),
    );
    const agentSha512 = crypto.createHash('sha512').update(fs.readFileSync(AGENT_BUNDLE)).digest('hex');
    // The data key: the created backup bucket and the log groups. Kept as long as the bucket it encrypts.
    const createsBucket = props.backup?.enabled !== false && !props.backup?.bucket;
    const encryptionKey =
      props.encryptionKey ??
      createDataKey(
        this,
        'Key',
        `cdk-elastic-etcd ${this.node.path}`,
        createsBucket ? (props.backup?.removalPolicy ?? RemovalPolicy.RETAIN) : RemovalPolicy.DESTROY,
      );
    // A no-op for an imported key (its policy is not ours to change).
    if (props.encryptionKey) allowLogGroups(props.encryptionKey);
    this.encryptionKey = encryptionKey;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const fnSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const backup = prepareBackups(this, props.backup ?? {}, encryptionKey);

    // ---- TLS material ----------------------------------------------------------------------------
    // The members read the CA and sign their own certificate at boot (they already hold all the data,
    // so the CA key adds little to what a member can do); nothing else reads the CA.
    let tls: ClusterTls | undefined;
    if (tlsEnabled) {
      tls = new ClusterTls(this, 'Tls', {
        caSecret: props.caSecret,
        description: `cdk-elastic-etcd ${this.node.path}`,
        vpc: props.vpc,
        vpcSubnets: fnSubnets,
        logRetention,
        logKey: encryptionKey,
      });
      this.caSecret = tls.caSecret;
      this.clientSecret = tls.clientSecret;
      this.tlsKey = tls.key;
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [tls.caSecret.secretArn],
        }),
      );
      const caKey = props.caSecret ? props.caSecret.encryptionKey : tls.key;
      if (caKey) role.addToPrincipalPolicy(decryptViaSecretsManager(caKey, stack.region));
    }

    // ---- Launch template -------------------------------------------------------------------------
    const ignition = renderIgnition({
      agentSource: `s3://${agent.s3BucketName}/${agent.s3ObjectKey}`,
      agentSha512,
      agentConfig: renderAgentConfig({
        strategy,
        size,
        clientPort,
        peerPort,
        caSecretId: tls?.caSecret.secretArn,
        backup: backup && {
          prefix: backup.prefix,
          restorePolicy: props.backup?.restorePolicy,
          emptyStartBesideBackups: props.backup?.startEmptyBesideBackups,
          // The etcd image's own tool, copied out of the image at boot (lib/ignition.ts, restoreToolCopy).
          restoreCommand: restoreCommand(this.etcdImage),
        },
      }),
      nodeImage,
      etcdImage: this.etcdImage,
      dataDevice: DATA_DEVICE,
      agentTimeoutSeconds: AGENT_DEADLINE_SECONDS + IMAGE_PULL_ALLOWANCE_SECONDS,
      backupBucket: backup?.bucket.bucketName,
    });
    const volume = (sizeGiB: number) =>
      ec2.BlockDeviceVolume.ebs(sizeGiB, {
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        encrypted: true,
        deleteOnTermination: true,
      });
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType,
      machineImage,
      role,
      securityGroup: sg,
      // Flatcar's Ignition reads the user data as an Ignition config: no shebang, raw JSON.
      userData: ec2.UserData.custom(JSON.stringify(ignition)),
      requireImdsv2: true,
      // One-minute EC2 metrics (CPU, network, EBS): etcd trouble shows up in seconds, not five minutes.
      detailedMonitoring: true,
      blockDevices: [
        { deviceName: ROOT_DEVICE, volume: volume(20) },
        { deviceName: DATA_DEVICE, volume: volume(dataVolumeSize) },
      ],
    });

    // ---- Auto Scaling group ----------------------------------------------------------------------
    const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const groupSubnets = props.vpc.selectSubnets(vpcSubnets);
    const group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets,
      launchTemplate,
      autoScalingGroupName: this.autoScalingGroupName,
      minCapacity: size,
      maxCapacity: size,
      desiredCapacity: size,
      // A terminate action the Lambda abandons (removal would lose quorum) keeps the instance.
      instanceLifecyclePolicy: {
        retentionTriggers: { terminateHookAbandon: autoscaling.TerminateHookAbandonAction.RETAIN },
      },
      // Template changes (e.g. a new AMI) replace one member at a time.
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: size - 1,
        pauseTime: Duration.minutes(5),
      }),
    });
    // The hooks are part of the group itself, so even the very first instances launch through them
    // (hooks added with addLifecycleHook are created after the group and miss the first launches).
    // Both results are explicit: CloudFormation's default is ABANDON whatever CDK's docs say.
    const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.lifecycleHookSpecificationList = [
      {
        lifecycleHookName: LAUNCH_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        // An instance whose agent never reports a healthy voter is terminated and replaced.
        defaultResult: 'ABANDON',
        heartbeatTimeout: heartbeatTimeout.toSeconds(),
      },
      {
        lifecycleHookName: TERMINATE_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        // A silent Lambda must not pin instances forever: on timeout the instance goes and the
        // reconcile removes its member later. The Lambda answers ABANDON itself when removal is unsafe.
        defaultResult: 'CONTINUE',
        heartbeatTimeout: heartbeatTimeout.toSeconds(),
      },
    ];
    // The group's zones, next to its subnets (the same zones): AWS Control Tower's CT.AUTOSCALING.PR.1 reads
    // AvailabilityZones. Left out when a subnet's zone is unknown (a subnet imported by id alone).
    const zones = availabilityZonesOf(groupSubnets);
    if (zones) cfnGroup.availabilityZones = zones;
    // min = max = desired on purpose: every deployment resets the group to `size`.
    Annotations.of(group).acknowledgeWarning(
      '@aws-cdk/aws-autoscaling:desiredCapacitySet',
      'min = max = desired = size: resetting the size on deployment is the intent',
    );
    // Instances boot only once the role's policy (lifecycle + S3 permissions) exists, and with TLS once
    // the CA is in its secret.
    group.node.addDependency(role);
    // ... and only once their subnets' default routes (NAT) exist: on a first deploy with a new VPC an
    // instance could otherwise boot before it can reach S3, Ignition's fetch of the agent would fail, and
    // the launch hook would abandon it after its timeout. (Empty for an imported VPC.)
    group.node.addDependency(groupSubnets.internetConnectivityEstablished);
    if (tls) group.node.addDependency(tls.material);
    this.autoScalingGroup = group;

    // ---- Lifecycle / reconcile Lambda ------------------------------------------------------------
    const fnSg = new ec2.SecurityGroup(this, 'LifecycleFunctionSecurityGroup', {
      vpc: props.vpc,
      description: 'cdk-elastic-etcd lifecycle Lambda: etcd client port of the members, HTTPS to AWS APIs',
      allowAllOutbound: false,
    });
    fnSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs');
    this.connections.allowDefaultPortFrom(fnSg, 'lifecycle Lambda');

    const fnLogs = new logs.LogGroup(this, 'LifecycleFunctionLogs', {
      retention: logRetention,
      encryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const fn = new lambda.Function(this, 'LifecycleFunction', {
      role: lifecycleFunctionRole(this, fnLogs),
      description: `cdk-elastic-etcd: lifecycle actions and reconcile of ${this.autoScalingGroupName}`,
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(LAMBDA_BUNDLE_DIR),
      handler: 'index.handler',
      // Backups stream snapshots through the function (before removals too): more time and memory for them.
      timeout: backup ? Duration.minutes(10) : Duration.minutes(2),
      memorySize: backup ? 512 : 256,
      vpc: props.vpc,
      vpcSubnets: fnSubnets,
      securityGroups: [fnSg],
      logGroup: fnLogs,
      environment: renderLifecycleEnvironment({
        groupName: this.autoScalingGroupName,
        clientPort,
        peerPort,
        strategy,
        unstartedGraceSeconds: unstartedGrace.toSeconds(),
        // The secret's ARN, not its value: the function reads the identity at run time.
        clientSecretId: tls?.clientSecret.secretArn,
        backup: backup && {
          bucket: backup.bucket.bucketName,
          prefix: backup.prefix,
          restorePolicy: props.backup?.restorePolicy,
          restoreAfterSeconds: props.backup?.restoreAfter?.toSeconds(),
          snapshotBeforeRemoval: props.backup?.snapshotBeforeMembershipChange,
        },
      }),
    });
    for (const statement of lifecycleStatements(groupArn)) fn.addToRolePolicy(statement);
    fn.addToRolePolicy(retainedTerminationStatement(this.autoScalingGroupName));
    if (tls) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [tls.clientSecret.secretArn],
        }),
      );
      fn.addToRolePolicy(decryptViaSecretsManager(tls.key, stack.region));
    }
    this.lifecycleFunction = fn;

    const target = new targets.LambdaFunction(fn);
    const actions: [string, string][] = [
      ['LaunchActionRule', 'EC2 Instance-launch Lifecycle Action'],
      ['TerminateActionRule', 'EC2 Instance-terminate Lifecycle Action'],
    ];
    for (const [ruleId, detailType] of actions) {
      new events.Rule(this, ruleId, {
        description: `cdk-elastic-etcd: ${detailType} of ${this.autoScalingGroupName}`,
        eventPattern: {
          source: ['aws.autoscaling'],
          detailType: [detailType],
          detail: { AutoScalingGroupName: [this.autoScalingGroupName] },
        },
        targets: [target],
      });
    }
    new events.Rule(this, 'ReconcileSchedule', {
      description: `cdk-elastic-etcd: reconcile the members of ${this.autoScalingGroupName}`,
      schedule: events.Schedule.rate(reconcileInterval),
      targets: [
        new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ kind: 'reconcile' }) }),
      ],
    });

    if (tls) {
      this.certificateExpiryAlarm = new cloudwatch.Alarm(this, 'CertificateExpiryAlarm', {
        alarmDescription:
          `cdk-elastic-etcd ${this.autoScalingGroupName}: a cluster certificate expires within 30 days ` +
          '(see README "Certificate rotation")',
        metric: this.metricCertificateDaysLeft(),
        threshold: 30,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    if (backup) {
      this.backupBucket = backup.bucket;
      this.backupPrefix = backup.prefix;
      this.snapshotAgeAlarm = wireBackups(this, {
        wiring: backup,
        options: props.backup ?? {},
        fn,
        instanceRole: role,
        groupName: this.autoScalingGroupName,
        snapshotAge: this.metricNewestSnapshotAge(),
      });
      this.restoreAwaitedAlarm = restoreAwaitedAlarm(
        this,
        this.metricAwaitingRestoreTrigger(),
        this.autoScalingGroupName,
      );
    }

    this.applyAlarmActions(props.alarmActions ?? []);
    this.acknowledgeNagFindings(groupArn);
    this.acknowledgeControlTowerFindings();
  }

  /**
   * Gives every alarm of the cluster (any `cloudwatch.Alarm` in this construct's tree, so also alarms added
   * later in the constructor) the `alarmActions`.
   */
  private applyAlarmActions(actions: cloudwatch.IAlarmAction[]): void {
    if (actions.length === 0) return;
    for (const c of this.node.findAll()) {
      if (c instanceof cloudwatch.Alarm) c.addAlarmAction(...actions);
    }
  }

  /**
   * AWS Control Tower proactive controls (cfn-guard rules, as @cdklabs/cdk-validator-cfnguard runs them) that
   * the construct does not meet on purpose, acknowledged on the exact resources with the reason (CDK's
   * Validations API). Listed in docs/CONSTRUCT.md.
   */
  private acknowledgeControlTowerFindings(): void {
    Validations.of(this.autoScalingGroup).acknowledge({
      id: `${CFN_GUARD}::autoscaling_mixed_instances_policy_multiple_instance_types_check`,
      reason:
        'CT.AUTOSCALING.PR.6 (multiple instance types): etcd members should be alike. Raft commits at the pace of ' +
        'the slowest voter of a quorum, and the AMI (x86_64 or arm64) and the etcd image follow the one instanceType.',
    });
  }

  /** Backup runs that stored no snapshot (scheduled, requested, or before a removal). */
  public metricBackupFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BackupFailures', props);
  }

  /** Restores started (a restore record written): the cluster was replaced from a snapshot. */
  public metricRestores(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Restores', props);
  }

  /** Seconds since the newest complete snapshot was taken, reported by every backup run (Minimum over 5 minutes). */
  public metricNewestSnapshotAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('NewestSnapshotAgeSeconds', {
      statistic: 'Minimum',
      unit: cloudwatch.Unit.SECONDS,
      ...props,
    });
  }

  /**
   * A metric the lifecycle Lambda publishes (CloudWatch embedded metric format, namespace
   * `CdkElasticEtcd`, dimension `AutoScalingGroupName`), summed over 5 minutes by default.
   * Names: `MemberRemovals`, `RetainedTerminations`, `RetainedTerminationsFinished`, `ReconcileRemovals`,
   * `StuckLearners`, `AwaitingRestoreTrigger`.
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.autoScalingGroupName },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * Lets `grantee` read the client identity secret (`{ca, cert, key}`, PEM) and so connect to etcd with
   * client-certificate authentication. Network access is separate:
   * `cluster.connections.allowDefaultPortFrom(consumer)`. Throws when TLS is off.
   */
  public grantClientAccess(grantee: iam.IGrantable): iam.Grant {
    if (!this.clientSecret) {
      throw new Error(
        `grantClientAccess: ${this.node.path} runs without TLS (tls: false); there is no client identity`,
      );
    }
    return this.clientSecret.grantRead(grantee);
  }

  /**
   * TLS clusters: whole days until the first cluster certificate expires (the CA, the Lambda's client
   * identity, each member's served certificate), measured by every scheduled reconcile. Minimum over 1 hour.
   */
  public metricCertificateDaysLeft(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CertificateDaysLeft', { statistic: 'Minimum', period: Duration.hours(1), ...props });
  }

  /** Members removed by the lifecycle Lambda (terminations and reconcile). */
  public metricMemberRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('MemberRemovals', props);
  }

  /**
   * Terminations the Lambda answered with ABANDON because removing the member was unsafe: the group's
   * retention policy kept the instance. Alarm on any: an operator has to look at the cluster.
   */
  public metricRetainedTerminations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RetainedTerminations', props);
  }

  /**
   * Retained terminations the reconcile finished: once removing the retained instance's member was safe, it
   * removed it and terminated the instance (EC2 TerminateInstances).
   */
  public metricRetainedTerminationsFinished(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RetainedTerminationsFinished', props);
  }

  /** 1 in every reconcile while the group waits for the restore trigger (manual policy, quorum lost for good). */
  public metricAwaitingRestoreTrigger(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('AwaitingRestoreTrigger', { statistic: 'Maximum', ...props });
  }

  /** Members the scheduled reconcile removed (their instance was gone, or they never started). */
  public metricReconcileRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ReconcileRemovals', props);
  }

  /** Learners that started but were not promoted, as seen by the reconcile. */
  public metricStuckLearners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('StuckLearners', props);
  }

  /**
   * cdk-nag (AwsSolutions) findings that are inherent to this design, acknowledged on the exact
   * resources with the reason (CDK's Validations API, which cdk-nag 3 reads). Listed in docs/CONSTRUCT.md.
   */
  private acknowledgeNagFindings(groupArn: string): void {
    const groupArnFinding = `AwsSolutions-IAM5[Resource::${flattenForNag(Stack.of(this).resolve(groupArn))}]`;
    const iamAcks = [
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeAutoScalingInstances and ec2:DescribeInstances ' +
          'support no resource-level permissions; "*" is the only resource they accept. ' +
          'ec2:RebootInstances (lifecycle Lambda, backups on) and ec2:TerminateInstances (lifecycle Lambda, ' +
          'retained terminations) are limited by the condition on the group tag.',
      },
      {
        id: groupArnFinding,
        reason:
          'The wildcard is the group id part of the Auto Scaling group ARN, which is only known after creation; ' +
          'the ARN is pinned to this group by its name.',
      },
    ];
    if (this.backupBucket) {
      const objects = this.backupBucket.arnForObjects(`${this.backupPrefix}*`);
      iamAcks.push({
        id: `AwsSolutions-IAM5[Resource::${flattenForNag(Stack.of(this).resolve(objects))}]`,
        reason:
          "Snapshots and restore records are objects under this cluster's prefix of the backup bucket, named by " +
          'time and generation at run time; the grant is limited to that prefix.',
      });
    }
    Validations.of(this.role).acknowledge(...iamAcks);
    const fn = this.lifecycleFunction as lambda.Function;
    Validations.of(fn.role!).acknowledge(...iamAcks, {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason:
        'The AWS managed policy that lets Lambda create the network interfaces of a function in a VPC (needed to reach etcd).',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to Node.js 22, the runtime the lifecycle bundle is built and tested for (supported until 2027); ' +
        'raised deliberately with the bundle target.',
    });
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        'Scaling and lifecycle events go to EventBridge (rules to the lifecycle Lambda), not SNS notifications.',
    });
  }
}

/**
 * The lifecycle Lambda's role: writing its own log group only (instead of the managed
 * AWSLambdaBasicExecutionRole, which allows every log group), and the managed
 * AWSLambdaVPCAccessExecutionRole that a function in a VPC needs (lambda.Function adds it only to a role
 * it creates itself).
 */
function lifecycleFunctionRole(scope: Construct, logGroup: logs.ILogGroup): iam.Role {
  const role = new iam.Role(scope, 'LifecycleFunctionServiceRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'cdk-elastic-etcd lifecycle Lambda',
    // The network interfaces of a function in a VPC (the EC2 actions involved need resource "*").
    managedPolicies: [
      iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
    ],
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}

/**
 * The distinct Availability Zones of the selected subnets, or undefined when a subnet's zone is unknown
 * (`Subnet.fromSubnetId` without a zone throws on access).
 */
function availabilityZonesOf(selected: ec2.SelectedSubnets): string[] | undefined {
  try {
    return [...new Set(selected.subnets.map((subnet) => subnet.availabilityZone))];
  } catch {
    return undefined;
  }
}

/** Flattens a resolved CloudFormation value the way cdk-nag names a finding: Ref X becomes <X>. */
function flattenForNag(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return `<${v.Ref}>`;
    if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if (Array.isArray(v['Fn::Join'])) {
      const [delimiter, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(flattenForNag).join(delimiter);
    }
  }
  return JSON.stringify(value);
}

/**
 * What both the agent (instance role) and the lifecycle Lambda may do in the Auto Scaling and EC2
 * APIs: look up groups and instances, and answer this group's lifecycle actions.
 */
/**
 * The reconcile terminates a retained instance (Terminating:Retained) once its member is removed: EC2
 * TerminateInstances, only on instances tagged with this group's name (the group tags its instances).
 */
function retainedTerminationStatement(groupName: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['ec2:TerminateInstances'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': groupName } },
  });
}

function lifecycleStatements(groupArn: string): iam.PolicyStatement[] {
  return [
    // These Describe* actions support no resource-level permissions: '*' is the only valid resource.
    new iam.PolicyStatement({
      actions: [
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'ec2:DescribeInstances',
      ],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      resources: [groupArn],
    }),
  ];
}
