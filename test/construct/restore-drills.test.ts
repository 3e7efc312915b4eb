/*
 * Restore drills in the construct (issue 16, "Backups proven restorable"): backup.restoreDrills (default on
 * with backups), backup.drillInterval (default 10 minutes) and backup.restoreDrillAlarmThreshold: the members'
 * units (etcd-backup-drill.service and .timer, lib/private/drill-units.ts), the agent config's etcd and restore
 * commands, the Lambda's RESTORE_DRILLS, the instance role's write access to <prefix>drills/*, the bucket's
 * retention of the results, the alarm on LastVerifiedRestoreAgeSeconds and its dashboard graph, the validation.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EtcdBackupOptions } from '../../lib';
import {
  agentConfigOf,
  ignitionOf,
  instanceStatements,
  kmsViaS3,
  lifecycleFunctionOf,
  makeCluster,
  resolveIntrinsics,
  s3Writes,
  unitOf,
} from './helpers';

const Ajv = require('ajv-draft-04');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SCHEMA = path.join(__dirname, '..', '..', '..', 'shared', 'schemas', 'ignition-v3.4.json');
const SERVICE = 'etcd-backup-drill.service';
const TIMER = 'etcd-backup-drill.timer';

/** The unit's `[section]` directives, in order, as `key=value` lines (comments and blanks left out). */
function section(contents: string, name: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of contents.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line);
    if (s) current = s[1];
    else if (current === name && line !== '') out.push(line);
  }
  return out;
}

/** The `-v` mounts of a `docker run` command line, in order. */
const mounts = (exec: string): string[] => [...exec.matchAll(/ -v (\S+)/g)].map((m) => m[1]);

const drillWrite = (prefix: string) => ({
  Effect: 'Allow',
  Action: 's3:PutObject',
  Resource: expect.stringMatching(
    new RegExp(`^GETATT-EtcdBackupBucket[0-9A-F]{8}\\.Arn/${prefix.replace(/\//g, '\\/')}drills/\\*$`),
  ),
});

/** The restore drill alarm's properties (by the metric it watches). */
function drillAlarms(template: Template): Json[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .filter((a: Json) => a.Properties.MetricName === 'LastVerifiedRestoreAgeSeconds')
    .map((a: Json) => a.Properties);
}

function lifecycleRules(template: Template): Json[] {
  const [bucket] = Object.values(template.findResources('AWS::S3::Bucket'));
  return bucket.Properties.LifecycleConfiguration.Rules;
}

function dashboardTitles(template: Template): string[] {
  const [d] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  return JSON.parse(resolveIntrinsics(d.Properties.DashboardBody)).widgets.map(
    (w: Json) => w.properties.title,
  );
}

