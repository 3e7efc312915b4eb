/*
 * The etcd release the construct resolves (issue 15): etcdVersion, or the release in etcdImage's tag, or both when
 * they agree; a clear error otherwise. The release reaches the agent config (version-skew check) and picks the
 * restore tool.
 */
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EtcdCluster, EtcdClusterProps } from '../../lib';
import { ACCOUNT, agentConfigOf, ignitionOf, makeCluster, REGION, TEST_AMI } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const DIGEST = '@sha256:' + 'c'.repeat(64);
const MIRROR = '123456789012.dkr.ecr.us-east-1.amazonaws.com/quay/coreos/etcd';

function build(
  props: Partial<EtcdClusterProps>,
  stack = new Stack(new App(), 'S', { env: { account: ACCOUNT, region: REGION } }),
) {
  return new EtcdCluster(stack, `Etcd${stack.node.children.length}`, {
    vpc: new ec2.Vpc(stack, `Vpc${stack.node.children.length}`),
    machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
    ...props,
  });
}

/** [etcdVersion in the agent config, the restore tool the agent runs, the tool etcd-join.service copies]. */
function release(props: Partial<EtcdClusterProps>): [string, string, string] {
  const { template } = makeCluster(props);
  const config = agentConfigOf(template);
  const join = ignitionOf(template).systemd.units.find((u: Json) => u.name === 'etcd-join.service').contents;
  const copied = /docker cp \$\$c:\/usr\/local\/bin\/(\w+) /.exec(join)![1];
  return [config.etcdVersion, config.restoreCommand[0].split('/').pop(), copied];
}

describe('the release the construct knows', () => {
  test.each([
    ['defaults', {}, ['3.5.26', 'etcdutl', 'etcdutl']],
    ['etcdVersion 3.4.23', { etcdVersion: '3.4.23' }, ['3.4.23', 'etcdctl', 'etcdctl']],
    ['an image tag', { etcdImage: `${MIRROR}:v3.6.5` }, ['3.6.5', 'etcdutl', 'etcdutl']],
    ['an arch-suffixed tag', { etcdImage: `${MIRROR}:v3.4.27-arm64` }, ['3.4.27', 'etcdctl', 'etcdctl']],
    ['a tag with a digest', { etcdImage: `${MIRROR}:v3.4.30${DIGEST}` }, ['3.4.30', 'etcdctl', 'etcdctl']],
    // The tag does not show the release: etcdVersion states it, and picks the 3.4 tool (the tag cannot).
    [
      'a digest-pinned mirror with etcdVersion',
      { etcdImage: `${MIRROR}${DIGEST}`, etcdVersion: '3.4.23' },
      ['3.4.23', 'etcdctl', 'etcdctl'],
    ],
    [
      'an image and the same etcdVersion',
      { etcdImage: `${MIRROR}:v3.5.26`, etcdVersion: '3.5.26' },
      ['3.5.26', 'etcdutl', 'etcdutl'],
    ],
  ] as [string, Partial<EtcdClusterProps>, string[]][])('%s', (_name, props, expected) => {
    expect(release(props)).toEqual(expected);
  });

  test('etcdImage keeps the image the members run; etcdVersion does not change it', () => {
    const { cluster } = makeCluster({ etcdImage: `${MIRROR}${DIGEST}`, etcdVersion: '3.5.26' });
    expect(cluster.etcdImage).toBe(`${MIRROR}${DIGEST}`);
  });

  test('an etcdImage from a token with etcdVersion: accepted, the release is etcdVersion', () => {
    const stack = new Stack(new App(), 'T', { env: { account: ACCOUNT, region: REGION } });
    const image = new CfnParameter(stack, 'Image').valueAsString;
    build({ etcdImage: image, etcdVersion: '3.5.21' }, stack);
    expect(agentConfigOf(Template.fromStack(stack)).etcdVersion).toBe('3.5.21');
  });

  test('etcdVersion 3.4 with an etcdImage on arm64 is accepted (the image may be an arm64 build)', () => {
    expect(() =>
      build({
        etcdImage: `${MIRROR}${DIGEST}`,
        etcdVersion: '3.4.23',
        instanceType: new ec2.InstanceType('m7g.large'),
      }),
    ).not.toThrow();
  });
});

describe('errors', () => {
  test.each([
    [
      'an image without a release in its tag, and no etcdVersion',
      { etcdImage: `${MIRROR}${DIGEST}` },
      /etcdImage: \(".*"\) has no etcd release in its tag \(such as :v3\.5\.26\); pass etcdVersion with the etcd release the image runs/,
    ],
    ['a latest tag', { etcdImage: `${MIRROR}:latest` }, /etcdImage: .* has no etcd release in its tag/],
    [
      'etcdVersion differs from the tag',
      { etcdImage: `${MIRROR}:v3.5.26`, etcdVersion: '3.5.21' },
      /etcdVersion: 3\.5\.21 differs from the release in etcdImage's tag \(3\.5\.26\)/,
    ],
    [
      'a tag outside 3.4-3.6',
      { etcdImage: `${MIRROR}:v3.7.0` },
      /etcdImage: its tag names etcd 3\.7\.0; only 3\.4\.x to 3\.6\.x/,
    ],
    ['an old tag', { etcdImage: `${MIRROR}:v3.3.27` }, /etcdImage: its tag names etcd 3\.3\.27/],
    [
      'etcdVersion outside 3.4-3.6',
      { etcdVersion: '3.7.1' },
      /etcdVersion: must be an etcd release from 3\.4\.x to 3\.6\.x/,
    ],
  ] as [string, Partial<EtcdClusterProps>, RegExp][])('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('tokens: an etcdImage token without etcdVersion, and an etcdVersion token, are refused', () => {
    const stack = new Stack(new App(), 'T', { env: { account: ACCOUNT, region: REGION } });
    const image = new CfnParameter(stack, 'Image').valueAsString;
    const version = new CfnParameter(stack, 'Version').valueAsString;
    expect(() => build({ etcdImage: image }, stack)).toThrow(
      /etcdImage: is a token, so its tag cannot be read; pass etcdVersion/,
    );
    expect(() => build({ etcdVersion: version }, stack)).toThrow(
      /etcdVersion: must be known at synth time, not a token/,
    );
  });
});
