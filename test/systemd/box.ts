/*
 * Systemd in a box (../shared/SYSTEMD-IN-A-BOX.md): a Debian root file system (debootstrap, cached), one
 * overlay per box, the real Ignition (Debian's `ignition` 2.14) applied to it, booted with the real
 * systemd under systemd-nspawn. The stand-ins for what cannot exist here are the files in ./box/.
 *
 * Every box runs in cgroups of its own (nspawn creates payload/ and supervisor/ below the cgroup it
 * starts in; several boxes in one cgroup would share them), and `destroy()` removes exactly what the box
 * created: its nspawn process (by pid), its cgroup folders, /run/systemd/nspawn/propagate/<name>, its
 * overlay mount and its directories.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const STANDINS = path.join(__dirname, 'box');
/** Debian's `ignition` package installs the binary for its dracut module only: found in its file list. */
function ignitionBinary(): string {
  const r = spawnSync('dpkg', ['-L', 'ignition'], { encoding: 'utf8' });
  const bin = (r.stdout ?? '').split('\n').find((f) => /\/ignition$/.test(f) && fs.statSync(f).isFile());
  if (!bin)
    throw new Error('systemd box: Debian package ignition is not installed (apt-get install ignition)');
  return bin;
}
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'libstdc++6'];
/** The host's binaries that the docker stand-in runs for the images (bound read-only into every box). */
export const HOST_BINARIES = ['/usr/bin/node', '/usr/bin/etcd', '/usr/bin/etcdctl'];
/** Where nspawn makes its cgroups: the hybrid layout's name=systemd and unified trees, or a pure cgroup v2. */
const CGROUP_HIERARCHIES = fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
  ? ['/sys/fs/cgroup']
  : ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'];

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A child process without blocking the event loop: the AWS stand-in, the local S3 and the agent's http
 * server run in this process and must answer while Ignition, the boxes and etcdctl talk to them.
 */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: 127, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** What the box needs on the host; throws naming what is missing (the test fails, it is not skipped). */
export function checkHost(): void {
  const missing = ['systemd-nspawn', 'debootstrap', 'nsenter', 'etcdctl'].filter(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0,
  );
  if (spawnSync('dpkg', ['-s', 'ignition']).status !== 0) missing.push('ignition (Debian package)');
  for (const f of HOST_BINARIES) if (!fs.existsSync(f)) missing.push(f);
  if (process.getuid?.() !== 0) missing.push('root');
  if (missing.length) {
    throw new Error(
      `systemd box: missing ${missing.join(', ')} (apt-get install systemd-container debootstrap ignition etcd-server etcd-client; run as root)`,
    );
  }
}

/** The host's Debian release and its main archive (from apt's own configuration). */
function debianMirror(): { suite: string; mirror: string } {
  const release = fs.readFileSync('/etc/os-release', 'utf8');
  const suite = /^VERSION_CODENAME=(.+)$/m.exec(release)?.[1]?.replace(/"/g, '');
  if (!suite) throw new Error('systemd box: no VERSION_CODENAME in /etc/os-release');
  const targets = sh('apt-get', ['indextargets', '--format', '$(REPO_URI) $(RELEASE) $(COMPONENT)']);
  const line = targets.split('\n').find((l) => l.split(' ')[1] === suite && l.split(' ')[2] === 'main');
  if (!line) throw new Error(`systemd box: apt has no "${suite} main" archive (apt-get update?)`);
  return { suite, mirror: line.split(' ')[0] };
}

/**
 * The Debian root file system, built once with debootstrap (~75 s) and cached in the temp dir, keyed by
 * a hash of the release and the package list. Built next to its final place and renamed, so a build
 * that is cut short never counts as cached.
 */
export function ensureRootfs(log: (m: string) => void = () => undefined): string {
  const { suite, mirror } = debianMirror();
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ suite, variant: 'minbase', PACKAGES }))
    .digest('hex')
    .slice(0, 16);
  const base = path.join(os.tmpdir(), 'cdk-elastic-etcd-systemd-box', key);
  const rootfs = path.join(base, 'rootfs');
  if (fs.existsSync(path.join(rootfs, 'usr', 'lib', 'systemd', 'systemd'))) return rootfs;
  fs.mkdirSync(base, { recursive: true });
  const tmp = path.join(base, `build-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const t0 = Date.now();
  log(`debootstrap ${suite} from ${mirror} into ${tmp}`);
  try {
    sh('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, suite, tmp, mirror], {
      timeoutMs: 900_000,
    });
    fs.renameSync(tmp, rootfs);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`debootstrap took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return rootfs;
}

