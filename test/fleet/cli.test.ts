/*
 * The etcd-fleet CLI's argument parser (node:util parseArgs underneath): the flags the commands take, and a
 * usage error (exit 2, the usage text) that names an unknown or misused flag as it was typed. No fleet is
 * started: no command here is `up`, and none reaches a supervisor.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from '../../fleet/cli';
import { quotaSettings } from '../../fleet/render';

const BIN = path.join(__dirname, '..', '..', 'bin', 'etcd-fleet.js');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('parseArgs', () => {
  it('takes the command, its positional arguments, value flags (--x V and --x=V) and flags that stand alone', () => {
    expect(
      parseArgs([
        'up',
        '--size',
        '5',
        '--dir=/tmp/f',
        '--no-handler',
        '--restore',
        'automatic',
        '--tls',
        '--json',
      ]),
    ).toEqual({
      cmd: 'up',
      positional: [],
      flags: { size: '5', dir: '/tmp/f', 'no-handler': true, restore: 'automatic', tls: true, json: true },
    });
    expect(parseArgs(['kill', 'i-0123456789abcdef0', '--wipe', '--timeout', '30'])).toEqual({
      cmd: 'kill',
      positional: ['i-0123456789abcdef0'],
      flags: { wipe: true, timeout: '30' },
    });
    // A value that starts with a dash is still the flag's value (num() then refuses a negative one).
    expect(parseArgs(['scale', '2', '--timeout', '-1']).flags).toEqual({ timeout: '-1' });
    expect(parseArgs([])).toEqual({ cmd: '', positional: [], flags: {} });
    expect(parseArgs(['up', '--quota-mb', '48', '--maintenance-interval=2', '--no-maintenance'])).toEqual({
      cmd: 'up',
      positional: [],
      flags: { 'quota-mb': '48', 'maintenance-interval': '2', 'no-maintenance': true },
    });
    expect(parseArgs(['maintenance', 'off'])).toEqual({ cmd: 'maintenance', positional: ['off'], flags: {} });
  });

  it.each([
    [['up', '--bogus', '1'], 'unknown flag --bogus'],
    [['status', '--jsn'], 'unknown flag --jsn'],
    [['status', '-j'], 'unknown flag -j'],
    [['status', '--json=yes'], '--json takes no value'],
    [['up', '--size'], '--size needs a value'],
    [['up', '--quota-mb'], '--quota-mb needs a value'],
    [['up', '--no-maintenance=1'], '--no-maintenance takes no value'],
    [['up', '--quota'], 'unknown flag --quota'],
  ])('%j: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(new Error(message));
  });
});

describe('up --quota-mb: the settings the usage text documents', () => {
  it('48 MiB: quota 48 MiB, periodic compaction keeping 5 s, defragmentation at 15 % and 3 MiB, 30 s runs', () => {
    expect(quotaSettings({ quotaMiB: 48 })).toEqual({
      quotaBackendBytes: 48 * 1024 * 1024,
      backend: { quotaBackendBytes: 48 * 1024 * 1024, compactionMode: 'periodic', compactionRetention: '5s' },
      maintenance: { reclaimPercent: 15, reclaimMinBytes: 3 * 1024 * 1024, budgetSeconds: 30 },
    });
    expect(quotaSettings({})).toBeUndefined();
  });
});

describe('etcd-fleet (bin)', () => {
  it('an unknown flag: exit 2, the error names the flag, then the usage', async () => {
    // `status` on a dir that does not exist: should the flag ever be taken, nothing starts (and the test fails).
    const dir = path.join(os.tmpdir(), `etcd-fleet-cli-test-${process.pid}-never-made`);
    const r = await run('status', '--dir', dir, '--sise', '4');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      'etcd-fleet: unknown flag --sise',
      'usage: etcd-fleet <command> [options]',
    ]);
  });

  it.each([
    [['--quota-mb', '8'], '--quota-mb must be 16..102400'],
    [['--quota-mb', 'lots'], '--quota-mb must be a number'],
    [['--maintenance-interval', '-5'], '--maintenance-interval must be a number'],
  ])('up %j: exit 2 before anything starts: %s', async (flags, message) => {
    const dir = path.join(os.tmpdir(), `etcd-fleet-cli-test-${process.pid}-never-made`);
    const r = await run('up', '--dir', dir, ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`etcd-fleet up: ${message}`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('--help prints the usage on stdout, exit 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: etcd-fleet <command> \[options\]\n {2}up \[--size N\]/);
    expect(r.stdout).toContain('--empty-start-beside-backups (up:');
    for (const flag of ['--quota-mb N (up:', '--maintenance-interval S (up:', '--no-maintenance (up:'])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('maintenance on|off|run');
    expect(r.stdout).toMatch(/auto-compaction periodic with 5 s retention/);
  });
});
