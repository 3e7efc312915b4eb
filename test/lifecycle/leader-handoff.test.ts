/*
 * FAILURE-SCENARIOS 17.
 * Leadership handoff before the planned removal of the leader's member (issue 15; lambda/lifecycle/handoff.ts),
 * through the terminate handler, against real 3-member etcd clusters on 127.0.73.x and the AWS stand-in
 * (the world: ./handler-fixture.ts). What is judged is etcd's own view: every member's Maintenance.Status
 * at the moment the removal is sent, and the leaders the members report over the whole run.
 * The write gaps with and without the handoff are measured by ./leader-handoff-gap.test.ts.
 */
import { EtcdAdapter } from '../../lambda/adapters/etcd';
import { EtcdMaintenance } from '../../lambda/adapters/etcd-maintenance';
import { handler } from '../../lambda/lifecycle';
import type { EtcdPort, MaintenancePort } from '../../lambda/lifecycle/context';
import { LeaderWatch, currentLeader } from './leader-watch';
import { memberPeerURLs, metrics, peer, startTermination, useHandlerWorld, w } from './handler-fixture';

useHandlerWorld(1, 20, { block: (n) => (host) => `127.0.73.${n * 10 + host}` });

const adapter = new EtcdAdapter({ callTimeoutMs: 2000 });
const maintenance = new EtcdMaintenance(adapter);

/** The handler's etcd port, with what every member reported (leader, per member id) when the removal was sent. */
function recordingEtcd(): { port: EtcdPort; atRemoval: Record<string, string>[] } {
  const atRemoval: Record<string, string>[] = [];
  const port: EtcdPort = {
    memberList: (e) => adapter.memberList(e),
    healthOf: (m) => adapter.healthOf(m),
    withLock: (e, k, t, fn, s) => adapter.withLock(e, k, t, fn, s),
    isLocked: (e, k) => adapter.isLocked(e, k),
    remove: async (endpoints, memberId) => {
      const members = (await adapter.memberList(w.cluster.clientURLs))!.members;
      const status = await maintenance.statusOf(members);
      atRemoval.push(
        Object.fromEntries(
          Object.entries(status)
            .filter(([, s]) => s !== undefined)
            .map(([id, s]) => [id, s!.leader]),
        ),
      );
      return adapter.remove(endpoints, memberId);
    },
  };
  return { port, atRemoval };
}

const handoffLines = () => w.lines.filter((l) => l.message === 'leader handoff');

test("terminating the leader's instance: leadership moves to the chosen voter first, then the member is removed", async () => {
  await w.cluster.settled();
  const members = await w.cluster.members();
  const leaderId = await currentLeader(members);
  const target = w.instances.find((i) => i.privateIp === ipOf(members, leaderId))!;
  const rec = recordingEtcd();
  w.overrides = { etcd: rec.port };
  const watch = new LeaderWatch(members);
  watch.start();
  const res = await handler(startTermination(target));
  await new Promise((r) => setTimeout(r, 1500)); // three election timeouts: an election after the removal would show
  const seen = await watch.stop();

  expect(res).toMatchObject({ ok: true, kind: 'terminate', outcome: 'CONTINUE', removed: [leaderId] });
  const moves = handoffLines().filter((l) => l.decision === 'move');
  expect(moves).toHaveLength(1);
  const to = String(moves[0].to);
  expect(moves[0]).toMatchObject({
    from: leaderId,
    memberId: leaderId,
    reason: expect.stringMatching(/most caught-up/),
  });
  expect(to).not.toBe(leaderId);
  expect(members.map((m) => m.id)).toContain(to);
  // At the removal every member that answered named the chosen voter as leader; the removed one no longer
  // led. (etcd's strict reconfig check may refuse the first attempts with "unhealthy cluster" until the
  // peers have been connected for 5 s: the handler retries, and each attempt is recorded.)
  expect(rec.atRemoval.length).toBeGreaterThanOrEqual(1);
  for (const views of rec.atRemoval) {
    expect(Object.keys(views).length).toBeGreaterThanOrEqual(2);
    for (const lead of Object.values(views)) expect(lead).toBe(to);
  }
  expect(
    handoffLines()
      .slice(1)
      .every((l) => l.decision === 'not-leader'),
  ).toBe(true);
  // Each member's leader changed once, to the target: no election after the removal.
  expect(seen).toEqual(Object.fromEntries(members.map((m) => [m.id, [leaderId, to]])));
  expect(metrics('LeaderMoves')).toHaveLength(1);
  expect(metrics('LeaderMoves')[0]).toMatchObject({ from: leaderId, to, LeaderMoves: 1 });
  expect(w.lines.some((l) => l.message === 'leadership moved' && l.to === to)).toBe(true);
  const rest = w.instances.filter((i) => i !== target);
  expect(await memberPeerURLs(rest[0].instanceId)).toEqual(rest.map(peer).sort());
  expect(await currentLeader(await w.cluster.members(rest[0].instanceId))).toBe(to);
});

