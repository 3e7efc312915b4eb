import { Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import { METRIC_DIMENSION, METRIC_NAMESPACE, MetricName } from './contract/names';
import { EtcdClusterProps } from './etcd-cluster-props';
import { JoinStrategy } from './join-strategy';
import { acknowledgeControlTowerFindings, acknowledgeNagFindings } from './private/acknowledgements';
import {
  applyAlarmActions,
  certificateExpiryAlarm,
  restoreAwaitedAlarm,
  snapshotAgeAlarm,
} from './private/alarms';
import { prepareBackups } from './private/backup-bucket';
import { wireBackups } from './private/backup-schedule';
import { clusterDataKey } from './private/data-key';
import { groupIdentity } from './private/group-permissions';
import { agentConfig, memberLaunchTemplate } from './private/launch-template';
import { lifecycleFunction, lifecycleTriggers } from './private/lifecycle-function';
import { agentBundle, grantMemberTls, memberGroup, memberNetwork, memberRole } from './private/members';
import { resolveProps } from './private/props';
import { ClusterTls } from './tls';

export { EtcdClusterProps } from './etcd-cluster-props';

/** The behaviour of an etcd cluster that other constructs use. */
export interface IEtcdCluster extends IConstruct, ec2.IConnectable {
  /** Name of the Auto Scaling group that runs the members. */
  readonly autoScalingGroupName: string;
  /** TCP port of etcd's client API. */
  readonly clientPort: number;
  /** TCP port of etcd's peer (member to member) traffic. */
  readonly peerPort: number;
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
    const p = resolveProps(this, props);
    this.tlsEnabled = p.tlsEnabled;
    this.clientPort = p.clientPort;
    this.peerPort = p.peerPort;
    this.joinStrategy = p.joinStrategy;
    this.etcdImage = p.etcdImage;
    const group = groupIdentity(this);
    this.autoScalingGroupName = group.name;

    // ---- Members' network and role; the keys and the bucket ---------------------------------------
    const network = memberNetwork(this, props.vpc, p.clientPort, p.peerPort);
    this.securityGroup = network.securityGroup;
    this.connections = network.connections;
    const role = memberRole(this, group.arn);
    this.role = role;
    const agent = agentBundle(this, role);
    this.encryptionKey = clusterDataKey(this, props);
    const backup = prepareBackups(this, props.backup ?? {}, this.encryptionKey);
    let tls: ClusterTls | undefined;
    if (p.tlsEnabled) {
      tls = new ClusterTls(this, 'Tls', {
        caSecret: props.caSecret,
        description: `cdk-elastic-etcd ${this.node.path}`,
        vpc: props.vpc,
        vpcSubnets: p.vpcSubnets,
        logRetention: p.logRetention,
        logKey: this.encryptionKey,
      });
      this.caSecret = tls.caSecret;
      this.clientSecret = tls.clientSecret;
      this.tlsKey = tls.key;
      grantMemberTls(role, tls, props.caSecret);
    }

    // ---- Members: launch template, Auto Scaling group with its lifecycle hooks --------------------
    const launchTemplate = memberLaunchTemplate(this, {
      instanceType: p.instanceType,
      machineImage: p.machineImage,
      role,
      securityGroup: network.securityGroup,
      agent,
      agentConfig: agentConfig({ ...p, tls, backup }),
      nodeImage: p.nodeImage,
      etcdImage: p.etcdImage,
      dataVolumeSize: p.dataVolumeSize,
      backup,
    });
    this.autoScalingGroup = memberGroup(this, {
      vpc: props.vpc,
      vpcSubnets: p.vpcSubnets,
      launchTemplate,
      groupName: group.name,
      size: p.size,
      heartbeatTimeout: p.heartbeatTimeout,
      role,
      tls,
    });

    // ---- Lifecycle / reconcile Lambda ------------------------------------------------------------
    const fn = lifecycleFunction(this, {
      ...p,
      groupName: group.name,
      tls,
      backup,
      group,
      vpc: props.vpc,
      memberConnections: this.connections,
      logKey: this.encryptionKey,
    });
    this.lifecycleFunction = fn;
    lifecycleTriggers(this, fn, group.name, p.reconcileInterval);

    // ---- Alarms, backups -------------------------------------------------------------------------
    if (tls) {
      this.certificateExpiryAlarm = certificateExpiryAlarm(
        this,
        this.metricCertificateDaysLeft(),
        group.name,
      );
    }
    if (backup) {
      this.backupBucket = backup.bucket;
      this.backupPrefix = backup.prefix;
      wireBackups(this, { wiring: backup, fn, instanceRole: role, groupName: group.name });
      this.snapshotAgeAlarm = snapshotAgeAlarm(this, backup, this.metricNewestSnapshotAge(), group.name);
      this.restoreAwaitedAlarm = restoreAwaitedAlarm(this, this.metricAwaitingRestoreTrigger(), group.name);
    }
    applyAlarmActions(this, props.alarmActions ?? []);

    // ---- Acknowledged findings (cdk-nag, AWS Control Tower) ------------------------------------------
    acknowledgeNagFindings({
      groupArn: group.arn,
      instanceRole: role,
      lifecycleFunction: fn,
      group: this.autoScalingGroup,
      backupBucket: this.backupBucket,
      backupPrefix: this.backupPrefix,
    });
    acknowledgeControlTowerFindings(this.autoScalingGroup);
  }

  /** Backup runs that stored no snapshot (scheduled, requested, or before a removal). */
  public metricBackupFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.BACKUP_FAILURES, props);
  }

  /** Restores started (a restore record written): the cluster was replaced from a snapshot. */
  public metricRestores(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.RESTORES, props);
  }

  /** Seconds since the newest complete snapshot was taken, reported by every backup run (Minimum over 5 minutes). */
  public metricNewestSnapshotAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.NEWEST_SNAPSHOT_AGE, {
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
      dimensionsMap: { [METRIC_DIMENSION]: this.autoScalingGroupName },
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
    return this.metric(MetricName.CERTIFICATE_DAYS_LEFT, {
      statistic: 'Minimum',
      period: Duration.hours(1),
      ...props,
    });
  }

  /** Members removed by the lifecycle Lambda (terminations and reconcile). */
  public metricMemberRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.MEMBER_REMOVALS, props);
  }

  /**
   * Terminations the Lambda answered with ABANDON because removing the member was unsafe: the group's
   * retention policy kept the instance. Alarm on any: an operator has to look at the cluster.
   */
  public metricRetainedTerminations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.RETAINED_TERMINATIONS, props);
  }

  /**
   * Retained terminations the reconcile finished: once removing the retained instance's member was safe, it
   * removed it and terminated the instance (EC2 TerminateInstances).
   */
  public metricRetainedTerminationsFinished(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.RETAINED_TERMINATIONS_FINISHED, props);
  }

  /** 1 in every reconcile while the group waits for the restore trigger (manual policy, quorum lost for good). */
  public metricAwaitingRestoreTrigger(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.AWAITING_RESTORE_TRIGGER, { statistic: 'Maximum', ...props });
  }

  /** Members the scheduled reconcile removed (their instance was gone, or they never started). */
  public metricReconcileRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.RECONCILE_REMOVALS, props);
  }

  /** Learners that started but were not promoted, as seen by the reconcile. */
  public metricStuckLearners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.STUCK_LEARNERS, props);
  }
}
