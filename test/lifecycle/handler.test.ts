/*
 * The lifecycle handler's terminate, launch and event handling against a real 3-member etcd cluster and the
 * local AWS stand-in (the world: ./handler-fixture.ts). The scheduled reconcile: handler-reconcile.test.ts.
 */
import { handler, HandlerResult } from '../../lambda/lifecycle';
import {
  decisions,
  GHOST_IP,
  GROUP,
  LAUNCH_HOOK,
  memberPeerURLs,
  metrics,
  peer,
  standInInstance,
  startTermination,
  TERMINATE_HOOK,
  terminateEvent,
  useHandlerWorld,
  w,
} from './handler-fixture';

useHandlerWorld(1, 100);

test('terminate a healthy member of 3: removed under the lock, CONTINUE; a duplicate event is swallowed', async () => {
  await w.cluster.settled();
  const [a, b, c] = w.instances;
  const id = await w.cluster.memberIdOf(c.instanceId);
  w.standIn.faults.throttle = 2; // the SDK's retries absorb throttling

  const res = await handler(startTermination(c));
  expect(res).toMatchObject({ ok: true, kind: 'terminate', outcome: 'CONTINUE', removed: [id] });
  expect(w.completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'CONTINUE' })]);
  expect(w.standIn.getInstance(c.instanceId)?.lifecycleState).toBe('Terminating:Proceed');
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
  expect(metrics('MemberRemovals')).toHaveLength(1);
  expect(metrics('MemberRemovals')[0]).toMatchObject({
    AutoScalingGroupName: GROUP,
    _aws: {
      CloudWatchMetrics: [
        {
          Namespace: 'CdkElasticEtcd',
          Dimensions: [['AutoScalingGroupName']],
          Metrics: [{ Name: 'MemberRemovals', Unit: 'Count' }],
        },
      ],
    },
  });
  // One decision, 'remove'; under load etcd's strict-reconfig guard ("unhealthy cluster" until every member
  // has been connected for 5 s) can refuse the first tries, and each retry logs the same decision again.
  expect(decisions().length).toBeGreaterThanOrEqual(1);
  expect(new Set(decisions())).toEqual(new Set(['remove']));

  // The same event again (EventBridge delivers at least once): member gone → absent; the action is no longer
  // active → the completion error is swallowed.
  w.lines = [];
  const again = await handler(terminateEvent(c));
  expect(again).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(decisions()).toEqual(['absent']);
  expect(w.lines.some((l) => /no active lifecycle action/i.test(String(l.message)))).toBe(true);
  expect(w.completions).toHaveLength(1);
  expect(await memberPeerURLs(a.instanceId)).toEqual([peer(a), peer(b)].sort());
});

test('terminate while another member is dead and the group wants 3: unsafe, the instance is retained', async () => {
  await w.cluster.settled();
  const [a, b, c] = w.instances;
  await w.cluster.kill(a.instanceId);
  await w.cluster.waitHealthy([w.cluster.node(b.instanceId), w.cluster.node(c.instanceId)]); // a new leader, if a led

  const res = await handler(startTermination(c));
  // 3 members, 1 dead, desired capacity 3: removing the healthy target would leave 1 healthy of 2 voters
  // (no quorum); removing the dead one first would keep a quorum of a 1-member cluster, below the quorum
  // of the desired 3. The core says unsafe: the instance is retained (FAILURE-SCENARIOS 6, variant).
  expect(decisions()).toEqual(['unsafe', 'unsafe', 'unsafe']); // looked again twice before retaining
  expect(res).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(w.completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'ABANDON' })]);
  expect(await memberPeerURLs(b.instanceId)).toEqual([peer(a), peer(b), peer(c)].sort());
  expect(metrics('RetainedTerminations')).toHaveLength(1);
});

