/*
 * The MemberSampler (./harness) can fail: against a real 3-member etcd on 127.0.77.1-3 it sees nothing
 * wrong in a healthy cluster, counts two joining members at once (a learner and an unstarted voter, both
 * added by hand) and counts the samples in which the healthy started voters are fewer than a quorum.
 * The faults test relies on it for "one learner at a time, quorum held".
 */
import { EtcdCluster, PEER_PORT } from '../lifecycle/etcd-cluster';
import { client, MemberSampler } from './harness';

jest.setTimeout(90_000);

const nodes = [1, 2, 3].map((n) => ({ name: `s${n}`, ip: `127.0.77.${n}` }));
let cluster: EtcdCluster;

/** The sampler asks the fleet's status only for the endpoints (and TLS files); this is that much of it. */
type Sampled = ConstructorParameters<typeof MemberSampler>[0];
const statusOf = (endpoints: string[]): Sampled => ({
  status: async () => ({ endpoints }) as Awaited<ReturnType<Sampled['status']>>,
});

beforeAll(async () => {
  cluster = new EtcdCluster(nodes);
  await cluster.start();
  await cluster.settled();
});

afterAll(async () => {
  await cluster?.stop();
});

async function sampleFor(ms: number): Promise<MemberSampler> {
  const sampler = new MemberSampler(statusOf(cluster.clientURLs), 200, 50);
  sampler.start();
  await new Promise((r) => setTimeout(r, ms));
  await sampler.stop();
  return sampler;
}

test('a healthy cluster: samples taken, nothing joining, quorum held, no violation', async () => {
  const s = await sampleFor(1500);
  expect(s.samples).toBeGreaterThanOrEqual(5);
  expect({ unanswered: s.unanswered, maxPending: s.maxPending, quorumLost: s.quorumLost }).toEqual({
    unanswered: 0,
    maxPending: 0,
    quorumLost: 0,
  });
  expect(s.violations).toEqual([]);
});

test('two members joining at once and a lost quorum are both counted and reported', async () => {
  const c = client(cluster.clientURLs);
  try {
    // A learner and an unstarted voter on addresses nothing listens on: 5 members, 4 voters, quorum 3.
    await c.cluster.memberAdd({ peerURLs: [`http://127.0.77.4:${PEER_PORT}`], isLearner: true });
    await c.cluster.memberAdd({ peerURLs: [`http://127.0.77.5:${PEER_PORT}`] });
  } finally {
    c.close();
  }
  const joining = await sampleFor(1500);
  expect(joining.maxPending).toBe(2);
  expect(joining.quorumLost).toBe(0);
  expect(joining.violations[0]).toBe('5 members, 4 voters, 3 healthy started voters, 2 joining');

  // One started voter down: 2 healthy of 4 voters is below the quorum of 3.
  await cluster.kill('s3');
  const lost = await sampleFor(3000);
  expect(lost.samples).toBeGreaterThanOrEqual(3);
  expect(lost.quorumLost).toBe(lost.samples - lost.unanswered);
  expect(lost.quorumLost).toBeGreaterThan(0);
  expect(lost.violations[0]).toBe('5 members, 4 voters, 2 healthy started voters, 2 joining');
});
