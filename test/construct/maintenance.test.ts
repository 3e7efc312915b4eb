/*
 * The maintenance props of EtcdCluster (lib/maintenance.ts, lib/private/maintenance.ts): etcd's backend settings
 * in the agent config, the quota and maintenance settings in the lifecycle Lambda's environment, the function's
 * timeout, the maintenance schedule, the warnings and the validation (the quota against the data volume).
 */
import { App, CfnParameter, Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster, EtcdClusterProps, EtcdCompaction } from '../../lib';
import { readAgentConfig, readLifecycleEnvironment } from '../../lib/contract';
import {
  ACCOUNT,
  agentConfigOf,
  lifecycleFunctionOf,
  makeCluster,
  REGION,
  resolveIntrinsics,
  TEST_AMI,
} from './helpers';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function maintenanceRules(template: Template) {
  return Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
    (r.Properties.Targets ?? []).some((t: { Input?: string }) => t.Input === '{"kind":"maintenance"}'),
  );
}

describe('maintenance defaults', () => {
  const { cluster, template } = makeCluster();
  const fn = lifecycleFunctionOf(template);

  test('agent config backend: quota 8 GiB, periodic compaction keeping 1h, corruption checks hourly', () => {
    const config = agentConfigOf(template);
    expect(config.backend).toEqual({
      quotaBackendBytes: 8 * GiB,
      compactionMode: 'periodic',
      compactionRetention: '1h',
      corruptCheck: true,
      corruptCheckIntervalSeconds: 3600,
    });
    // and the agent reads them as written
    expect(readAgentConfig(config).backend).toEqual(config.backend);
    expect(cluster.quotaBackendBytes).toBe(8 * GiB);
  });

  test('Lambda environment: the quota, maintenance on with 25 % / 64 MiB and a 90 s budget', () => {
    const env = fn.Environment.Variables;
    expect(env).toMatchObject({
      QUOTA_BACKEND_BYTES: String(8 * GiB),
      MAINTENANCE: 'true',
      DEFRAG_RECLAIM_PERCENT: '25',
      DEFRAG_RECLAIM_MIN_BYTES: String(64 * MiB),
      MAINTENANCE_BUDGET_SECONDS: '90',
    });
  });

  test('with backups the function keeps its 10 minutes; the budget leaves room for a last defragmentation', () => {
    expect(fn.Timeout).toBe(600);
    expect(fn.Timeout - Number(fn.Environment.Variables.MAINTENANCE_BUDGET_SECONDS)).toBeGreaterThanOrEqual(
      150,
    );
  });

  test('a maintenance schedule every 5 minutes invokes the lifecycle function with {"kind":"maintenance"}', () => {
    const rules = maintenanceRules(template);
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rules[0].Properties.Targets[0].Arn).toEqual(
      Stack.of(cluster).resolve(cluster.lifecycleFunction.functionArn),
    );
    expect(
      Object.keys(template.findResources('AWS::Events::Rule')).filter((id) => /MaintenanceSchedule/.test(id)),
    ).toHaveLength(1);
  });
});