test('terminate when 2 of 3 members are dead: unsafe → ABANDON, nothing removed; etcd unreachable → ABANDON', async () => {
  await w.cluster.settled();
  const [a, b, c] = w.instances;
  await w.cluster.kill(a.instanceId);
  await w.cluster.kill(b.instanceId);

  const res = await handler(startTermination(c));
  expect(res).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(decisions()).toEqual(['unsafe', 'unsafe', 'unsafe']);
  expect(w.completions).toEqual([expect.objectContaining({ instanceId: c.instanceId, result: 'ABANDON' })]);
  expect(await memberPeerURLs(c.instanceId)).toEqual([peer(a), peer(b), peer(c)].sort());
  expect(metrics('RetainedTerminations')).toHaveLength(1);

  // No member list at all: nothing can be proven safe, so the instance is retained too.
  await w.cluster.kill(c.instanceId);
  w.lines = [];
  const unreachable = await handler(startTermination(b));
  expect(unreachable).toMatchObject({ ok: true, outcome: 'ABANDON', removed: [] });
  expect(decisions()).toEqual(['etcd-unreachable']);
  expect(w.completions[1]).toMatchObject({ instanceId: b.instanceId, result: 'ABANDON' });
  expect(metrics('RetainedTerminations')).toHaveLength(1);
});

test('unknown instance: CONTINUE (completion error swallowed), no member touched', async () => {
  const ghost = standInInstance(GHOST_IP, 9);
  expect(w.instances.map((i) => i.privateIp)).not.toContain(GHOST_IP);
  const res = await handler(terminateEvent(ghost));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [] });
  expect(decisions()).toEqual(['unknown-instance']);
  expect(w.requests).toEqual(
    expect.arrayContaining(['DescribeAutoScalingGroups', 'DescribeInstances', 'CompleteLifecycleAction']),
  );
  expect(await w.cluster.members()).toHaveLength(3);
});

test('foreign group and foreign hook: logged and ignored, no AWS call, no etcd change', async () => {
  const c = w.instances[2];
  const res = await handler(startTermination(c, { AutoScalingGroupName: 'someone-elses-group' }));
  expect(res).toMatchObject({ ok: true, kind: 'invalid', outcome: 'ignored' });
  expect(String(res.reason)).toMatch(/someone-elses-group/);
  expect(w.requests).toEqual([]);
  expect(w.completions).toEqual([]);
  expect(await w.cluster.members()).toHaveLength(3);

  process.env.TERMINATE_HOOK_NAME = TERMINATE_HOOK;
  const other = await handler(terminateEvent(c, { LifecycleHookName: 'another-teams-hook' }));
  expect(other).toMatchObject({ ok: true, outcome: 'ignored' });
  expect(w.requests).toEqual([]);
});

test('malformed and foreign events: logged, no action, no throw', async () => {
  const c = w.instances[2];
  const good = terminateEvent(c);
  const bad: unknown[] = [
    null,
    'terminate',
    42,
    [],
    {},
    { foo: 1 },
    { ...good, source: 'my.app' },
    { ...good, detail: 'x' },
    { ...good, detail: { AutoScalingGroupName: GROUP } },
    { ...good, detail: { ...(good.detail as object), EC2InstanceId: '127.0.0.1' } },
    { ...good, detail: { ...(good.detail as object), LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' } },
    { ...good, 'detail-type': 'EC2 Instance Terminate Successful' },
  ];
  for (const event of bad) {
    const res: HandlerResult = await handler(event);
    expect(res).toMatchObject({ ok: true, kind: 'invalid', outcome: 'ignored', removed: [] });
  }
  expect(w.lines.filter((l) => l.message === 'event ignored: no action taken')).toHaveLength(bad.length);
  expect(w.requests).toEqual([]);
  expect(await w.cluster.members()).toHaveLength(3);
});

test('launch action: recorded only (the agent completes it)', async () => {
  const c = w.instances[2];
  w.standIn.setLifecycleState(c.instanceId, 'Pending:Wait');
  const res = await handler({
    ...terminateEvent(c, {
      LifecycleHookName: LAUNCH_HOOK,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      Origin: 'WarmPool',
      Destination: 'AutoScalingGroup',
    }),
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
  });
  expect(res).toMatchObject({ ok: true, kind: 'launch', outcome: 'logged' });
  expect(w.requests).toEqual([]);
  expect(w.standIn.getInstance(c.instanceId)?.lifecycleState).toBe('Pending:Wait');
});

test('an instance going back to the warm pool is removed like a termination (right after start: transient "unhealthy cluster" retried)', async () => {
  const c = w.instances[2];
  const id = await w.cluster.memberIdOf(c.instanceId);
  const res = await handler(startTermination(c, { Origin: 'AutoScalingGroup', Destination: 'WarmPool' }));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [id] });
  expect(w.lines.some((l) => /warm pool/.test(String(l.message)))).toBe(true);
});