describe('defaults: drills on, every 10 minutes (TLS on, prefix etcd/)', () => {
  const { cluster, stack, template } = makeCluster({ backup: { prefix: 'etcd/' } });

  test('etcd-backup-drill.service: a oneshot `agent.js drill` in its container, with exactly its mounts', () => {
    const u = unitOf(template, SERVICE);
    expect(u.enabled).toBeUndefined();
    expect(section(u.contents, 'Install')).toEqual([]);
    expect(section(u.contents, 'Unit')).toEqual([
      'Description=cdk-elastic-etcd: restore drill, a backup restored into a scratch etcd and verified (agent.js drill)',
      'Requires=docker.service',
      'After=etcd-member.service docker.service network-online.target',
      'PartOf=etcd-member.service',
      'RequiresMountsFor=/var/lib/etcd',
    ]);
    const service = section(u.contents, 'Service');
    const exec = service.find((l) => l.startsWith('ExecStart='))!.slice('ExecStart='.length);
    expect(service).toEqual([
      'Type=oneshot',
      'TimeoutStartSec=1800',
      'ExecCondition=/usr/bin/systemctl is-active --quiet etcd-member.service',
      'ExecStartPre=-/usr/bin/docker rm -f etcd-agent-drill',
      `ExecStart=${exec}`,
      'ExecStopPost=-/usr/bin/docker rm -f etcd-agent-drill',
    ]);
    expect(exec).toMatch(/^\/usr\/bin\/docker run --rm --init --name etcd-agent-drill --network host /);
    expect(mounts(exec)).toEqual([
      '/opt/etcd-agent:/opt/etcd-agent:ro',
      '/etc/etcd-agent:/etc/etcd-agent:ro',
      '/opt/etcd-restore:/opt/etcd-restore:ro',
      '/var/lib/etcd:/var/lib/etcd',
      '/etc/etcd-tls:/etc/etcd-tls:ro',
    ]);
    expect(exec).toMatch(
      / node \/opt\/etcd-agent\/agent\.js drill --config \/etc\/etcd-agent\/config\.json$/,
    );
  });

  test('etcd-backup-drill.timer: enabled, every 600 s after boot and after each run, up to 60 s random delay', () => {
    const u = unitOf(template, TIMER);
    expect(u.enabled).toBe(true);
    expect(section(u.contents, 'Timer')).toEqual([
      'OnBootSec=600',
      'OnUnitActiveSec=600',
      'RandomizedDelaySec=60',
      'AccuracySec=1s',
      'Unit=etcd-backup-drill.service',
    ]);
    expect(section(u.contents, 'Install')).toEqual(['WantedBy=timers.target']);
  });

  test('the user data with the drill units validates against the Ignition 3.4 schema', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')));
    const ign = ignitionOf(template);
    expect(validate(ign) ? [] : validate.errors).toEqual([]);
    // Not vacuous: a unit with a wrong field type is rejected.
    const bad = { ...ign, systemd: { units: [{ name: TIMER, enabled: 'yes' }] } };
    expect(validate(bad)).toBe(false);
  });

  test('the agent config names the restore tool and the image etcd the drill starts; the Lambda gets RESTORE_DRILLS', () => {
    expect(agentConfigOf(template)).toMatchObject({
      restoreCommand: ['/opt/etcd-restore/etcdutl'],
      etcdCommand: ['/opt/etcd-restore/etcd'],
    });
    expect(lifecycleFunctionOf(template).Environment.Variables.RESTORE_DRILLS).toBe('true');
  });

  test('instance role: s3:PutObject on <prefix>drills/* (beside the incremental log), kms:GenerateDataKey via S3', () => {
    const writes = s3Writes(instanceStatements(template));
    expect(writes.filter((s) => JSON.stringify(s.Resource).includes('/drills/'))).toEqual([
      drillWrite('etcd/'),
    ]);
    expect(kmsViaS3(instanceStatements(template))).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  test("the created bucket expires drill results after the snapshots' retention", () => {
    expect(lifecycleRules(template)).toContainEqual({
      Id: 'drill-retention',
      Prefix: 'etcd/drills/',
      ExpirationInDays: 30,
      NoncurrentVersionExpiration: { NoncurrentDays: 7 },
      Status: 'Enabled',
    });
  });

  test('RestoreDrillAlarm: Minimum of the verified age over 2 reconciles above 2 x 30 min + 10 min + 10 min', () => {
    const [alarm] = drillAlarms(template);
    expect(drillAlarms(template)).toHaveLength(1);
    expect(stack.resolve(cluster.restoreDrillAlarm!.alarmName)).toEqual({
      Ref: expect.stringMatching(/^EtcdRestoreDrillAlarm/),
    });
    expect(alarm).toMatchObject({
      Namespace: 'CdkElasticEtcd',
      Statistic: 'Minimum',
      Period: 600,
      Threshold: 4800,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Dimensions: [{ Name: 'AutoScalingGroupName', Value: cluster.autoScalingGroupName }],
    });
    expect(alarm.AlarmDescription).toContain('no restore drill of');
    expect(alarm.AlarmDescription).toContain('passed within 1 hour 20 minutes');
    expect(alarm.AlarmDescription).toContain('etcd/drills/');
    expect(alarm.AlarmDescription).toContain('No data (no complete snapshot yet) is not breaching');
    expect(alarm.AlarmDescription).toContain('the snapshot age alarm covers that');
  });

  test('metricLastVerifiedRestoreAge and the dashboard graph beside the snapshot age, with the alarm line', () => {
    const m = cluster.metricLastVerifiedRestoreAge();
    expect([m.metricName, m.statistic]).toEqual(['LastVerifiedRestoreAgeSeconds', 'Minimum']);
    const titles = dashboardTitles(template);
    const snapshot = titles.indexOf('Newest snapshot age (s); backups and restores');
    const drill = titles.indexOf('Last verified restore age (s): restore drills');
    // Widgets go two to a row: the snapshot graph starts a row, the drill graph is beside it.
    expect([snapshot % 2, drill]).toEqual([0, snapshot + 1]);
    const [d] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const w = JSON.parse(resolveIntrinsics(d.Properties.DashboardBody)).widgets[drill];
    expect(w.properties.annotations.horizontal).toEqual([{ value: 4800, label: 'alarm', yAxis: 'left' }]);
  });
});

test('drillInterval 1 minute, no TLS, no incremental log: the timer, the mounts, the write access, the threshold', () => {
  const { template } = makeCluster({
    tls: false,
    backup: { incremental: false, drillInterval: Duration.minutes(1), backupInterval: Duration.minutes(5) },
  });
  expect(section(unitOf(template, TIMER).contents, 'Timer').slice(0, 3)).toEqual([
    'OnBootSec=60',
    'OnUnitActiveSec=60',
    'RandomizedDelaySec=30',
  ]);
  const exec = /^ExecStart=(.*)$/m.exec(unitOf(template, SERVICE).contents)![1];
  expect(mounts(exec)).toEqual([
    '/opt/etcd-agent:/opt/etcd-agent:ro',
    '/etc/etcd-agent:/etc/etcd-agent:ro',
    '/opt/etcd-restore:/opt/etcd-restore:ro',
    '/var/lib/etcd:/var/lib/etcd',
  ]);
  // Without the incremental log the agent still gets the image's etcd (and the join unit copies it).
  const config = agentConfigOf(template);
  expect(config.incrementalBackupSeconds).toBeUndefined();
  expect(config.etcdCommand).toEqual(['/opt/etcd-restore/etcd']);
  expect(unitOf(template, 'etcd-join.service').contents).toContain('/opt/etcd-restore/etcd.tmp');
  // The drills are the instances' only write, and they need the data key for it.
  expect(s3Writes(instanceStatements(template))).toEqual([drillWrite('')]);
  expect(kmsViaS3(instanceStatements(template))).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  // 2 x 5 min + 1 min + 10 min.
  expect(drillAlarms(template).map((a) => a.Threshold)).toEqual([1260]);
});

test('restoreDrillAlarmThreshold and a reconcile interval of 15 minutes', () => {
  const { template } = makeCluster({
    reconcileInterval: Duration.minutes(15),
    backup: { restoreDrillAlarmThreshold: Duration.hours(3) },
  });
  const [alarm] = drillAlarms(template);
  expect([alarm.Threshold, alarm.Period]).toEqual([10800, 1800]);
  expect(alarm.AlarmDescription).toContain('passed within 3 hours');
});

test('alarms.restoreDrill: false: no alarm, the drills still run', () => {
  const { cluster, template } = makeCluster({ alarms: { restoreDrill: false } });
  expect(cluster.restoreDrillAlarm).toBeUndefined();
  expect(drillAlarms(template)).toEqual([]);
  expect(unitOf(template, TIMER)).toBeDefined();
});

describe.each([
  ['restoreDrills: false', { restoreDrills: false }],
  ['backups off', { enabled: false }],
] as [string, EtcdBackupOptions][])('%s', (_name, backup) => {
  const { cluster, template } = makeCluster({ backup });

  test('no drill units, no RESTORE_DRILLS, no write to drills/, no alarm, no graph', () => {
    const names = ignitionOf(template).systemd.units.map((u: Json) => u.name);
    expect(names.filter((n: string) => n.startsWith('etcd-backup-drill'))).toEqual([]);
    expect(ignitionOf(template).systemd.units.length).toBeGreaterThanOrEqual(6);
    expect(lifecycleFunctionOf(template).Environment.Variables.RESTORE_DRILLS).toBeUndefined();
    expect(JSON.stringify(instanceStatements(template))).not.toContain('/drills/');
    expect(cluster.restoreDrillAlarm).toBeUndefined();
    expect(drillAlarms(template)).toEqual([]);
    expect(dashboardTitles(template).some((t) => /restore drills/.test(t))).toBe(false);
  });
});

test('restoreDrills: false: results of earlier drills still expire', () => {
  const { template } = makeCluster({ backup: { restoreDrills: false } });
  expect(lifecycleRules(template).map((r: Json) => [r.Id, r.Prefix])).toContainEqual([
    'drill-retention',
    'drills/',
  ]);
});

describe('validation names the prop', () => {
  const token = Duration.seconds(Token.asNumber({ Ref: 'Interval' }));
  test.each(
    (
      [
        [
          { drillInterval: Duration.seconds(90) },
          /backup\.drillInterval: must be a whole number of minutes from 1 to 1440 \(got 1 minute 30 seconds\)/,
        ],
        [
          { drillInterval: Duration.seconds(30) },
          /backup\.drillInterval: must be a whole number of minutes from 1/,
        ],
        [
          { drillInterval: Duration.hours(25) },
          /backup\.drillInterval: must be a whole number of minutes from 1 to 1440/,
        ],
        [{ drillInterval: token }, /backup\.drillInterval: must be known at synth time, not a token/],
        [
          { restoreDrills: false, drillInterval: Duration.minutes(5) },
          /backup\.drillInterval: only with backup\.restoreDrills on \(it is false\)/,
        ],
        [
          { restoreDrillAlarmThreshold: Duration.minutes(4) },
          /backup\.restoreDrillAlarmThreshold: must be a whole number of minutes from 5 to 10080/,
        ],
        [
          { restoreDrillAlarmThreshold: Duration.days(8) },
          /backup\.restoreDrillAlarmThreshold: must be a whole number of minutes from 5 to 10080/,
        ],
        [
          { restoreDrillAlarmThreshold: token },
          /backup\.restoreDrillAlarmThreshold: must be known at synth time, not a token/,
        ],
        [
          { restoreDrills: false, restoreDrillAlarmThreshold: Duration.hours(2) },
          /backup\.restoreDrillAlarmThreshold: only with backup\.restoreDrills on/,
        ],
        [{ enabled: false, restoreDrills: true }, /backup\.restoreDrills: only with backups enabled/],
      ] as [EtcdBackupOptions, RegExp][]
    ).map(
      ([backup, message]) =>
        [
          `${JSON.stringify(Object.keys(backup))} -> ${message.source.replace(/\\/g, '')}`,
          backup,
          message,
        ] as const,
    ),
  )('%s', (_title, backup, message) => {
    expect(() => makeCluster({ backup })).toThrow(message);
  });

  test('the edges are accepted', () => {
    for (const backup of [
      { drillInterval: Duration.minutes(1) },
      { drillInterval: Duration.days(1) },
      { restoreDrillAlarmThreshold: Duration.minutes(5) },
      { restoreDrillAlarmThreshold: Duration.days(7) },
    ])
      expect(() => makeCluster({ backup })).not.toThrow();
  });
});