test('terminating a follower: no handoff, one line saying so, the leader stays', async () => {
  await w.cluster.settled();
  const members = await w.cluster.members();
  const leaderId = await currentLeader(members);
  const follower = members.find((m) => m.id !== leaderId)!;
  const inst = w.instances.find((i) => i.privateIp === ipOf(members, follower.id))!;
  const res = await handler(startTermination(inst));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [follower.id] });
  expect(handoffLines().length).toBeGreaterThanOrEqual(1); // one per removal attempt
  for (const l of handoffLines()) {
    expect(l).toMatchObject({ decision: 'not-leader', memberId: follower.id });
    expect(String(l.reason)).toContain(`(${leaderId} is)`);
  }
  expect(metrics('LeaderMoves')).toHaveLength(0);
  const rest = w.instances.filter((i) => i !== inst);
  expect(await currentLeader(await w.cluster.members(rest[0].instanceId))).toBe(leaderId);
});

test('handoff impossible (etcd refuses the MoveLeader): logged with the reason, the leader is removed as before', async () => {
  await w.cluster.settled();
  const members = await w.cluster.members();
  const leaderId = await currentLeader(members);
  const target = w.instances.find((i) => i.privateIp === ipOf(members, leaderId))!;
  // The transfer request goes to the chosen follower instead of the leader: real etcd answers "not leader".
  const refusing: MaintenancePort = {
    statusOf: (m) => maintenance.statusOf(m),
    alarms: (e) => maintenance.alarms(e),
    compact: (e, r) => maintenance.compact(e, r),
    defragment: (m) => maintenance.defragment(m),
    disarmNospace: (e, ids) => maintenance.disarmNospace(e, ids),
    moveLeader: (_leader, to) =>
      maintenance.moveLeader(
        members.find((m) => m.id === to)!,
        to,
      ),
  };
  const rec = recordingEtcd();
  w.overrides = { maintenance: refusing, etcd: rec.port };
  const res = await handler(startTermination(target));

  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [leaderId] });
  // A move and its failure per removal attempt.
  const decided = handoffLines().map((l) => l.decision);
  expect(decided.length).toBeGreaterThanOrEqual(2);
  expect(decided).toEqual(decided.map((_, i) => (i % 2 === 0 ? 'move' : 'move-failed')));
  expect(handoffLines()[1]).toMatchObject({
    level: 'WARN',
    memberId: leaderId,
    reason: expect.stringMatching(
      /MoveLeader failed \(.*not leader.*\): going ahead with the leader as it is/,
    ),
  });
  expect(metrics('LeaderMoves')).toHaveLength(0);
  // The removal went ahead with the leader still leading.
  expect(rec.atRemoval.length).toBeGreaterThanOrEqual(1);
  for (const views of rec.atRemoval) expect(views[leaderId]).toBe(leaderId);
  const rest = w.instances.filter((i) => i !== target);
  expect(await memberPeerURLs(rest[0].instanceId)).toEqual(rest.map(peer).sort());
});

test('switched off (leaderHandoff: false): the leader is removed while it leads, one line says why', async () => {
  await w.cluster.settled();
  const members = await w.cluster.members();
  const leaderId = await currentLeader(members);
  const target = w.instances.find((i) => i.privateIp === ipOf(members, leaderId))!;
  const rec = recordingEtcd();
  w.overrides = { leaderHandoff: false, etcd: rec.port };
  const res = await handler(startTermination(target));
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE', removed: [leaderId] });
  // One line per removal attempt (etcd may refuse the first attempts: the removal is retried).
  expect(handoffLines().length).toBeGreaterThanOrEqual(1);
  for (const l of handoffLines()) {
    expect(l).toMatchObject({
      decision: 'off',
      memberId: leaderId,
      reason: expect.stringMatching(/switched off/),
    });
  }
  for (const views of rec.atRemoval) expect(views[leaderId]).toBe(leaderId);
  expect(metrics('LeaderMoves')).toHaveLength(0);
});

function ipOf(members: readonly { id: string; clientURLs: readonly string[] }[], id: string): string {
  return new URL(members.find((m) => m.id === id)!.clientURLs[0]).hostname;
}
