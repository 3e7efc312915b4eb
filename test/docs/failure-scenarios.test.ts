/*
 * docs/FAILURE-SCENARIOS.md stays current: scenarios 1..N in order, each saying where it is tested (files
 * that exist, and that name the scenario) or "not yet (issue N)"; every "FAILURE-SCENARIOS N" cited in the
 * sources names a scenario of the list.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const doc = fs.readFileSync(path.join(ROOT, 'docs', 'FAILURE-SCENARIOS.md'), 'utf8');
const scenarios = doc.split(/\n(?=\d+\. )/).slice(1);

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(rel);
    return /\.(ts|js)$/.test(e.name) ? [rel] : [];
  });
}

test('scenarios are numbered 1..N in order, each with where it is tested or the issue that will', () => {
  expect(scenarios.length).toBeGreaterThanOrEqual(20);
  scenarios.forEach((text, i) => {
    expect(text.startsWith(`${i + 1}. `)).toBe(true);
    expect([
      i + 1,
      /\n\s+Tested in:\n\s+- `/.test(text) || /\n\s+Tested: not yet .*\(issue \d+/.test(text),
    ]).toEqual([i + 1, true]);
  });
});

test('every test file a scenario cites exists and names that scenario', () => {
  const problems: string[] = [];
  scenarios.forEach((text, i) => {
    for (const [, file] of text.matchAll(/^\s+- `([^`]+)`/gm)) {
      const p = path.join(ROOT, file);
      if (!fs.existsSync(p)) {
        problems.push(`${i + 1}: ${file} does not exist`);
        continue;
      }
      const src = fs.readFileSync(p, 'utf8');
      const n = i + 1;
      const named = new RegExp(`scenarios? [^\\n]*\\b${n}\\b|FAILURE-SCENARIOS[^\\n]*\\b${n}\\b`, 'i').test(
        src,
      );
      if (!named) problems.push(`${n}: ${file} does not mention scenario ${n}`);
    }
  });
  expect(problems).toEqual([]);
});

test('every "FAILURE-SCENARIOS N" in the sources is a scenario of the list', () => {
  const bad: string[] = [];
  for (const f of ['lib', 'lambda', 'fleet', 'test', 'bench'].flatMap((d) => sources(d))) {
    for (const m of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/FAILURE-SCENARIOS (\d+)/g)) {
      if (Number(m[1]) < 1 || Number(m[1]) > scenarios.length) bad.push(`${f}: ${m[0]}`);
    }
  }
  expect(bad).toEqual([]);
});