describe('maintenance props set', () => {
  test('quota, compaction by revisions, corruption check interval, thresholds and interval reach the run time', () => {
    const { template, cluster } = makeCluster({
      dataVolumeSize: 10,
      maintenance: {
        quotaBackendSize: Size.gibibytes(4),
        compaction: EtcdCompaction.revisions(10000),
        corruptionCheckInterval: Duration.hours(2),
        defragReclaimPercent: 40,
        defragReclaimMinSize: Size.mebibytes(128),
        interval: Duration.minutes(15),
      },
    });
    expect(agentConfigOf(template).backend).toEqual({
      quotaBackendBytes: 4 * GiB,
      compactionMode: 'revision',
      compactionRetention: '10000',
      corruptCheck: true,
      corruptCheckIntervalSeconds: 7200,
    });
    const fn = lifecycleFunctionOf(template);
    expect(fn.Environment.Variables).toMatchObject({
      QUOTA_BACKEND_BYTES: String(4 * GiB),
      MAINTENANCE: 'true',
      DEFRAG_RECLAIM_PERCENT: '40',
      DEFRAG_RECLAIM_MIN_BYTES: String(128 * MiB),
    });
    expect(maintenanceRules(template)[0].Properties.ScheduleExpression).toBe('rate(15 minutes)');
    expect(cluster.quotaBackendBytes).toBe(4 * GiB);
  });

  test.each([
    [Duration.hours(2), '2h'],
    [Duration.minutes(30), '30m'],
    [Duration.seconds(90), '90s'],
    [Duration.days(1), '24h'],
  ])('periodic compaction keeping %s is written as etcd retention %s', (retention, text) => {
    const { template } = makeCluster({ maintenance: { compaction: EtcdCompaction.periodic(retention) } });
    const backend = agentConfigOf(template).backend;
    expect([backend.compactionMode, backend.compactionRetention]).toEqual(['periodic', text]);
    expect(readAgentConfig(agentConfigOf(template)).backend.compactionRetention).toBe(text);
  });

  test('corruption checks off', () => {
    const { template } = makeCluster({ maintenance: { corruptionCheck: false } });
    expect(agentConfigOf(template).backend.corruptCheck).toBe(false);
  });

  test('EtcdCompaction.none(): no auto-compaction, and an acknowledgeable warning', () => {
    const { template, stack } = makeCluster({ maintenance: { compaction: EtcdCompaction.none() } });
    expect(agentConfigOf(template).backend.compactionMode).toBe('none');
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Etcd',
      Match.stringLikeRegexp(
        'EtcdCompaction\\.none\\(\\).*NOSPACE.*\\[ack: cdk-elastic-etcd:noCompaction\\]',
      ),
    );
  });

  test('a quota above 8 GiB warns (cdk-elastic-etcd:largeQuota); the default does not', () => {
    const large = makeCluster({ dataVolumeSize: 40, maintenance: { quotaBackendSize: Size.gibibytes(16) } });
    Annotations.fromStack(large.stack).hasWarning(
      '/TestStack/Etcd',
      Match.stringLikeRegexp('16 GiB.*\\[ack: cdk-elastic-etcd:largeQuota\\]'),
    );
    const plain = makeCluster();
    Annotations.fromStack(plain.stack).hasNoWarning('*', Match.stringLikeRegexp('largeQuota|noCompaction'));
  });

  test('defragmentation off: MAINTENANCE=false, no thresholds, no schedule, the timeout without maintenance', () => {
    const { template } = makeCluster({ backup: { enabled: false }, maintenance: { defragmentation: false } });
    const fn = lifecycleFunctionOf(template);
    expect(fn.Environment.Variables.MAINTENANCE).toBe('false');
    for (const v of ['DEFRAG_RECLAIM_PERCENT', 'DEFRAG_RECLAIM_MIN_BYTES', 'MAINTENANCE_BUDGET_SECONDS'])
      expect(Object.keys(fn.Environment.Variables)).not.toContain(v);
    const env = Object.fromEntries(
      Object.entries(fn.Environment.Variables).map(([k, v]) => [k, resolveIntrinsics(v)]),
    );
    expect(readLifecycleEnvironment({ ...env, AWS_REGION: REGION }).maintenance).toBeUndefined();
    expect(maintenanceRules(template)).toHaveLength(0);
    expect(fn.Timeout).toBe(120);
  });

  test('without backups, maintenance raises the timeout to 4 minutes (90 s budget + 150 s for the last step)', () => {
    const fn = lifecycleFunctionOf(makeCluster({ backup: { enabled: false } }).template);
    expect([fn.Timeout, fn.Environment.Variables.MAINTENANCE_BUDGET_SECONDS]).toEqual([240, '90']);
  });
});

