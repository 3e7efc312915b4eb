/*
 * The CI-sized chaos run (bench/chaos.js): 20 seeded rounds of faults on the local fleet under a steady
 * write load. Asserts exit 0 and the report's totals: every round converged, no quorum lost by the
 * automation, zero lost writes. The plan itself is checked to be a pure function of the seed.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', '..', 'bench', 'chaos.js');

const chaos = require(SCRIPT) as {
  makePlan(seed: number, rounds: number): unknown[];
  planFingerprint(plan: unknown[]): string;
};

describe('chaos run (bench/chaos.js)', () => {
  it('the fault plan replays identically from the seed', () => {
    expect(chaos.makePlan(42, 20)).toEqual(chaos.makePlan(42, 20));
    expect(chaos.planFingerprint(chaos.makePlan(42, 20))).not.toBe(
      chaos.planFingerprint(chaos.makePlan(43, 20)),
    );
  });

  it('20 rounds, seed 42: converged every round, no quorum lost, nothing lost', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-test-'));
    const report = path.join(tmp, 'report.json');
    try {
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [SCRIPT, '--rounds', '20', '--seed', '42', '--report', report, '--dir', path.join(tmp, 'fleet')],
          { timeout: 540_000, maxBuffer: 64 << 20, killSignal: 'SIGINT' },
          (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
      if (r.code !== 0) throw new Error(`chaos.js exited ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr}`);
      const rep = JSON.parse(fs.readFileSync(report, 'utf8'));
      expect(rep.pass).toBe(true);
      expect(rep.seed).toBe(42);
      expect(rep.planFingerprint).toBe(chaos.planFingerprint(chaos.makePlan(42, 20)));
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
