/* The props of an EtcdCluster (public API; re-exported by lib/etcd-cluster.ts). */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { EtcdAlarmOptions } from './alarm-options';
import { EtcdBackupOptions } from './backup';
import { JoinStrategy } from './join-strategy';
import { EtcdMaintenanceOptions } from './maintenance';

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
   * etcd release to run, without the "v" (3.4.x to 3.6.x). Without `etcdImage` it selects
   * `quay.io/coreos/etcd:v<version>`. With `etcdImage` it states the release that image runs: needed when
   * the image's tag does not show it (a digest-pinned mirror), and it must match a release the tag shows.
   * The construct uses the release for the restore tool (etcdctl in 3.4, etcdutl from 3.5) and the agent's
   * version-skew check before a join.
   *
   * @default - the release in `etcdImage`'s tag; without `etcdImage`, '3.5.26'
   */
  readonly etcdVersion?: string;

  /**
   * Full etcd container image reference, e.g. an ECR pull-through cache of quay.io for subnets without
   * internet access. Its tag must name the release (`:v3.5.26`, `:3.5.26-arm64`, also before a
   * `@sha256:` digest); otherwise give `etcdVersion` too, or synth fails.
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
   * How long CloudFormation waits for the members' rollout signals: at the stack's creation for all `size`
   * members, and in a rolling update (a new launch template: a new AMI, etcd version or user data) for each
   * replacement, one at a time. A member's agent signals SUCCESS once it is a healthy voter, FAILURE when it
   * refuses to join (an unsafe etcd version skew); a FAILURE, or no signal within this time, fails the
   * deployment and CloudFormation rolls it back. 1 to 60 minutes (CloudFormation's PauseTime is at most
   * PT1H); known at synth time (CloudFormation takes it as an ISO 8601 duration in the group's policies).
   * README: "Planned changes".
   *
   * @default Duration.minutes(30)
   */
  readonly rolloutSignalTimeout?: Duration;

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
   * etcd's space and integrity settings (backend quota, auto-compaction, corruption checks) and the lifecycle
   * Lambda's maintenance (defragmentation, NOSPACE recovery). README: "Day two: space, maintenance, alarms".
   *
   * @default - quota 8 GiB, compaction periodic 1 hour, defragmentation on (every 5 minutes, a member with
   * at least 25 % and 64 MiB reclaimable), corruption checks on (at start and hourly)
   */
  readonly maintenance?: EtcdMaintenanceOptions;

  /**
   * Actions of every alarm the cluster creates (see `alarms`), e.g.
   * `[new cloudwatch_actions.SnsAction(topic)]`. An alarm without an action only changes its state; AWS
   * Control Tower's proactive control CT.CLOUDWATCH.PR.1 rejects such alarms.
   *
   * @default - no actions: add your own to the cluster's alarm properties
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];

  /**
   * Turn off single alarms of the cluster. Every alarm is on by default.
   *
   * @default - every alarm on
   */
  readonly alarms?: EtcdAlarmOptions;

  /**
   * A CloudWatch dashboard of the cluster (`dashboard`): members vs desired, backend size vs quota, leader
   * changes, removals and retained terminations, etcd alarms, maintenance, snapshot age (with backups) and
   * certificate days left (with TLS).
   *
   * @default true
   */
  readonly dashboard?: boolean;

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
