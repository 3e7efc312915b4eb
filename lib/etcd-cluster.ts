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
import { applyAlarmActions, backupAlarms, certificateExpiryAlarm } from './private/alarms';
import { drillIntervalSeconds, incrementalBackupSeconds } from './backup';
import { prepareBackups } from './private/backup-bucket';
import { wireBackups } from './private/backup-schedule';
import { clusterDashboard } from './private/dashboard';
import { clusterDataKey } from './private/data-key';
import { groupIdentity } from './private/group-permissions';
import { healthAlarms } from './private/health-alarms';
import { lifecycleFunction, lifecycleTriggers } from './private/lifecycle-function';
import { maintenanceSchedule } from './private/maintenance';
import { memberInstances } from './private/member-instances';
import { agentBundle, grantMemberTls, memberNetwork, memberRole } from './private/members';
import { clusterMetric } from './private/metrics';
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
  /**
   * Alarm when no restore drill passed within `backup.restoreDrillAlarmThreshold` (undefined when backups or
   * `backup.restoreDrills` are off).
   */
  public readonly restoreDrillAlarm?: cloudwatch.Alarm;
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
  /**
   * Alarm when fewer voters are healthy than the group's desired capacity for three reconcile intervals, or
   * no reconcile reported (undefined when `alarms.healthyVoters` is false).
   */
  public readonly healthyVotersAlarm?: cloudwatch.Alarm;
  /** Alarm when a started learner stays unpromoted for three reconcile intervals (`alarms.stuckLearner`). */
  public readonly stuckLearnerAlarm?: cloudwatch.Alarm;
  /** Alarm on any retained termination (`alarms.retainedTermination`). */
  public readonly retainedTerminationAlarm?: cloudwatch.Alarm;
  /** Alarm when a member's backend is above 80 % of the quota for two reconcile intervals (`alarms.quotaUsage`). */
  public readonly quotaUsageAlarm?: cloudwatch.Alarm;
  /** Alarm while etcd's NOSPACE or CORRUPT alarm is active (`alarms.nospaceOrCorrupt`). */
  public readonly nospaceOrCorruptAlarm?: cloudwatch.Alarm;
  /** The cluster's CloudWatch dashboard (undefined when `dashboard` is false). */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The backend quota in bytes (`maintenance.quotaBackendSize`). */
  public readonly quotaBackendBytes: number;

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    const p = resolveProps(this, props);
    this.tlsEnabled = p.tlsEnabled;
    this.clientPort = p.clientPort;
    this.peerPort = p.peerPort;
    this.joinStrategy = p.joinStrategy;
    this.etcdImage = p.etcdImage;
    this.quotaBackendBytes = p.maintenance.backend.quotaBackendBytes;
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

    // ---- Members: launch template, Auto Scaling group with its lifecycle hooks and rollout gate ----------
    this.autoScalingGroup = memberInstances(this, {
      props: p,
      vpc: props.vpc,
      groupName: group.name,
      role,
      network,
      agent,
      tls,
      backup,
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
    if (p.maintenance.defrag) maintenanceSchedule(this, fn, group.name, p.maintenance.interval);

    // ---- Alarms, backups, dashboard -------------------------------------------------------------------
    const on = p.alarms;
    if (tls && on.certificateExpiry) {
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
      const a = backupAlarms(this, backup, { ...p, groupName: group.name });
      this.snapshotAgeAlarm = a.snapshotAge;
      this.restoreAwaitedAlarm = a.restoreAwaited;
      this.restoreDrillAlarm = a.restoreDrill;
    }
    const health = healthAlarms(this, group.name, p);
    this.healthyVotersAlarm = health.healthyVoters;
    this.stuckLearnerAlarm = health.stuckLearner;
    this.retainedTerminationAlarm = health.retainedTermination;
    this.quotaUsageAlarm = health.quotaUsage;
    this.nospaceOrCorruptAlarm = health.nospaceOrCorrupt;
    if (p.dashboard) {
      this.dashboard = clusterDashboard(this, {
        groupName: group.name,
        quotaBackendBytes: this.quotaBackendBytes,
        backup,
        tls: tls !== undefined,
      });
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
      incrementalLog: backup !== undefined && incrementalBackupSeconds(backup.options) !== undefined,
      restoreDrills: backup !== undefined && drillIntervalSeconds(backup.options) !== undefined,
    });
    acknowledgeControlTowerFindings(this.autoScalingGroup);
  }

  /**
   * A metric the lifecycle Lambda publishes (CloudWatch embedded metric format, namespace
   * `CdkElasticEtcd`, dimension `AutoScalingGroupName`), summed over 5 minutes by default. Each name has
   * its own method below with the statistic that fits it (the README lists them).
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

  /** Backup runs that stored no snapshot (scheduled, requested, or before a removal). Sum. */
  public metricBackupFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.BACKUP_FAILURES, props);
  }

  /** Restores started (a restore record written): the cluster was replaced from a snapshot. Sum. */
  public metricRestores(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.RESTORES, props);
  }

  /** Seconds since the newest complete snapshot was taken, reported by every backup run. Minimum. */
  public metricNewestSnapshotAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.NEWEST_SNAPSHOT_AGE, props);
  }

  /**
   * Restore drills: seconds since the newest passed drill (or, with none, since the oldest complete snapshot),
   * reported by every reconcile while `backup.restoreDrills` is on; nothing before the first snapshot. Minimum.
   */
  public metricLastVerifiedRestoreAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.LAST_VERIFIED_RESTORE_AGE, props);
  }

  /** TLS: whole days until the first cluster certificate (CA, client identity, member) expires. Minimum, 1 h. */
  public metricCertificateDaysLeft(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.CERTIFICATE_DAYS_LEFT, props);
  }

  /** Members removed by the lifecycle Lambda (terminations and reconcile). Sum. */
  public metricMemberRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.MEMBER_REMOVALS, props);
  }

  /** Terminations answered with ABANDON (removing the member was unsafe): the instance is retained. Sum. */
  public metricRetainedTerminations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.RETAINED_TERMINATIONS, props);
  }

  /** Retained terminations the reconcile finished (member removed, instance terminated). Sum. */
  public metricRetainedTerminationsFinished(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.RETAINED_TERMINATIONS_FINISHED, props);
  }

  /** 1 in every reconcile while the group waits for the restore trigger (manual policy). Maximum. */
  public metricAwaitingRestoreTrigger(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.AWAITING_RESTORE_TRIGGER, props);
  }

  /** Members the scheduled reconcile removed (their instance was gone, or they never started). Sum. */
  public metricReconcileRemovals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.RECONCILE_REMOVALS, props);
  }

  /** Learners that started but were not promoted, as seen by the reconcile. Sum. */
  public metricStuckLearners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.STUCK_LEARNERS, props);
  }

  /** Gauge of every reconcile: voters whose client endpoint answered healthy. Minimum. */
  public metricHealthyVoters(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.HEALTHY_VOTERS, props);
  }

  /** Gauge of every reconcile: the group's desired capacity. Maximum. */
  public metricDesiredCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.DESIRED_CAPACITY, props);
  }

  /** Gauge of every reconcile: members that are learners (started or not). Maximum. */
  public metricLearners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.LEARNERS, props);
  }

  /** Gauge of every reconcile: members added but never started. Maximum. */
  public metricUnstartedMembers(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.UNSTARTED_MEMBERS, props);
  }

  /** Gauge of every reconcile: the largest backend file (dbSize) of any member, in bytes. Maximum. */
  public metricDbSize(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.DB_SIZE, props);
  }

  /** Gauge of every reconcile: the largest dbSizeInUse of any member, in bytes. Maximum. */
  public metricDbSizeInUse(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.DB_SIZE_IN_USE, props);
  }

  /** Gauge of every reconcile: the largest dbSize as a percentage of the backend quota. Maximum. */
  public metricQuotaUsedPercent(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.QUOTA_USED_PERCENT, props);
  }

  /** 1 in a reconcile that sees another leader than the previous one saw. Sum: leader changes seen. */
  public metricLeaderChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.LEADER_CHANGES, props);
  }

  /** Gauge of every reconcile: active etcd alarms (NOSPACE, CORRUPT), per member and kind. Maximum. */
  public metricActiveAlarms(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.ACTIVE_ALARMS, props);
  }

  /** Gauge of every reconcile: active CORRUPT alarms (never disarmed automatically). Maximum. */
  public metricCorruptAlarms(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.CORRUPT_ALARMS, props);
  }

  /** Members the maintenance defragmented. Sum. */
  public metricDefragmentations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.DEFRAGMENTATIONS, props);
  }

  /** Leadership moves before a planned defragmentation (or removal) of the leader. Sum. */
  public metricLeaderMoves(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.LEADER_MOVES, props);
  }

  /** Compactions of the keyspace by a NOSPACE recovery. Sum. */
  public metricNospaceCompactions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.NOSPACE_COMPACTIONS, props);
  }

  /** NOSPACE alarms disarmed after the recovery. Sum. */
  public metricNospaceDisarms(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return clusterMetric(this.autoScalingGroupName, MetricName.NOSPACE_DISARMS, props);
  }
}
