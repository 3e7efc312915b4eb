/* The public (jsii) API: constants as static members of classes, and the values the construct really uses. */
import * as api from '../../lib';
import { EtcdClusterDefaults, FlatcarAmi } from '../../lib';
import { METRIC_NAMESPACE as lambdaNamespace } from '../../lambda/lifecycle/log';
import { makeCluster, rawUserData } from './helpers';

describe('public API', () => {
  test('lib/index exports no module-level constant (jsii would drop it): only classes and enums', () => {
    // Interfaces re-exported by name show up as undefined under ts-jest's isolatedModules: no value.
    const values = Object.entries(api).filter(([, value]) => value !== undefined);
    const kinds = values.map(([name, value]) => [name, typeof value]);
    expect(kinds.filter(([, kind]) => kind !== 'function' && kind !== 'object')).toEqual([]);
    expect(values.map(([name]) => name).sort()).toEqual([
      'EtcdCluster',
      'EtcdClusterDefaults',
      'EtcdCompaction',
      'FlatcarAmi',
      'JoinStrategy',
      'RestorePolicy',
    ]);
  });

  test('EtcdClusterDefaults holds what the construct renders', () => {
    const { cluster, template } = makeCluster();
    const hooks = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties
      .LifecycleHookSpecificationList as { LifecycleHookName: string; LifecycleTransition: string }[];
    expect(hooks.map((h) => [h.LifecycleTransition, h.LifecycleHookName])).toEqual([
      ['autoscaling:EC2_INSTANCE_LAUNCHING', EtcdClusterDefaults.LAUNCH_HOOK_NAME],
      ['autoscaling:EC2_INSTANCE_TERMINATING', EtcdClusterDefaults.TERMINATE_HOOK_NAME],
    ]);
    expect(cluster.etcdImage).toBe(`quay.io/coreos/etcd:v${EtcdClusterDefaults.ETCD_VERSION}`);
    expect(rawUserData(template)).toContain(` ${EtcdClusterDefaults.NODE_IMAGE} node `);
    expect(cluster.metric('X').namespace).toBe(EtcdClusterDefaults.METRIC_NAMESPACE);
    expect(EtcdClusterDefaults.METRIC_NAMESPACE).toBe(lambdaNamespace);
  });

  test('FlatcarAmi.CONTEXT_KEY is the context the construct reads; OWNER is the lookup owner', () => {
    const { app } = makeCluster({ machineImage: undefined });
    const ami = (app.synth().manifest.missing ?? []).find((m) => m.provider === 'ami');
    expect((ami?.props as { owners?: string[] }).owners).toEqual([FlatcarAmi.OWNER]);
    expect(() => makeCluster({ machineImage: undefined }, false)).toThrow(FlatcarAmi.CONTEXT_KEY);
  });
});
