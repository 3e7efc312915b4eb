/* Prop validation (one error naming every bad prop), warnings, token safety, and the AMI choice. */
import { App, Annotations as CoreAnnotations, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster, EtcdClusterProps, FlatcarAmi } from '../../lib';
import { ACCOUNT, makeCluster, REGION } from './helpers';

function build(
  props: Partial<EtcdClusterProps>,
  opts: { env?: boolean; context?: Record<string, unknown> } = {},
) {
  const app = new App({ context: opts.context });
  const stack = new Stack(app, 'S', opts.env === false ? {} : { env: { account: ACCOUNT, region: REGION } });
  const vpc = new ec2.Vpc(stack, 'Vpc');
  const cluster = new EtcdCluster(stack, 'Etcd', { vpc, ...props });
  return { app, stack, cluster };
}

const AMI = ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef1' });

describe('prop errors', () => {
  test.each([
    [{ size: 0 }, /size: must be an integer from 1 to 7 \(got 0\)/],
    [{ size: 8 }, /size: must be an integer from 1 to 7/],
    [{ size: 2.5 }, /size: must be an integer/],
    [{ dataVolumeSize: 0 }, /dataVolumeSize: must be an integer number of GiB/],
    [
      { lifecycleHeartbeatTimeout: Duration.seconds(29) },
      /lifecycleHeartbeatTimeout: .*30 to 7200 \(got 29 s\)/,
    ],
    [{ lifecycleHeartbeatTimeout: Duration.hours(3) }, /lifecycleHeartbeatTimeout: .*\(got 10800 s\)/],
    [{ reconcileInterval: Duration.seconds(90) }, /reconcileInterval: must be a whole number of minutes/],
    [{ unstartedGrace: Duration.seconds(10) }, /unstartedGrace: must be a whole number of seconds from 60/],
    [{ clientPort: 70000 }, /clientPort: must be an integer from 1 to 65535/],
    [{ peerPort: 2379 }, /peerPort: must differ from clientPort/],
    [
      { etcdVersion: 'v3.5.26' },
      /etcdVersion: must be an etcd release from 3\.4\.x to 3\.6\.x without the "v"/,
    ],
    [
      { etcdVersion: '3.5.21', etcdImage: 'quay.io/coreos/etcd:v3.5.26' },
      /etcdVersion: 3\.5\.21 differs from the release in etcdImage's tag \(3\.5\.26\)/,
    ],
    [{ nodeImage: 'node:22; rm -rf /' }, /nodeImage: must be a container image reference/],
    [{ etcdImage: 'etcd image' }, /etcdImage: must be a container image reference/],
  ])('%o is rejected with a message naming the prop', (props, message) => {
    expect(() => build({ machineImage: AMI, ...props })).toThrow(message);
  });

  test('all errors are collected into one Error that names each prop', () => {
    let err: Error | undefined;
    try {
      build({
        machineImage: AMI,
        size: 9,
        dataVolumeSize: -1,
        lifecycleHeartbeatTimeout: Duration.seconds(1),
        reconcileInterval: Duration.seconds(30),
        unstartedGrace: Duration.seconds(1),
        peerPort: 0,
        etcdVersion: 'latest',
        nodeImage: '',
      });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeDefined();
    for (const prop of [
      'size',
      'dataVolumeSize',
      'lifecycleHeartbeatTimeout',
      'reconcileInterval',
      'unstartedGrace',
      'peerPort',
      'etcdVersion',
      'nodeImage',
    ]) {
      expect(err!.message).toMatch(new RegExp(`\\n  - ${prop}: `));
    }
    expect(err!.message).toMatch(/^Invalid EtcdCluster props at S\/Etcd:/);
  });

  test('unresolved tokens are not checked', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: { account: ACCOUNT, region: REGION } });
    const n = new CfnParameter(stack, 'N', { type: 'Number' }).valueAsNumber;
    const vpc = new ec2.Vpc(stack, 'Vpc');
    expect(
      () =>
        new EtcdCluster(stack, 'Etcd', {
          vpc,
          machineImage: AMI,
          dataVolumeSize: n,
          lifecycleHeartbeatTimeout: Duration.seconds(n),
          unstartedGrace: Duration.seconds(n),
          nodeImage: new CfnParameter(stack, 'Img').valueAsString,
        }),
    ).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: Match.arrayWith([
          Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: { Ref: 'N' } }) }),
        ]),
      }),
    });
  });
});

