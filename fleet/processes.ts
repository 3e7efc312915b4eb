/*
 * An instance's processes, as its systemd units would run them: the join agent (build/agent/agent.js)
 * first, then etcd with the settings the agent wrote (Flatcar's etcd-member.service, restarted on
 * failure), then the agent's promote phase, which completes the launch lifecycle action, and with the
 * incremental backup log the agent's `ship` (etcd-backup-log.service) beside etcd.
 */
import { ChildProcess, spawn, StdioOptions } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseEnvFile } from '../lambda/agent/output';
import { agentFaultArgs } from './faults';
import type { FleetLog, Instance } from './types';

/** What the processes need of the fleet. */
export interface ProcessHost {
  /** Repo root: where build/ lives. */
  readonly root: string;
  /** The first N instances launched never boot. */
  readonly breakBoot: number;
  /** A reboot runs the agent's `handoff` before it stops etcd (etcd-handoff.service's ExecStop); default true. */
  readonly stopHandoff?: boolean;
  /** Environment of a process that talks to the stand-in as this instance. */
  awsEnv(instanceId: string): Record<string, string>;
  readonly log: FleetLog;
}

export { LOSE_ADD_REPLY_FILE } from './faults';

export class InstanceProcesses {
  constructor(private readonly host: ProcessHost) {}

  /** Launch order of the instance (its dir is NNN-ID). */
  private seqOf(inst: Instance): number {
    return Number(path.basename(inst.dir).split('-')[0]);
  }

  /** Agent (join) → etcd → agent (promote), as the instance's systemd units would run them. */
  async boot(inst: Instance): Promise<void> {
    if (inst.phase === 'gone') return; // terminated while a restart was pending
    inst.phase = 'booting';
    const seq = (inst.bootSeq = (inst.bootSeq ?? 0) + 1);
    if (this.seqOf(inst) <= this.host.breakBoot) {
      this.host.log('boot broken on purpose', { id: inst.id });
      return;
    }
    const code = await this.runAgent(inst, 'join');
    if (inst.bootSeq !== seq) return; // rebooted meanwhile: that boot acts now
    if (inst.stopping || (inst.phase as Instance['phase']) === 'gone') return;
    if (code !== 0) {
      inst.bootFailures++;
      const tail = fs.readFileSync(path.join(inst.dir, 'agent.log'), 'utf8').trim().split('\n').slice(-25);
      inst.joinFailure = joinFailureReason(tail);
      this.host.log('join agent failed; etcd-member.service does not start', {
        id: inst.id,
        code,
        reason: inst.joinFailure,
        tail,
      });
      inst.phase = 'dead';
      return;
    }
    this.startEtcd(inst);
    void this.runAgent(inst, 'promote').then((c) => {
      this.host.log('promote agent exited', { id: inst.id, code: c });
      // etcd-backup-log.service is ordered After=etcd-promote.service: the shipper starts once the promote phase
      // exited (whatever its code), not beside a catching-up learner, which refuses the election's lease grant.
      if (inst.bootSeq === seq && !inst.stopping && inst.phase !== 'gone' && inst.etcd)
        this.startShipper(inst);
    });
  }

  /**
   * The incremental backup log's shipper (`agent.js ship`), as etcd-backup-log.service runs it on a member:
   * after etcd started and the promote phase exited, when the instance's config has the log; restarted 1 s
   * after it exits while etcd runs (Restart=always), SIGTERMed before etcd stops, SIGKILLed with the instance.
   * Its log: DIR/.../ship.log.
   */
  private startShipper(inst: Instance): void {
    if (inst.shipper && inst.shipper.exitCode === null && inst.shipper.signalCode === null) return;
    const config = JSON.parse(fs.readFileSync(path.join(inst.dir, 'config.json'), 'utf8')) as {
      incrementalBackupSeconds?: number;
    };
    if (config.incrementalBackupSeconds === undefined) return;
    const out = fs.openSync(path.join(inst.dir, 'ship.log'), 'a');
    const child = this.spawnAgent(inst, 'ship', ['ignore', out, out]);
    fs.closeSync(out);
    inst.shipper = child;
    this.host.log('shipper started', { id: inst.id, pid: child.pid });
    child.on('exit', (code, signal) => {
      if (inst.shipper !== child) return;
      inst.shipper = undefined;
      if (inst.stopping || inst.phase !== 'running' || !inst.etcd) return;
      this.host.log('shipper exited: restarting in 1 s', { id: inst.id, code, signal });
      setTimeout(() => {
        if (!inst.stopping && inst.phase === 'running' && inst.etcd) this.startShipper(inst);
      }, 1000);
    });
  }

