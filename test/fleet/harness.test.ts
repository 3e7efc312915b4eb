/*
 * The checks of the fleet tests can fail, shown against a real 3-member etcd on 127.0.79.1-3:
 * the read-backs of ./harness (expectValues for the tests, readBack for the chaos run's final check) pass
 * when every key holds the value written, and fail on a missing key and on a key that holds another value.
 */
import { CLIENT_PORT, EtcdCluster } from '../lifecycle/etcd-cluster';
import { client, expectValues, readBack, recoveryPoint } from './harness';

jest.setTimeout(60_000);

const endpoint = `http://127.0.79.1:${CLIENT_PORT}`;
let cluster: EtcdCluster;

beforeAll(async () => {
  cluster = new EtcdCluster([1, 2, 3].map((n) => ({ name: `m${n}`, ip: `127.0.79.${n}` })));
  await cluster.start();
  const c = client([endpoint]);
  try {
    for (let i = 0; i < 10; i++) {
      await c.put(`h/${i}`).value(`v${i}`);
      await c.put(`chaos/${String(i).padStart(8, '0')}`).value(String(i));
    }
  } finally {
    c.close();
  }
});

afterAll(async () => {
  await cluster?.stop();
});

const written = () => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h/${i}`, `v${i}`]));

test('expectValues: passes on the written values, fails on a missing key and on another value', async () => {
  await expectValues([endpoint], written(), 'h/');
  await expect(expectValues([endpoint], { ...written(), 'h/3': 'v3-not-this' }, 'h/')).rejects.toThrow(
    /h\/3: .*v3.* instead of .*v3-not-this/,
  );
  await expect(expectValues([endpoint], { ...written(), 'h/99': 'v99' }, 'h/')).rejects.toThrow(/h\/99/);
});

/** What the writer would expect after acknowledging keys 0 .. n-1 (key chaos/<8 digits> = String(i)). */
const acked = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`chaos/${String(i).padStart(8, '0')}`, String(i)]));

test('readBack: counts a key with another value as lost, like a missing one', async () => {
  expect(await readBack([endpoint], acked(10))).toMatchObject({
    present: 10,
    missingCount: 0,
    wrongValues: 0,
  });
  expect(await readBack([endpoint], acked(12))).toMatchObject({
    present: 10,
    missingCount: 2,
    wrongValues: 0,
    missing: ['chaos/00000010', 'chaos/00000011'],
  });
  const c = client([endpoint]);
  try {
    await c.put('chaos/00000004').value('not 4');
  } finally {
    c.close();
  }
  expect(await readBack([endpoint], acked(10))).toMatchObject({
    present: 9,
    missingCount: 1,
    wrongValues: 1,
    wrong: ['chaos/00000004: "not 4" instead of "4"'],
  });
});

describe('recoveryPoint (no etcd: a read-back map)', () => {
  const T = 1_000_000;
  // Writes 0..9 acknowledged one second apart; the loss at T + 10 s.
  const writer = {
    acked: Array.from({ length: 10 }, (_, n) => `w/${n}`),
    ackTimes: Array.from({ length: 10 }, (_, n) => T + n * 1000),
  };
  const read = (ns: number[], wrong: number[] = []) =>
    new Map(ns.map((n) => [`w/${n}`, Buffer.from(wrong.includes(n) ? 'x' : String(n))]));
  test.each([
    ['everything back', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [], 10, 0, []],
    ['the last 3 lost', [0, 1, 2, 3, 4, 5, 6], [], 7, 4, []],
    ['a hole at 2 (a later write back does not count)', [0, 1, 3, 4, 5, 6, 7, 8, 9], [], 2, 9, ['w/2']],
    ['another value counts as lost', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1], 1, 10, ['w/1']],
    ['nothing back', [], [], 0, Infinity, ['w/0', 'w/1', 'w/2', 'w/3', 'w/4']],
  ])('%s', (_, back, wrong, inOrder, rpo, olderMissing) => {
    const r = recoveryPoint(writer, read(back as number[], wrong as number[]), T + 10_000, 5);
    expect(r).toEqual({
      acknowledged: 10,
      backInOrder: inOrder,
      recoveryPointS: rpo,
      older: 5,
      olderMissing,
    });
  });
});
