/*
 * The bench's election classification (bench/lib/fleet.ts `election`), which splits bootstrap runs into
 * fast and slow modes: read from etcd's zap log lines as etcd 3.4 writes them.
 */
import { election } from '../../bench/lib/fleet';

const line = (ts: string, msg: string) =>
  JSON.stringify({ level: 'info', ts: `2026-11-30T15:00:${ts}Z`, caller: 'x.go:1', msg });

const FF = 'initialized peer connections; fast-forwarding election ticks';
const LEAD = (who: string, term: number) => `${who} became leader at term ${term}`;

/** One etcd log per member: its start time, then [time, message] lines. */
const logs = (...members: [string, ...[string, string][]][]) =>
  members.map(([start, ...rest]) =>
    [line(start, 'starting etcd server'), ...rest.map(([t, m]) => line(t, m))].join('\n'),
  );

describe('election', () => {
  it('is fast when a member fast-forwarded its ticks before the first leader', () => {
    const e = election(
      logs(['00.000', ['00.300', FF], ['00.500', LEAD('a', 2)]], ['00.100', ['00.350', FF]], ['00.200']),
    );
    expect(e).toEqual({
      leaderAt: Date.parse('2026-11-30T15:00:00.500Z'),
      term: 2,
      electionMs: 400, // from the quorum-th (2nd of 3) start at .100
      slow: false,
      advanced: true,
    });
  });

  it('is slow when the leader came late, and takes the earliest leader line', () => {
    const e = election(
      logs(
        ['00.000', ['02.400', LEAD('a', 3)]],
        ['00.050', ['02.300', LEAD('b', 2)]],
        ['00.100', ['02.600', FF]],
      ),
    );
    expect(e).toMatchObject({ term: 2, electionMs: 2250, slow: true, advanced: false });
  });

  it('is slow after a late tick advance too (the advance alone does not make it fast)', () => {
    const e = election(
      logs(['00.000', ['02.500', FF], ['02.700', LEAD('a', 2)]], ['00.010', ['02.550', FF]], ['00.020']),
    );
    expect(e).toMatchObject({ electionMs: 2690, slow: true, advanced: true });
  });

  it('is null without a leader, and skips torn and non-JSON lines', () => {
    expect(
      election([
        [line('00.000', 'starting etcd server'), '{"level":"info","ts":"2026', 'plain text'].join('\n'),
      ]),
    ).toBeNull();
  });
});