export interface IgnitionRun {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * Debian's Ignition, its `fetch` then `files` stage, with the `file` platform, against `root`. Debian builds
 * it with SELinux relabelling on: it reads the root's /etc/selinux/config and runs `setfiles`. Neither
 * exists here; the root gets a config saying SELinux is disabled (removed afterwards) and `setfiles` is a
 * no-op on Ignition's PATH only. The `disks` stage (format the data volume) is not run: a container has no
 * block device to format.
 */
export async function runIgnition(config: string, root: string, work: string): Promise<IgnitionRun> {
  fs.mkdirSync(work, { recursive: true });
  const configFile = path.join(work, 'user-data.ign');
  fs.writeFileSync(configFile, config);
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'setfiles'), '#!/bin/sh\ncat >/dev/null\n', { mode: 0o755 });
  const selinux = path.join(root, 'etc', 'selinux');
  const hadSelinux = fs.existsSync(selinux);
  fs.mkdirSync(selinux, { recursive: true });
  fs.writeFileSync(path.join(selinux, 'config'), 'SELINUX=disabled\nSELINUXTYPE=targeted\n');
  let output = '';
  let ok = true;
  const ignition = ignitionBinary();
  try {
    for (const stage of ['fetch', 'files']) {
      const r = await runAsync(
        ignition,
        [
          '-platform',
          'file',
          '-stage',
          stage,
          '-root',
          root,
          '-config-cache',
          path.join(work, 'ignition.json'),
          '-state-file',
          path.join(work, 'state'),
          '-neednet',
          path.join(work, 'neednet'),
          '-log-to-stdout',
        ],
        {
          timeoutMs: 180_000,
          env: { PATH: `${bin}:${process.env.PATH}`, IGNITION_CONFIG_FILE: configFile },
        },
      );
      output += `--- ignition ${stage} (exit ${r.status})\n${r.stdout}${r.stderr}`;
      if (r.status !== 0) {
        ok = false;
        break;
      }
    }
  } finally {
    if (hadSelinux) fs.rmSync(path.join(selinux, 'config'), { force: true });
    else fs.rmSync(selinux, { recursive: true, force: true });
  }
  return { ok, output };
}

export interface BoxOptions {
  readonly name: string;
  readonly rootfs: string;
  /** Directory for this box's overlay layers and logs. */
  readonly dir: string;
  /** 32 hex digits: the machine id systemd sets up on the first boot (nspawn --uuid). */
  readonly machineId: string;
}

export class Box {
  readonly root: string;
  private nspawn?: ChildProcess;
  private exited?: Promise<void>;
  private pid1 = 0;
  private readonly cgroups: string[];
  private mounted = false;
  readonly log: string;

  constructor(readonly opts: BoxOptions) {
    this.root = path.join(opts.dir, 'root');
    this.log = path.join(opts.dir, 'nspawn.log');
    this.cgroups = CGROUP_HIERARCHIES.filter((h) => fs.existsSync(h)).map((h) =>
      path.join(h, `cdk-elastic-etcd-box-${process.pid}-${opts.name}`),
    );
  }

  get name(): string {
    return this.opts.name;
  }

  get running(): boolean {
    return this.pid1 > 0;
  }

