import { releaseWithRetry } from '../../lambda/adapters/etcd';

describe('releaseWithRetry (a lock release sent during an election fails at first)', () => {
  const noSleep = async () => undefined;

  it('retries a failing release until it goes through', async () => {
    let calls = 0;
    const ok = await releaseWithRetry(async () => {
      if (++calls < 3) throw new Error('etcdserver: request timed out, leader changed');
    }, noSleep);
    expect(ok).toBe(true);
    expect(calls).toBe(3);
  });

  it('gives up after the bounded attempts and reports it', async () => {
    let calls = 0;
    const ok = await releaseWithRetry(
      async () => {
        calls++;
        throw new Error('unavailable');
      },
      noSleep,
      4,
    );
    expect(ok).toBe(false);
    expect(calls).toBe(4);
  });
});