describe('maintenance validation', () => {
  function build(props: Partial<EtcdClusterProps>) {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    return new EtcdCluster(stack, 'Etcd', {
      vpc,
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
      ...props,
    });
  }

  test('the data volume must hold twice the quota plus 1 GiB; the message names both props', () => {
    expect(() => build({ maintenance: { quotaBackendSize: Size.gibibytes(10) } })).toThrow(
      /maintenance\.quotaBackendSize: 10 GiB needs a dataVolumeSize of at least 21 GiB .*but dataVolumeSize is 20/,
    );
    expect(() => build({ dataVolumeSize: 16 })).toThrow(
      /maintenance\.quotaBackendSize: 8 GiB needs a dataVolumeSize of at least 17 GiB/,
    );
    // the boundary is accepted
    expect(() =>
      build({ dataVolumeSize: 21, maintenance: { quotaBackendSize: Size.gibibytes(10) } }),
    ).not.toThrow();
    expect(() => build({ dataVolumeSize: 17 })).not.toThrow();
    expect(() =>
      build({ dataVolumeSize: 2, maintenance: { quotaBackendSize: Size.mebibytes(512) } }),
    ).not.toThrow();
  });

  const cases: [EtcdClusterProps['maintenance'], RegExp][] = [
    [
      { quotaBackendSize: Size.kibibytes(512) },
      /maintenance\.quotaBackendSize: must be a whole number of bytes from 1 MiB to 100 GiB/,
    ],
    [
      { quotaBackendSize: Size.gibibytes(101) },
      /maintenance\.quotaBackendSize: must be a whole number of bytes/,
    ],
    [
      { defragReclaimPercent: 101 },
      /maintenance\.defragReclaimPercent: must be a whole number from 0 to 100 \(got 101\)/,
    ],
    [{ defragReclaimPercent: 2.5 }, /maintenance\.defragReclaimPercent: must be a whole number/],
    [
      { defragReclaimMinSize: Size.gibibytes(200) },
      /maintenance\.defragReclaimMinSize: must be a whole number of bytes from 0 to 100 GiB/,
    ],
    [
      { interval: Duration.seconds(90) },
      /maintenance\.interval: must be a whole number of minutes from 1 to 1440/,
    ],
    [{ interval: Duration.days(2) }, /maintenance\.interval: must be a whole number of minutes/],
    [
      { corruptionCheckInterval: Duration.seconds(30) },
      /maintenance\.corruptionCheckInterval: must be a whole number of seconds from 1 minute to 7 days/,
    ],
    [
      { compaction: EtcdCompaction.periodic(Duration.seconds(30)) },
      /maintenance\.compaction: the periodic retention must be a whole number of seconds from 1 minute to 30 days/,
    ],
    [
      { compaction: EtcdCompaction.periodic(Duration.days(31)) },
      /maintenance\.compaction: the periodic retention/,
    ],
    [
      { compaction: EtcdCompaction.revisions(0) },
      /maintenance\.compaction: the revision count must be a whole number from 1 \(got 0\)/,
    ],
    [
      { compaction: EtcdCompaction.revisions(1.5) },
      /maintenance\.compaction: the revision count must be a whole number/,
    ],
    [
      { defragmentation: false, interval: Duration.minutes(10) },
      /maintenance\.interval: only with maintenance\.defragmentation on/,
    ],
    [
      { defragmentation: false, defragReclaimPercent: 10, defragReclaimMinSize: Size.mebibytes(1) },
      /maintenance\.defragReclaimPercent \/ maintenance\.defragReclaimMinSize: only with maintenance\.defragmentation on/,
    ],
    [
      { corruptionCheck: false, corruptionCheckInterval: Duration.hours(1) },
      /maintenance\.corruptionCheckInterval: only with maintenance\.corruptionCheck on/,
    ],
  ];
  // Titled by the expected message (the props print poorly).
  test.each(cases.map(([m, re]) => [re.source.replace(/\\/g, '').slice(0, 90), m, re] as const))(
    '%s',
    (_title, maintenance, message) => {
      expect(() => build({ maintenance })).toThrow(message);
    },
  );

  test('tokens: refused with a message naming the prop where the value must be known; a token volume is not checked', () => {
    const stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const n = new CfnParameter(stack, 'N', { type: 'Number' }).valueAsNumber;
    const machineImage = ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI });
    const make = (id: string, props: Partial<EtcdClusterProps>) => () =>
      new EtcdCluster(stack, id, { vpc, machineImage, ...props });
    expect(make('A', { maintenance: { quotaBackendSize: Size.gibibytes(n) } })).toThrow(
      /maintenance\.quotaBackendSize: must be known at synth time, not a token/,
    );
    expect(make('B', { maintenance: { defragReclaimPercent: n } })).toThrow(
      /maintenance\.defragReclaimPercent: must be known at synth time/,
    );
    expect(make('C', { maintenance: { interval: Duration.minutes(n) } })).toThrow(
      /maintenance\.interval: must be known/,
    );
    expect(make('D', { maintenance: { compaction: EtcdCompaction.periodic(Duration.hours(n)) } })).toThrow(
      /maintenance\.compaction: the periodic retention must be known at synth time/,
    );
    expect(make('E', { maintenance: { compaction: EtcdCompaction.revisions(n) } })).toThrow(
      /maintenance\.compaction: the revision count must be known at synth time/,
    );
    expect(make('F', { maintenance: { corruptionCheckInterval: Duration.seconds(n) } })).toThrow(
      /maintenance\.corruptionCheckInterval: must be known/,
    );
    expect(make('G', { dataVolumeSize: n })).not.toThrow();
  });
});
