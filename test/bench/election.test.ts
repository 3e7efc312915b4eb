/*
 * The bench's election classification (bench/lib/fleet.ts `election`), which splits bootstrap runs into
 * fast and slow modes: read from etcd's zap log lines as etcd 3.4 writes them.
 */
import { election } from '../../bench/lib/fleet';

const line = (ts: string, msg: string) =>
  JSON.stringify({ level: 'info', ts: `2026-11-30T15:00:${ts}Z`, caller: 'x.go:1', msg });
const member = (...lines: string[]) => lines.join('\n') + '\n';

const FF = 'initialized peer connections; fast-forwarding election ticks';

describe('election', () => {
  it('is fast when a member fast-forwarded its ticks before the first leader', () => {
    const e = election([
      member(
        line('00.000', 'starting etcd server'),
        line('00.300', FF),
        line('00.500', 'a became leader at term 2'),
      ),
      member(line('00.100', 'starting etcd server'), line('00.350', FF)),
      member(line('00.200', 'starting etcd server')),
    ]);
    expect(e).toEqual({
      leaderAt: Date.parse('2026-11-30T15:00:00.500Z'),
      term: 2,
      electionMs: 400, // from the quorum-th (2nd of 3) start at .100
      slow: false,
      advanced: true,
    });
  });

  it('is slow when the leader came late, and takes the earliest leader line', () => {
    const e = election([
      member(line('00.000', 'starting etcd server'), line('02.400', 'a became leader at term 3')),
      member(line('00.050', 'starting etcd server'), line('02.300', 'b became leader at term 2')),
      member(line('00.100', 'starting etcd server'), line('02.600', FF)),
    ]);
    expect(e).toMatchObject({ term: 2, electionMs: 2250, slow: true, advanced: false });
  });

  it('is slow after a late tick advance too (the advance alone does not make it fast)', () => {
    const e = election([
      member(
        line('00.000', 'starting etcd server'),
        line('02.500', FF),
        line('02.700', 'a became leader at term 2'),
      ),
      member(line('00.010', 'starting etcd server'), line('02.550', FF)),
      member(line('00.020', 'starting etcd server')),
    ]);
    expect(e).toMatchObject({ electionMs: 2690, slow: true, advanced: true });
  });

  it('is null without a leader, and skips torn and non-JSON lines', () => {
    expect(
      election([member(line('00.000', 'starting etcd server'), '{"level":"info","ts":"2026', 'plain text')]),
    ).toBeNull();
  });
});
