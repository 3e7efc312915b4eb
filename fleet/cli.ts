/*
 * etcd-fleet: drives a local fleet (fleet/supervisor.ts) from the command line.
 *   etcd-fleet up [--size N] [--dir DIR] [--strategy S] [--etcd PATH] [--reconcile-interval S] [--tls]
 *   etcd-fleet status [--json] | scale N | terminate ID | kill ID [--wipe] | freeze ID | thaw ID
 *   etcd-fleet reboot ID | wait [--timeout S] | down          (all with [--dir DIR])
 *   etcd-fleet up ... [--restore manual|automatic] [--backup-interval S] [--incremental-seconds N]
 *   etcd-fleet backup | restore                               (backups and disaster recovery)
 *   etcd-fleet up ... [--quota-mb N] [--maintenance-interval S] [--no-maintenance]
 *   etcd-fleet maintenance on|off|run                         (defragmentation and NOSPACE recovery)
 *   etcd-fleet drill [ID]                                     (one restore drill run on an instance)
 *   etcd-fleet roll [--etcd PATH] [--etcd-version V] [--signal-timeout S]   (gated rolling update)
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs as parseNodeArgs, ParseArgsConfig } from 'util';
import { rollCmd } from './cli-roll';
import { call, socketPath } from './control';
import { table } from './table';
import type { FleetStatus } from './types';
import { USAGE, UsageError } from './usage';
import { drillCmd, lambdaCmd, maintenanceCmd } from './cli-lambda';

export { table } from './table';

interface Parsed {
  cmd: string;
  positional: string[];
  flags: Record<string, string | true>;
}

/** Every flag of every command: the ones that stand alone, and the ones that take a value (`--x V` or `--x=V`). */
const BOOLEAN_FLAGS = [
  'json',
  'wipe',
  'help',
  'no-handler',
  'tls',
  'empty-start-beside-backups',
  'no-maintenance',
  'no-leader-handoff',
];
const VALUE_FLAGS = [
  'size',
  'dir',
  'strategy',
  'etcd',
  'timeout',
  'reconcile-interval',
  'launch-timeout',
  'terminate-timeout',
  'break-boot',
  'restore',
  'backup-interval',
  'incremental-seconds',
  'restore-after',
  'quota-mb',
  'maintenance-interval',
  'etcd-version',
  'signal-timeout',
];
const OPTIONS: ParseArgsConfig['options'] = Object.fromEntries([
  ...BOOLEAN_FLAGS.map((name) => [name, { type: 'boolean' as const }]),
  ...VALUE_FLAGS.map((name) => [name, { type: 'string' as const }]),
]);

/** The command, its positional arguments and its flags; a UsageError names an unknown or misused flag. */
export function parseArgs(argv: string[]): Parsed {
  // Not strict: node's own errors are reworded below, each naming the flag as it was typed.
  const { tokens } = parseNodeArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') positional.push(t.value);
    if (t.kind !== 'option') continue;
    if (BOOLEAN_FLAGS.includes(t.name)) {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
      flags[t.name] = true;
    } else if (VALUE_FLAGS.includes(t.name)) {
      if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
      flags[t.name] = t.value;
    } else throw new UsageError(`unknown flag ${t.rawName}`);
  }
  return { cmd: positional.shift() ?? '', positional, flags };
}

