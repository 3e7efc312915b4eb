/*
 * FAILURE-SCENARIOS 17.
 * The longest write gap of a steady writer while the leader's instance is terminated through the terminate
 * handler, with the leader handoff (lambda/lifecycle/handoff.ts) and without it (leaderHandoff: false), on
 * real 3-member etcd clusters on 127.0.72.x with etcd's default timing (heartbeat 100 ms, election 1 s, as
 * the fleet and the construct run it). The figures are printed; the only bound asserted is a generous one:
 * with the handoff the gap stays under one election timeout, which a removal of the leader as it is cannot
 * do (the others wait at least an election timeout before electing).
 * HANDOFF_GAP_ROUNDS=N repeats both cases N times (default 1; at most 12).
 * A failed case is run again, at most twice, on a fresh cluster (jest.retryTimes), every attempt's figures
 * printed: a CI run once saw 1074 ms with the handoff on a loaded machine (its baseline that run: 1017 ms).
 * A broken handoff cannot pass: a removal as it is never gets under an election timeout, in any attempt.
 */
import { handler } from '../../lambda/lifecycle';
import { startTermination, useHandlerWorld, w } from './handler-fixture';
import { currentLeader } from './leader-watch';
import { longestGap, steadyWriter } from './steady-writer';

jest.retryTimes(2, { logErrorsBeforeRetry: true });

const ELECTION_TIMEOUT_MS = 1000;
useHandlerWorld(1, 25, {
  block: (n) => (host) => `127.0.72.${n * 10 + host}`,
  etcdArgs: ['--heartbeat-interval', '100', '--election-timeout', String(ELECTION_TIMEOUT_MS)],
});

const ROUNDS = Math.min(12, Math.max(1, Number(process.env.HANDOFF_GAP_ROUNDS ?? 1)));
const figures: { handoff: boolean; gapMs: number; steadyGapMs: number; writes: number; handlerMs: number }[] =
  [];

async function measure(handoff: boolean): Promise<number> {
  await w.cluster.settled();
  const members = await w.cluster.members();
  const leaderId = await currentLeader(members);
  const leader = members.find((m) => m.id === leaderId)!;
  const target = w.instances.find((i) => leader.clientURLs[0].includes(`//${i.privateIp}:`))!;
  w.overrides = { leaderHandoff: handoff };
  const writer = steadyWriter(
    members.filter((m) => m.id !== leaderId).map((m) => m.clientURLs[0]),
    { prefix: 'gap/', deadlineMs: 1000, maxPuts: 100_000 },
  );
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  const res = await handler(startTermination(target));
  const handlerMs = Date.now() - t0;
  await w.cluster.kill(target.instanceId); // the instance terminates once the hook completed
  await new Promise((r) => setTimeout(r, 3 * ELECTION_TIMEOUT_MS));
  await writer.stop();
  expect(res).toMatchObject({ ok: true, outcome: 'CONTINUE' });
  const gapMs = longestGap(writer.acks, t0);
  const steadyGapMs = longestGap(writer.acks, 0, t0);
  figures.push({ handoff, gapMs, steadyGapMs, writes: writer.acks.length, handlerMs });
  expect(writer.acks.length).toBeGreaterThan(50);
  return gapMs;
}

for (let round = 1; round <= ROUNDS; round++) {
  test(`round ${round}: the leader removed after a handoff: the longest write gap stays under one election timeout`, async () => {
    expect(await measure(true)).toBeLessThan(ELECTION_TIMEOUT_MS);
  });
  test(`round ${round}: the leader removed as it is (leaderHandoff: false): the baseline`, async () => {
    await measure(false);
  });
}

afterAll(() => {
  const summary = (h: boolean) => {
    const gaps = figures.filter((f) => f.handoff === h).map((f) => f.gapMs);
    return gaps.length ? `max ${Math.max(...gaps)} ms, each ${gaps.join('/')} ms` : 'none';
  };
  console.log(
    [
      'longest write gap while the leader is removed through the terminate handler',
      `  with handoff:    ${summary(true)}`,
      `  without handoff: ${summary(false)}`,
      ...figures.map((f) => `  ${JSON.stringify(f)}`),
    ].join('\n'),
  );
});
