/*
 * runPromote's retry policy (the control flow around the pure planPromote): while etcd answers "not in
 * sync", only MemberPromote is re-sent; any other error sends the agent back to observing. The etcd side
 * of promotion runs on real etcd in the fleet tests (test/fleet); here the dependencies are recorded
 * calls, so the test can count them.
 */
import { AgentDeps } from '../../lambda/agent/deps';
import { runPromote } from '../../lambda/agent/promote';
import { AgentConfig, OutputFormat } from '../../lambda/agent/config';
import { backendSettings } from '../../lib/private/run-time-config';
import { JoinStrategy, type Member } from '../../lambda/core/types';
import type { MemberListResult } from '../../lambda/adapters/etcd';

const SELF_IP = '127.0.0.12';
const cfg: AgentConfig = {
  strategy: JoinStrategy.REPLACE,
  sizeCap: 5,
  peerPort: 2380,
  clientPort: 2379,
  scheme: 'http',
  dataDir: '/nonexistent/data',
  envFile: '/nonexistent/env',
  output: OutputFormat.ENV,
  launchHookName: '',
  deadlineSeconds: 60,
  heartbeatSeconds: 30,
  retryDelayMs: 200,
  backend: backendSettings(),
};

function member(id: string, ip: string, isLearner = false): Member {
  return {
    id,
    name: `i-${id}`,
    peerURLs: [`http://${ip}:2380`],
    clientURLs: [`http://${ip}:2379`],
    isLearner,
  };
}

function harness(promoteErrors: (Error | undefined)[]) {
  const calls = { memberList: 0, promote: 0, describeGroup: 0 };
  let promoted = false;
  const members = () => [
    member('1', '127.0.0.10'),
    member('2', '127.0.0.11'),
    member('3', SELF_IP, !promoted),
  ];
  let clock = 0;
  const deps: AgentDeps = {
    identity: async () => ({ instanceId: 'i-3', privateIp: SELF_IP }),
    groupOf: async () => 'g',
    describeGroup: async () => {
      calls.describeGroup++;
      return {
        groupName: 'g',
        desiredCapacity: 3,
        instances: ['10', '11', '12'].map((x) => ({
          instanceId: `i-${x}`,
          privateIp: `127.0.0.${x}`,
          lifecycleState: 'InService',
        })),
      };
    },
    memberList: async (): Promise<MemberListResult> => {
      calls.memberList++;
      return { members: members(), clusterId: 'c', leaderId: '1', endpoint: 'http://127.0.0.10:2379' };
    },
    healthOf: async (ms) => Object.fromEntries(ms.map((m) => [m.id, true])),
    versionsOf: async () => ({}),
    addLearner: async () => {
      throw new Error('not used');
    },
    remove: async () => {
      throw new Error('not used');
    },
    promote: async () => {
      const err = promoteErrors[calls.promote++];
      if (err) throw err;
      promoted = true;
    },
    withLock: async (_e, fn) => fn(),
    completeLifecycleAction: async () => undefined,
    heartbeat: async () => undefined,
    log: () => undefined,
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
  };
  return { deps, calls };
}

const notInSync = () =>
  new Error('etcdserver: can only promote a learner member which is in sync with leader');

describe('runPromote retry policy', () => {
  it('re-sends only the promote while etcd says the learner is not in sync', async () => {
    const { deps, calls } = harness([notInSync(), notInSync(), notInSync()]);
    const r = await runPromote(cfg, deps);
    expect(r.memberId).toBe('3');
    expect(calls.promote).toBe(4);
    // One observation before the promote loop and one that sees the voter: none per retry.
    expect(calls.memberList).toBe(2);
    expect(calls.describeGroup).toBe(2);
  });

  it('observes again after an error other than "not in sync"', async () => {
    const { deps, calls } = harness([new Error('etcdserver: request timed out')]);
    await runPromote(cfg, deps);
    expect(calls.promote).toBe(2);
    expect(calls.memberList).toBe(3);
  });
});
