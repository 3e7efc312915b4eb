/*
 * A fleet driven through the etcd-fleet CLI contract (bin/etcd-fleet.js → build/fleet/cli.js): tests, the
 * chaos run and the bench drive real etcd processes through the same commands a user types. Each fleet
 * lives in its own temp dir on a free 127.K.x.x block (./blocks) and is torn down with `etcd-fleet down`.
 */
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freshFleetDir } from './blocks';
import type { StatusJson } from './client';

export const FLEET_BIN = path.join(__dirname, '..', '..', '..', 'bin', 'etcd-fleet.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the command. */
  ms: number;
}

/** One JSON log line (agent, supervisor, etcd's zap); `t` is its `time` or `ts` in epoch ms when it has one. */
export type LogLine = Record<string, unknown> & { t?: number };

/** The JSON lines of an agent, supervisor or etcd log (a torn last line is skipped). */
export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const o = JSON.parse(l) as LogLine;
      const time = o.time ?? o.ts;
      if (typeof time === 'string') o.t = Date.parse(time);
      out.push(o);
    } catch {
      /* partial line */
    }
  }
  return out;
}

export class TestFleet {
  private made?: string;

  /**
   * @param name  the temp dir's tag (`fleet-<name>-XXXXXX`)
   * @param given a dir to use instead (not removed by down())
   */
  constructor(
    private readonly name: string,
    private readonly given?: string,
    private readonly timeoutMs = 400_000,
  ) {}

  /** The fleet's dir, made on first use (a describe block whose tests are all filtered out makes none). */
  get dir(): string {
    if (this.given) return this.given;
    this.made ??= freshFleetDir(`fleet-${this.name}-`);
    return this.made;
  }

  /** Runs a CLI command with the fleet's default timeout. */
  cli(...args: string[]): Promise<CliResult> {
    return this.run(args, this.timeoutMs);
  }

  run(args: string[], timeoutMs: number): Promise<CliResult> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [FLEET_BIN, ...args, '--dir', this.dir],
        { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr: stderr || (err ? String(err.message) : ''), ms: Date.now() - t0 });
        },
      );
    });
  }

  /** Runs a CLI command and fails with its stderr and the supervisor log tail when it fails. */
  async ok(...args: string[]): Promise<string> {
    return this.okWithin(this.timeoutMs, ...args);
  }

  async okWithin(timeoutMs: number, ...args: string[]): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) {
      throw new Error(`etcd-fleet ${args.join(' ')} exited ${r.code}: ${r.stderr}\n${this.logTail()}`);
    }
    return r.stdout;
  }

  /** A CLI command's JSON answer (`ok` and parse). */
  async json<T>(...args: string[]): Promise<T> {
    const out = await this.ok(...args);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new Error(`etcd-fleet ${args.join(' ')}: no JSON: ${out.slice(0, 200)}`);
    }
  }

  logTail(lines = 40): string {
    const p = path.join(this.dir, 'supervisor.log');
    if (!fs.existsSync(p)) return '(no supervisor log)';
    return fs.readFileSync(p, 'utf8').trim().split('\n').slice(-lines).join('\n');
  }

  async status(): Promise<StatusJson> {
    return this.json<StatusJson>('status', '--json');
  }

  async up(...args: string[]): Promise<StatusJson> {
    return this.json<StatusJson>('up', ...args, '--json');
  }

  /** `etcd-fleet down`, then removes the dir this fleet made. */
  async down(): Promise<void> {
    if (!this.made && !this.given) return;
    await this.cli('down');
    if (this.made) fs.rmSync(this.made, { recursive: true, force: true });
    this.made = undefined;
  }

  /** down() for exit handlers: synchronous, best effort. */
  downSync(): void {
    if (!this.made && !this.given) return;
    try {
      execFileSync(process.execPath, [FLEET_BIN, 'down', '--dir', this.dir], {
        timeout: 60_000,
        stdio: 'ignore',
      });
    } catch {
      /* best effort */
    }
    if (this.made) fs.rmSync(this.made, { recursive: true, force: true });
    this.made = undefined;
  }

  /** The instance dirs still present (a terminated instance's dir is removed), named NNN-<id>. */
  private instanceDirs(): string[] {
    const base = path.join(this.dir, 'instances');
    return fs.existsSync(base) ? fs.readdirSync(base) : [];
  }

  /** Launch order of every instance still present. */
  launchOrder(): Record<string, number> {
    return Object.fromEntries(
      this.instanceDirs().map((d) => [d.replace(/^\d+-/, ''), Number(d.split('-')[0])]),
    );
  }

  /** The text of one log (`agent.log` or `etcd.log`) of every instance still present, by instance id. */
  instanceLogs(file = 'agent.log'): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.instanceDirs()) {
      const p = path.join(this.dir, 'instances', d, file);
      if (fs.existsSync(p)) out[d.replace(/^\d+-/, '')] = fs.readFileSync(p, 'utf8');
    }
    return out;
  }

  /** The agent log text of every instance still present, by instance id. */
  agentLogs(): Record<string, string> {
    return this.instanceLogs('agent.log');
  }

  /** The supervisor's JSON log lines. */
  supervisorLines(): LogLine[] {
    const p = path.join(this.dir, 'supervisor.log');
    return fs.existsSync(p) ? logLines(fs.readFileSync(p, 'utf8')) : [];
  }

  /** Copies the supervisor's and every instance's logs to `dest`; returns dest or why it could not. */
  copyLogs(dest: string): string {
    try {
      fs.mkdirSync(dest, { recursive: true });
      for (const f of ['supervisor.log', 'supervisor.out']) {
        const p = path.join(this.dir, f);
        if (fs.existsSync(p)) fs.copyFileSync(p, path.join(dest, f));
      }
      for (const d of this.instanceDirs()) {
        for (const f of ['agent.log', 'etcd.log']) {
          const p = path.join(this.dir, 'instances', d, f);
          if (fs.existsSync(p)) fs.copyFileSync(p, path.join(dest, `${d}.${f}`));
        }
      }
      return dest;
    } catch (err) {
      return `copy failed: ${(err as Error).message}`;
    }
  }
}