  /** The overlay root (upper layer in dir), and the box's identity: hostname, first-boot machine id. */
  prepare(): void {
    for (const d of ['upper', 'work', 'root']) fs.mkdirSync(path.join(this.opts.dir, d), { recursive: true });
    sh('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${this.opts.rootfs},upperdir=${path.join(this.opts.dir, 'upper')},workdir=${path.join(this.opts.dir, 'work')}`,
      this.root,
    ]);
    this.mounted = true;
    this.write('/etc/hostname', `${this.name}\n`);
    // First boot, as on a new instance: systemd applies the presets Ignition wrote (preset-all) and takes
    // the machine id nspawn passes (--uuid). dbus's copy would otherwise be used as the machine id.
    this.write('/etc/machine-id', 'uninitialized\n');
    fs.rmSync(path.join(this.root, 'var/lib/dbus/machine-id'), { force: true });
    // Debian's first-boot wizard asks on the console; Flatcar has none.
    fs.symlinkSync('/dev/null', path.join(this.root, 'etc/systemd/system/systemd-firstboot.service'));
  }

  write(p: string, text: string, mode = 0o644): void {
    const f = path.join(this.root, p);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text, { mode });
    fs.chmodSync(f, mode);
  }

  read(p: string): string {
    return fs.readFileSync(path.join(this.root, p), 'utf8');
  }

  exists(p: string): boolean {
    return fs.existsSync(path.join(this.root, p));
  }

  /** Boots the box (systemd as PID 1 under nspawn) and waits until the boot is done. */
  async start(): Promise<string> {
    for (const cg of this.cgroups) fs.mkdirSync(cg, { recursive: true });
    const enter = this.cgroups.map((cg) => `echo $$ > ${cg}/cgroup.procs`).join('; ');
    const args = [
      '-D',
      this.root,
      '-b',
      '--register=no',
      '--keep-unit',
      '--console=pipe',
      '-M',
      this.name,
      `--uuid=${this.opts.machineId}`,
      ...HOST_BINARIES.map((b) => `--bind-ro=${b}`),
    ];
    const out = fs.openSync(this.log, 'a');
    const child = spawn('sh', ['-c', `${enter}; exec systemd-nspawn "$@"`, 'sh', ...args], {
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.nspawn = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
      const pid = Number(r.stdout.trim().split('\n')[0]);
      // The container's PID 1 once it is systemd (nspawn's child runs its own setup first).
      let comm = '';
      try {
        comm = pid > 0 ? fs.readFileSync(`/proc/${pid}/comm`, 'utf8') : '';
      } catch {
        // gone meanwhile
      }
      if (comm.trim() === 'systemd') {
        this.pid1 = pid;
        break;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`box ${this.name}: systemd did not start: ${fs.readFileSync(this.log, 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // "running" or "degraded" (a failed unit; the test looks at the units it cares about). Until systemd
    // is up, systemctl cannot connect: asked again, 60 s at most.
    for (;;) {
      const state = (await this.exec(['systemctl', 'is-system-running', '--wait'], 120_000)).stdout.trim();
      if (['running', 'degraded', 'maintenance', 'stopping'].includes(state)) return state;
      if (Date.now() > deadline + 30_000) throw new Error(`box ${this.name}: system state "${state}"`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A command inside the box (all its namespaces). */
  exec(cmd: string[], timeoutMs = 30_000): Promise<Ran> {
    if (!this.pid1) throw new Error(`box ${this.name} is not running`);
    return runAsync('nsenter', ['-t', String(this.pid1), '-a', ...cmd], { timeoutMs });
  }

  async journal(unit?: string): Promise<string> {
    return (
      await this.exec(['journalctl', '--no-pager', '-o', 'short-monotonic', ...(unit ? ['-u', unit] : [])])
    ).stdout;
  }

  /** Power-off as systemd does it (SIGTERM to nspawn: the box halts), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    const child = this.nspawn;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.nspawn = undefined;
      this.pid1 = 0;
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
    this.nspawn = undefined;
    this.pid1 = 0;
    this.removeRunState();
  }

  private removeRunState(): void {
    // Deepest first: a cgroup folder can only go when it has no children (and no processes).
    for (const cg of this.cgroups) {
      if (!fs.existsSync(cg)) continue;
      const dirs = sh('find', [cg, '-depth', '-type', 'd']).split('\n').filter(Boolean);
      for (const d of dirs) {
        try {
          fs.rmdirSync(d);
        } catch {
          // still in use: reported by destroy()
        }
      }
    }
    fs.rmSync(`/run/systemd/nspawn/propagate/${this.name}`, { recursive: true, force: true });
  }

  /** Everything the box made: nspawn (by pid), cgroups, propagate dir, the overlay and its directories. */
  async destroy(): Promise<string[]> {
    await this.stop();
    this.removeRunState();
    const left: string[] = this.cgroups.filter((cg) => fs.existsSync(cg));
    if (this.mounted) {
      const r = spawnSync('umount', [this.root]);
      if (r.status !== 0) spawnSync('umount', ['-l', this.root]);
      this.mounted = false;
    }
    fs.rmSync(this.opts.dir, { recursive: true, force: true });
    return left;
  }
}
