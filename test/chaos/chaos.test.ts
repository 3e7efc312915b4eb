/*
 * The CI-sized chaos run (bench/chaos.ts): 20 seeded rounds of faults on the local fleet under a steady
 * write load. Asserts exit 0 and the report's totals: every round converged, no quorum lost by the
 * automation, zero lost writes. The plan itself is checked to be a pure function of the seed.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makePlan, planFingerprint } from '../../bench/chaos/plan';
import { quorumUpStretch } from '../../bench/chaos/quorum';
import type { Disruption, Sample } from '../../bench/chaos/types';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'bench', 'chaos.ts');

describe('chaos: refused-write windows against the quorum (the check that fails a round)', () => {
  const sample = (t: number, voters: string[], leader: string): Sample => ({
    t,
    voters,
    leader,
    ids: voters,
    terminating: [],
  });
  // A 3-member cluster, sampled every second; the leader is a until t=5000.
  const steady = [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000].map((t) =>
    sample(t, ['a', 'b', 'c'], 'a'),
  );

  it('counts a refusal with all voters up and no election as quorum up', () => {
    const r = quorumUpStretch({ from: 2000, to: 6000 }, steady, []);
    expect(r.ms).toBe(4000);
    expect(r).toMatchObject({ voters: 3, running: 3 });
  });

  it('does not count the election after a fault on the leader (2.5 s from the fault)', () => {
    const d: Disruption = { id: 'a', ip: '', leader: true, from: 2000, to: 3000 };
    const r = quorumUpStretch({ from: 2000, to: 6000 }, steady, [d]);
    expect(r.ms).toBe(1500); // 4.5 s .. 6 s
  });

  it('does not count a leader change the sampler saw (the Lambda removed the leader later)', () => {
    // a's member removed between the samples at 3000 and 4000; b leads from 4000 on.
    const samples = steady.map((x) => (x.t >= 4000 ? sample(x.t, ['b', 'c'], 'b') : x));
    const r = quorumUpStretch({ from: 3500, to: 8000 }, samples, []);
    expect(r.ms).toBe(1500); // 3 s .. 6.5 s is the election's; 6.5 s .. 8 s counts
    expect(r).toMatchObject({ voters: 2, running: 2 });
  });

  it('does not count time when fewer than a quorum of voters run', () => {
    const ds: Disruption[] = ['b', 'c'].map((id) => ({ id, ip: '', leader: false, from: 1000, to: 9000 }));
    expect(quorumUpStretch({ from: 2000, to: 6000 }, steady, ds).ms).toBe(0);
  });
});

describe('chaos run (bench/chaos.ts)', () => {
  it('the fault plan replays identically from the seed', () => {
    expect(makePlan(42, 20)).toEqual(makePlan(42, 20));
    expect(planFingerprint(makePlan(42, 20))).not.toBe(planFingerprint(makePlan(43, 20)));
  });

  it('20 rounds, seed 42: converged every round, no quorum lost, nothing lost', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-test-'));
    const report = path.join(tmp, 'report.json');
    try {
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            '-r',
            'ts-node/register/transpile-only',
            SCRIPT,
            '--rounds',
            '20',
            '--seed',
            '42',
            '--report',
            report,
            '--dir',
            path.join(tmp, 'fleet'),
          ],
          { cwd: ROOT, timeout: 540_000, maxBuffer: 64 << 20, killSignal: 'SIGINT' },
          (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
      if (r.code !== 0) throw new Error(`chaos.ts exited ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr}`);
      const rep = JSON.parse(fs.readFileSync(report, 'utf8'));
      expect(rep.pass).toBe(true);
      expect(rep.seed).toBe(42);
      expect(rep.planFingerprint).toBe(planFingerprint(makePlan(42, 20)));
      expect(rep.totals.roundsRun).toBe(20);
      expect(rep.totals.roundsConverged).toBe(20);
      expect(rep.totals.quorumViolations).toBe(0);
      expect(rep.totals.lostWrites).toBe(0);
      expect(rep.totals.writesAcked).toBeGreaterThan(0);
      expect(rep.readback.present).toBe(rep.totals.writesAcked);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 560_000);
});