describe('warnings', () => {
  test('an even size warns with the acknowledgeable id cdk-elastic-etcd:evenSize', () => {
    const { stack } = build({ machineImage: AMI, size: 4 });
    Annotations.fromStack(stack).hasWarning(
      '/S/Etcd',
      Match.stringLikeRegexp('even-sized etcd cluster.*cdk-elastic-etcd:evenSize'),
    );
  });

  test('an odd size does not warn', () => {
    const { stack } = build({ machineImage: AMI, size: 3 });
    Annotations.fromStack(stack).hasNoWarning('/S/Etcd', Match.stringLikeRegexp('even-sized'));
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('desiredCapacity'));
  });

  test('the even-size warning can be acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const c = new EtcdCluster(stack, 'Etcd', { vpc, machineImage: AMI, size: 2 });
    Annotations.fromStack(stack).hasWarning('/S/Etcd', Match.stringLikeRegexp('even-sized'));
    const app2 = new App();
    const stack2 = new Stack(app2, 'S');
    const c2 = new EtcdCluster(stack2, 'Etcd', {
      vpc: new ec2.Vpc(stack2, 'Vpc'),
      machineImage: AMI,
      size: 2,
    });
    CoreAnnotations.of(c2).acknowledgeWarning('cdk-elastic-etcd:evenSize', 'two AZs only');
    Annotations.fromStack(stack2).hasNoWarning('/S/Etcd', Match.stringLikeRegexp('even-sized'));
    expect(c.node.path).toBe('S/Etcd');
  });

  test('an unstarted grace shorter than the heartbeat timeout warns', () => {
    const { stack } = build({ machineImage: AMI, unstartedGrace: Duration.minutes(5) });
    Annotations.fromStack(stack).hasWarning(
      '/S/Etcd',
      Match.stringLikeRegexp('cdk-elastic-etcd:shortUnstartedGrace'),
    );
  });
});

describe('Flatcar AMI choice', () => {
  function missingLookups(app: App) {
    return (app.synth().manifest.missing ?? []).filter((m) => m.provider === 'ami');
  }

  test('concrete env: looks up the newest Flatcar stable x86_64 AMI of the Flatcar owner', () => {
    const { app } = build({});
    const [lookup] = missingLookups(app);
    expect(lookup.props).toMatchObject({
      owners: ['075585003325'],
      filters: { name: ['Flatcar-stable-*-hvm'], architecture: ['x86_64'] },
    });
  });

  test('arm64 instance types look up the arm64 image', () => {
    const { app } = build({
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
    });
    const [lookup] = missingLookups(app);
    expect(lookup.props).toMatchObject({
      filters: { name: ['Flatcar-stable-*-arm64-hvm'], architecture: ['arm64'] },
    });
  });

  test('environment-agnostic without context: a clear error that says what to pass', () => {
    expect(() => build({}, { env: false })).toThrow(
      new RegExp(`machineImage: the stack has no concrete account/region.*${FlatcarAmi.CONTEXT_KEY}`),
    );
  });

  test('environment-agnostic with the context map (object or JSON string): a region mapping', () => {
    for (const value of [{ 'eu-west-1': 'ami-0abc0000000000ab' }, '{"eu-west-1":"ami-0abc0000000000ab"}']) {
      const { stack } = build({}, { env: false, context: { [FlatcarAmi.CONTEXT_KEY]: value } });
      const mappings = Template.fromStack(stack).toJSON().Mappings;
      expect(JSON.stringify(mappings)).toContain('"eu-west-1":{"ami":"ami-0abc0000000000ab"}');
    }
  });

  test('a malformed context map is an error naming machineImage', () => {
    expect(() =>
      build({}, { env: false, context: { [FlatcarAmi.CONTEXT_KEY]: '{"eu-west-1":"nope"}' } }),
    ).toThrow(/machineImage: context cdk-elastic-etcd:flatcarAmi must map each region to an AMI id/);
  });

  test('an explicit machineImage is used as is', () => {
    makeCluster({
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0feed000000000000' }),
    }).template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ ImageId: 'ami-0feed000000000000' }),
    });
  });
});