  /** SIGTERM to the shipper (it flushes and resigns), SIGKILL after 5 s; resolves once it exited. */
  private async stopShipper(inst: Instance): Promise<void> {
    const p = inst.shipper;
    inst.shipper = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  /**
   * `node [nodeArgs] build/agent/agent.js VERB --config <the instance's config>`, with the instance's AWS
   * endpoints and credentials in its environment, as the instance's units run the agent.
   */
  private spawnAgent(
    inst: Instance,
    verb: string,
    stdio: StdioOptions,
    nodeArgs: string[] = [],
  ): ChildProcess {
    const agent = path.join(this.host.root, 'build', 'agent', 'agent.js');
    return spawn(
      process.execPath,
      ['--no-warnings', ...nodeArgs, agent, verb, '--config', path.join(inst.dir, 'config.json')],
      { env: { PATH: process.env.PATH ?? '', ...this.host.awsEnv(inst.id) }, stdio },
    );
  }

  private runAgent(inst: Instance, phase: 'join' | 'promote' | 'handoff'): Promise<number> {
    const out = fs.openSync(path.join(inst.dir, 'agent.log'), 'a');
    // an armed fault (fleet/faults/) is loaded into this agent process from outside the agent bundle
    const child = this.spawnAgent(
      inst,
      phase,
      ['ignore', out, out],
      agentFaultArgs(this.host.root, inst.dir),
    );
    fs.closeSync(out);
    // The handoff runs beside whatever agent runs (the stop that follows ends that one).
    if (phase !== 'handoff') inst.agent = child;
    return exitCodeOf(child, () => {
      if (inst.agent === child) inst.agent = undefined;
    });
  }

  /**
   * One restore drill run (`agent.js drill`, as etcd-backup-drill.timer starts it on a member): its exit code
   * and the JSON lines it wrote (also appended to DIR/.../drill.log).
   */
  async drill(inst: Instance): Promise<{ code: number; lines: unknown[] }> {
    const child = this.spawnAgent(inst, 'drill', ['ignore', 'pipe', 'pipe']);
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const code = await exitCodeOf(child);
    fs.appendFileSync(path.join(inst.dir, 'drill.log'), output);
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as unknown;
        } catch {
          return l;
        }
      });
    return { code, lines };
  }

  private startEtcd(inst: Instance): void {
    const vars = parseEnvFile(fs.readFileSync(path.join(inst.dir, 'etcd.env'), 'utf8'));
    const out = fs.openSync(path.join(inst.dir, 'etcd.log'), 'a');
    const child = spawn(inst.template.etcdBin, [], {
      env: { PATH: process.env.PATH ?? '', ...vars, ETCD_LOGGER: 'zap', ETCD_LOG_OUTPUTS: 'stderr' },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    inst.etcd = child;
    inst.phase = 'running';
    this.host.log('etcd started', {
      id: inst.id,
      pid: child.pid,
      state: vars.ETCD_INITIAL_CLUSTER_STATE,
      bin: inst.template.etcdBin,
    });
    child.on('exit', (code, signal) => this.onEtcdExit(inst, child, code, signal));
  }

  private onEtcdExit(
    inst: Instance,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (inst.etcd !== child) return;
    inst.etcd = undefined;
    // Requires=etcd-member.service: the shipper stops with etcd (and starts again with it).
    void this.stopShipper(inst);
    if (inst.stopping || inst.phase === 'gone' || inst.phase === 'terminating') return;
    this.host.log('etcd exited', { id: inst.id, code, signal });
    // A retained instance stays retained (outside the group's capacity): not restarted, never counted.
    if (inst.phase === 'retained') return;
    if (signal === 'SIGKILL' || inst.phase === 'dead') {
      inst.phase = 'dead';
      return;
    }
    // etcd-member.service restarts on failure (Restart=on-failure, RestartSec), and the join agent runs
    // again first: a member that was removed meanwhile is detected, wiped and rejoins.
    const now = Date.now();
    inst.restarts = inst.restarts.filter((t) => now - t < 60_000);
    if (inst.restarts.length >= 5) {
      this.host.log('etcd crash loop: start limit hit', { id: inst.id });
      inst.phase = 'dead';
      return;
    }
    inst.restarts.push(now);
    setTimeout(() => void this.boot(inst), 1000);
  }

  /** Resolves once the instance's agent process exited (at once when none runs), or after `ms`. */
  agentExited(inst: Instance, ms: number): Promise<void> {
    const agent = inst.agent;
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      agent.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Stops the agent (SIGKILL) and etcd (this signal, SIGKILL after 5 s); resolves when etcd exited. */
  async stop(inst: Instance, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    inst.stopping = true;
    inst.agent?.kill('SIGKILL');
    // etcd-backup-log.service stops before etcd-member.service (After=): the shipper first.
    await this.stopShipper(inst);
    const p = inst.etcd;
    if (p && p.exitCode === null && p.signalCode === null) {
      if (inst.frozen) p.kill('SIGCONT');
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    inst.etcd = undefined;
    inst.frozen = false;
    inst.stopping = false;
  }

  /** SIGKILL its processes (the instance's phase is the caller's); `wipe` deletes its data dir. */
  kill(inst: Instance, wipe: boolean): void {
    inst.agent?.kill('SIGKILL');
    inst.shipper?.kill('SIGKILL');
    inst.shipper = undefined;
    if (inst.frozen) inst.etcd?.kill('SIGCONT');
    inst.etcd?.kill('SIGKILL');
    if (wipe) fs.rmSync(inst.dataDir, { recursive: true, force: true });
  }

  /** SIGSTOP / SIGCONT its etcd (false when it has no running etcd). */
  freeze(inst: Instance, frozen: boolean): boolean {
    if (!inst.etcd) return false;
    inst.etcd.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    inst.frozen = frozen;
    return true;
  }

  /**
   * Stop, then boot again: same address and data dir, a fresh restart budget. A running etcd is stopped as
   * systemd stops it on an instance: the agent's `handoff` first (ExecStop of etcd-handoff.service: leadership
   * moved away if this member leads; the agent caps it at 15 s and never fails it), unless stopHandoff is off.
   */
  async reboot(inst: Instance): Promise<void> {
    const running = inst.etcd && inst.etcd.exitCode === null && inst.etcd.signalCode === null && !inst.frozen;
    if (running && this.host.stopHandoff !== false) {
      const t0 = Date.now();
      const code = await this.runAgent(inst, 'handoff');
      this.host.log('stop: handoff agent exited', { id: inst.id, code, ms: Date.now() - t0 });
    }
    await this.stop(inst);
    inst.restarts = [];
    this.host.log('rebooting', { id: inst.id });
    void this.boot(inst);
  }

  /** Pids of the instance's running processes. */
  pids(inst: Instance): number[] {
    const out: number[] = [];
    if (inst.etcd?.pid) out.push(inst.etcd.pid);
    if (inst.agent?.pid) out.push(inst.agent.pid);
    if (inst.shipper?.pid) out.push(inst.shipper.pid);
    return out;
  }
}

/**
 * A child's exit code: its own, 128 when a signal ended it, 127 when it could not be started. `onExit` runs
 * when it exited, before the code is handed on.
 */
function exitCodeOf(child: ChildProcess, onExit?: () => void): Promise<number> {
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      onExit?.();
      resolve(code ?? (signal ? 128 : 1));
    });
    child.on('error', () => resolve(127));
  });
}

/**
 * Why a join agent failed, from the tail of its log: the reason of its refusal (a 'version skew check' line
 * with decision refuse, or the launch action it completed with ABANDON), else its last line's message.
 */
export function joinFailureReason(lines: readonly string[]): string | undefined {
  const parsed = lines
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
  const refusal = [...parsed]
    .reverse()
    .find((l) => typeof l.reason === 'string' && (l.decision === 'refuse' || l.result === 'ABANDON'));
  if (refusal) return String(refusal.reason);
  const last = parsed.at(-1);
  return typeof last?.message === 'string' ? last.message : undefined;
}