function num(flags: Parsed['flags'], name: string, def: number): number {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a number`);
  return n;
}

/** --etcd-version V: a release such as 3.6.0. */
function etcdVersion(flags: Parsed['flags']): { etcdVersion?: string } {
  const v = flags['etcd-version'];
  if (v === undefined) return {};
  if (typeof v !== 'string' || !/^\d+\.\d+\.\d+$/.test(v))
    throw new UsageError('--etcd-version must be a version such as 3.6.0');
  return { etcdVersion: v };
}

function root(): string {
  // build/fleet/cli.js → repo root
  return path.resolve(__dirname, '..', '..');
}

function findEtcd(flag: string | true | undefined): string {
  if (typeof flag === 'string') {
    const bin = path.resolve(flag);
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      throw new UsageError(`--etcd ${flag}: not an executable file`);
    }
    return bin;
  }
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (!p)
    throw new UsageError(
      'etcd not found on PATH: install etcd-server (apt-get install etcd-server) or pass --etcd PATH',
    );
  return p;
}

async function up(dir: string, p: Parsed): Promise<number> {
  if (fs.existsSync(socketPath(dir))) {
    try {
      await call(dir, { cmd: 'pids' }, 2000);
      throw new UsageError(`a fleet is already running in ${dir}: etcd-fleet down --dir ${dir} first`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      fs.rmSync(dir, { recursive: true, force: true }); // stale dir of a dead supervisor
    }
  }
  const size = num(p.flags, 'size', 3);
  const strategy = typeof p.flags.strategy === 'string' ? p.flags.strategy : 'replace';
  if (!['prepare', 'add', 'replace', 'prune'].includes(strategy))
    throw new UsageError('--strategy must be prepare, add, replace or prune');
  if (!Number.isInteger(size) || size < 1 || size > 9) throw new UsageError('--size must be 1..9');
  const maintenance = maintenanceOptions(p);
  fs.mkdirSync(dir, { recursive: true });
  const opts = {
    dir,
    size,
    strategy,
    etcdBin: findEtcd(p.flags.etcd),
    ...etcdVersion(p.flags),
    root: root(),
    launchTimeoutSeconds: num(p.flags, 'launch-timeout', 60),
    terminateTimeoutSeconds: num(p.flags, 'terminate-timeout', 30),
    reconcileIntervalSeconds: num(p.flags, 'reconcile-interval', 5),
    maxSize: 9,
    lifecycleHandler: p.flags['no-handler'] !== true,
    breakBoot: num(p.flags, 'break-boot', 0),
    backup: backupOptions(p),
    tls: p.flags.tls === true,
    leaderHandoff: p.flags['no-leader-handoff'] !== true,
    ...maintenance,
  };
  const log = fs.openSync(path.join(dir, 'supervisor.out'), 'a');
  const child = spawn(process.execPath, [path.join(__dirname, 'supervisor-main.js'), JSON.stringify(opts)], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  fs.writeFileSync(path.join(dir, 'supervisor.pid'), String(child.pid));
  child.unref();
  const deadline = Date.now() + 15_000;
  while (!fs.existsSync(socketPath(dir))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`fleet supervisor did not start: see ${path.join(dir, 'supervisor.out')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return waitCmd(dir, 'wait', { creation: true }, num(p.flags, 'timeout', 180), p.flags.json === true);
}

function maintenanceOptions(p: Parsed): Record<string, unknown> {
  const quota = p.flags['quota-mb'] === undefined ? undefined : num(p.flags, 'quota-mb', 0);
  // etcd's own floor is far lower, the agent config's is 1 MiB; below 16 MiB a 100 KiB-value load has no room.
  if (quota !== undefined && (quota < 16 || quota > 102400))
    throw new UsageError('--quota-mb must be 16..102400');
  return {
    ...(quota !== undefined && { quotaMiB: quota }),
    ...(p.flags['maintenance-interval'] !== undefined && {
      maintenanceIntervalSeconds: num(p.flags, 'maintenance-interval', 0),
    }),
    maintenance: p.flags['no-maintenance'] !== true,
  };
}

function backupOptions(p: Parsed): Record<string, unknown> {
  const policy = p.flags.restore ?? 'manual';
  if (policy !== 'manual' && policy !== 'automatic')
    throw new UsageError('--restore must be manual or automatic');
  return {
    restorePolicy: policy,
    backupIntervalSeconds: num(p.flags, 'backup-interval', 0),
    incrementalSeconds: incrementalSeconds(p),
    restoreAfterSeconds: num(p.flags, 'restore-after', 20),
    emptyStartBesideBackups: p.flags['empty-start-beside-backups'] === true,
  };
}

/** `--incremental-seconds N`: the incremental backup log's bound, 1-300 (the construct's range); 0 = off. */
function incrementalSeconds(p: Parsed): number {
  const n = num(p.flags, 'incremental-seconds', 0);
  if (!Number.isInteger(n) || n < 0 || n > 300)
    throw new UsageError('--incremental-seconds must be a whole number of seconds from 1 to 300 (0 = off)');
  return n;
}

async function waitCmd(
  dir: string,
  cmd: string,
  args: Record<string, unknown>,
  timeout: number,
  json: boolean,
): Promise<number> {
  const reply = await call(dir, { cmd, args: { ...args, timeout } }, (timeout + 30) * 1000);
  if (!reply.ok) {
    console.error(`etcd-fleet ${cmd}: ${reply.error}`);
    return 1;
  }
  const data = reply.data as FleetStatus | { status: FleetStatus; result: string };
  if ('result' in data) {
    // terminate: the status plus what became of the instance (terminated, or retained when unsafe)
    if (json) console.log(JSON.stringify({ ...data.status, result: data.result }));
    else console.log(`termination: ${data.result}\n${table(data.status)}`);
    return 0;
  }
  if (json) console.log(JSON.stringify(data));
  else console.log(table(data));
  return 0;
}

async function down(dir: string): Promise<number> {
  if (!fs.existsSync(dir)) return 0;
  let pids: number[] = [];
  const pidFile = path.join(dir, 'supervisor.pid');
  const supervisor = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
  try {
    const r = await call(dir, { cmd: 'pids' }, 5000);
    const d = r.data as { children: number[] };
    pids = d.children;
    await call(dir, { cmd: 'down' }, 5000);
  } catch {
    /* supervisor gone: fall back to its process group */
  }
  const deadline = Date.now() + 15_000;
  const aliveAny = () =>
    [supervisor, ...pids].some((p) => {
      if (!p) return false;
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
  while (aliveAny() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Anything still there: the supervisor's process group (it was started detached, as its own group).
  if (aliveAny()) {
    for (const p of [supervisor ? -supervisor : 0, ...pids]) {
      try {
        if (p) process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (err) {
    console.error(`etcd-fleet: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!p.cmd || p.flags.help) {
    console.log(USAGE);
    return p.cmd || p.flags.help ? 0 : 2;
  }
  const dir = path.resolve(typeof p.flags.dir === 'string' ? p.flags.dir : '.fleet');
  const id = p.positional[0];
  const needId = () => {
    if (!id) throw new UsageError(`${p.cmd} needs an instance id`);
    return id;
  };
  try {
    const timeout = num(p.flags, 'timeout', 180);
    const json = p.flags.json === true;
    if (p.cmd !== 'up' && p.cmd !== 'down' && !fs.existsSync(socketPath(dir))) {
      throw new UsageError(`no fleet running in ${dir}: start one with etcd-fleet up --dir ${dir}`);
    }
    switch (p.cmd) {
      case 'up':
        return await up(dir, p);
      case 'down':
        return await down(dir);
      case 'status': {
        const r = await call(dir, { cmd: 'status' }, 60_000);
        if (!r.ok) throw new Error(r.error);
        console.log(json ? JSON.stringify(r.data) : table(r.data as FleetStatus));
        return 0;
      }
      case 'wait':
        return await waitCmd(dir, 'wait', {}, timeout, json);
      case 'scale': {
        const n = Number(p.positional[0]);
        if (!Number.isInteger(n) || n < 0) throw new UsageError('scale needs a whole number');
        return await waitCmd(dir, 'scale', { size: n }, timeout, json);
      }
      case 'terminate':
        return await waitCmd(dir, 'terminate', { id: needId() }, timeout, json);
      case 'reboot':
        return await waitCmd(dir, 'reboot', { id: needId() }, timeout, json);
      case 'fault': {
        const r = await call(dir, { cmd: 'fault', args: { kind: p.positional[0] } }, 30_000);
        if (!r.ok) throw new Error(r.error);
        console.log(JSON.stringify(r.data));
        return 0;
      }
      case 'backup':
      case 'restore':
        return await lambdaCmd(dir, p.cmd, timeout);
      case 'maintenance':
        return await maintenanceCmd(dir, p.positional[0], timeout);
      case 'drill':
        return await drillCmd(dir, p.positional[0], timeout);
      case 'roll':
        return await rollCmd(dir, {
          ...(p.flags.etcd !== undefined && { etcdBin: findEtcd(p.flags.etcd) }),
          ...etcdVersion(p.flags),
          signalTimeout: num(p.flags, 'signal-timeout', 60),
          timeout,
        });
      case 'kill':
      case 'freeze':
      case 'thaw': {
        const r = await call(
          dir,
          { cmd: p.cmd, args: { id: needId(), wipe: p.flags.wipe === true } },
          30_000,
        );
        if (!r.ok) throw new Error(r.error);
        console.log(JSON.stringify(r.data));
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${p.cmd}`);
    }
  } catch (err) {
    console.error(`etcd-fleet ${p.cmd}: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}
