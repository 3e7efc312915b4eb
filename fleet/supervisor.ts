/*
 * The local fleet: a simulated Auto Scaling group of "instances", each a loopback address with real
 * etcd, booted exactly as on AWS: the join agent bundle (build/agent/agent.js) runs first against the
 * local AWS stand-in, then etcd starts with the settings the agent wrote (as Flatcar's
 * etcd-member.service would), then the agent's promote phase completes the launch lifecycle action.
 * Terminations go through the terminate lifecycle hook and the lifecycle Lambda bundle, when built.
 *
 * The supervisor runs in its own process (started by `etcd-fleet up`) and is driven over a unix socket.
 */
import { ChildProcess, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { EtcdAdapter, memberIdHex } from '../lambda/adapters/etcd';
import { parseEnvFile } from '../lambda/agent/output';
import type { Member } from '../lambda/core/types';
import { AwsStandIn, StandInInstance } from './standin';
import { allocateAddress, blockFor, standInAddress } from './addresses';
import { FleetBackup, FleetBackupOptions } from './backup';
import { serve } from './control';
import { agentFaultArgs } from './faults';
import { FleetTls, setUpFleetTls } from './tls';

export interface FleetOptions {
  readonly dir: string;
  readonly size: number;
  readonly strategy: string;
  readonly etcdBin: string;
  /** Repo root: where build/ lives. */
  readonly root: string;
  /** Seconds a launch may stay in Pending:Wait before the hook's default result (ABANDON) applies. */
  readonly launchTimeoutSeconds: number;
  /** Seconds a termination may stay in Terminating:Wait before the hook's default result (CONTINUE) applies. */
  readonly terminateTimeoutSeconds: number;
  /** Interval of the scheduled reconcile (0 = off). */
  readonly reconcileIntervalSeconds: number;
  readonly maxSize: number;
  /** Load the lifecycle Lambda bundle and send it terminate events and reconciles (default true). */
  readonly lifecycleHandler?: boolean;
  /** The first N instances launched never boot (die before etcd starts: FAILURE-SCENARIOS 2). */
  readonly breakBoot?: number;
  /** Backups and restore (fleet/backup.ts): restore policy, backup schedule. */
  readonly backup?: FleetBackupOptions;
  /** TLS for peers and clients with client-certificate auth, CA in the stand-in's Secrets Manager (`up --tls`). */
  readonly tls?: boolean;
}

/** A client identity of a TLS fleet: PEM files for etcdctl's --cacert/--cert/--key. */
export interface FleetTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export const LAUNCH_HOOK = 'etcd-launch';
export const TERMINATE_HOOK = 'etcd-terminate';
export const GROUP_NAME = 'etcd-fleet';
export const REGION = 'local-1';
const IMDS_PORT = 8169;
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

interface Instance {
  readonly id: string;
  readonly ip: string;
  readonly dir: string;
  readonly dataDir: string;
  etcd?: ChildProcess;
  agent?: ChildProcess;
  /** booting: agent or etcd starting; running: etcd up; dead: etcd gone and not restarted; gone: terminated. */
  phase: 'booting' | 'running' | 'dead' | 'terminating' | 'retained' | 'gone';
  frozen: boolean;
  stopping: boolean;
  restarts: number[];
  launchedAt: number;
  /** Last launch-hook heartbeat (or the launch): the hook's timeout counts from here. */
  lastBeat: number;
  bootFailures: number;
  /** Incremented by every boot: a boot superseded by a reboot stops acting. */
  bootSeq?: number;
}

export interface InstanceStatus {
  id: string;
  ip: string;
  lifecycleState: string;
  memberId: string;
  role: 'voter' | 'learner' | 'unstarted' | 'none';
  healthy: boolean;
  leader: boolean;
}

export interface FleetStatus {
  clusterId: string;
  desired: number;
  converged: boolean;
  reason: string;
  endpoints: string[];
  instances: InstanceStatus[];
  /** Present when the fleet runs with TLS: a client identity signed by the fleet's CA. */
  tls?: FleetTlsFiles;
}

type LifecycleHandler = (event: unknown) => Promise<unknown>;

export class Fleet {
  readonly block: number;
  readonly standIn: AwsStandIn;
  private readonly instances = new Map<string, Instance>();
  private etcd = new EtcdAdapter({ callTimeoutMs: 1500 });
  /** TLS state of a `--tls` fleet (set up in start()). */
  private tls?: FleetTls;
  private ticking = false;
  private scalingIn = false;
  private timer?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private handler?: LifecycleHandler;
  private readonly logStream: fs.WriteStream;
  private readonly pending = new Set<Promise<unknown>>();
  private seq = 0;
  private armedFault?: string;
  private dropTerminateEvents = 0;
  readonly backup: FleetBackup;

  constructor(readonly opts: FleetOptions) {
    this.block = blockFor(opts.dir);
    this.standIn = new AwsStandIn({
      host: standInAddress(this.block),
      region: REGION,
      groupName: GROUP_NAME,
      launchHookName: LAUNCH_HOOK,
      terminateHookName: TERMINATE_HOOK,
      imdsPort: IMDS_PORT,
      desiredCapacity: opts.size,
      minSize: 0,
      maxSize: opts.maxSize,
    });
    this.logStream = fs.createWriteStream(path.join(opts.dir, 'supervisor.log'), { flags: 'a' });
    this.backup = new FleetBackup(this, opts.backup ?? {});
  }

  log(message: string, fields: Record<string, unknown> = {}): void {
    this.logStream.write(JSON.stringify({ time: new Date().toISOString(), message, ...fields }) + '\n');
  }

  /** Environment of every process that talks to the stand-in (agent, Lambda handler). */
  awsEnv(instanceId?: string): Record<string, string> {
    const env: Record<string, string> = {
      AWS_ENDPOINT_URL: this.standIn.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'fleet',
      AWS_SECRET_ACCESS_KEY: 'fleet',
    };
    if (instanceId) env.AWS_EC2_METADATA_SERVICE_ENDPOINT = this.standIn.metadataEndpointFor(instanceId);
    return { ...env, ...this.backup.env() };
  }

  /** Scheme of every peer and client URL. */
  get scheme(): 'http' | 'https' {
    return this.opts.tls ? 'https' : 'http';
  }

  async start(): Promise<void> {
    await this.standIn.start();
    await this.backup.start();
    if (this.opts.tls) {
      this.tls = await setUpFleetTls(this.opts.dir, this.standIn);
      this.etcd = new EtcdAdapter({ callTimeoutMs: 1500, credentials: this.tls.credentials });
    }
    this.standIn.on(
      'complete-lifecycle-action',
      (e: { instanceId: string; hookName: string; result: string }) => {
        if (e.hookName === LAUNCH_HOOK) this.onLaunchCompleted(e.instanceId, e.result);
      },
    );
    // EC2 TerminateInstances (the reconcile finishing a retained termination): the instance stops and is gone.
    this.standIn.on('terminate-instances', (e: { instanceIds: string[] }) => {
      for (const id of e.instanceIds) {
        this.track(this.terminateNow(id)).catch((err: Error) =>
          this.log('TerminateInstances failed', { id, error: err.message }),
        );
      }
    });
    this.loadHandler();
    this.timer = setInterval(() => void this.tick(), 250);
    void this.tick(); // the first launches now, not one interval later
    if (this.opts.reconcileIntervalSeconds > 0 && this.handler) {
      this.reconcileTimer = setInterval(
        () => void this.reconcile(),
        this.opts.reconcileIntervalSeconds * 1000,
      );
    }
    this.backup.startSchedule();
    this.log('fleet started', { block: this.block, standIn: this.standIn.endpoint, size: this.opts.size });
  }

  /** The lifecycle Lambda bundle's handler, when loaded (fleet/backup.ts invokes it). */
  get loadedHandler(): LifecycleHandler | undefined {
    return this.handler;
  }

  /** The lifecycle Lambda bundle, loaded as Lambda would load it, its SDK calls answered by the stand-in. */
  private loadHandler(): void {
    const bundle = path.join(this.opts.root, 'build', 'lambda', 'index.js');
    if (this.opts.lifecycleHandler === false || !fs.existsSync(bundle)) return;
    Object.assign(process.env, this.awsEnv(), {
      GROUP_NAME,
      CLIENT_PORT: String(CLIENT_PORT),
      PEER_PORT: String(PEER_PORT),
      SCHEME: this.scheme,
      STRATEGY: this.opts.strategy,
      UNSTARTED_GRACE_SECONDS: '60',
      ...this.backup.handlerEnv(),
      ...(this.tls && { TLS_CLIENT_SECRET_ID: this.tls.clientSecretArn }),
    });

    const mod = require(bundle) as { handler?: LifecycleHandler };
    if (typeof mod.handler === 'function') this.handler = mod.handler;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p
      .finally(() => this.pending.delete(p))
      .catch((err: Error) => this.log('background task failed', { error: err.message }));
    return p;
  }

  private alive(): Instance[] {
    return [...this.instances.values()].filter(
      (i) => i.phase !== 'gone' && i.phase !== 'terminating' && i.phase !== 'retained',
    );
  }

  /** The group's control loop: capacity, health check, launch timeouts. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const desired = this.standIn.group.desiredCapacity;
      // Like the group: an unhealthy instance is terminated first and replaced after (a terminating
      // instance still counts against capacity, so its replacement may get its address back).
      const counted = [...this.instances.values()].filter(
        (i) => i.phase !== 'gone' && i.phase !== 'retained',
      );
      for (let n = counted.length; n < desired; n++) this.track(this.launch());
      const active = this.alive();
      if (active.length > desired && !this.scalingIn) {
        // Scale in: newest first, one termination at a time (like the group's lifecycle hook flow).
        const victim = [...active].sort((a, b) => b.launchedAt - a.launchedAt)[0];
        this.scalingIn = true;
        this.track(this.terminate(victim.id, 'scale-in')).finally(() => (this.scalingIn = false));
      }
      const now = Date.now();
      for (const inst of this.alive()) {
        const si = this.standIn.getInstance(inst.id);
        if (!si) continue;
        if (
          si.lifecycleState === 'Pending:Wait' &&
          now - inst.launchedAt > this.opts.launchTimeoutSeconds * 1000
        ) {
          this.log('launch lifecycle action timed out: default result ABANDON', { id: inst.id });
          this.track(this.terminate(inst.id, 'launch abandoned'));
        } else if (si.lifecycleState === 'InService' && inst.phase === 'dead') {
          this.log('health check: etcd is gone, replacing the instance', { id: inst.id });
          this.track(this.terminate(inst.id, 'unhealthy'));
        }
      }
    } catch (err) {
      this.log('tick failed', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  private seqOf(inst: Instance): number {
    return Number(path.basename(inst.dir).split('-')[0]);
  }

  private newId(): string {
    return 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
  }

  async launch(): Promise<string> {
    const used = new Set([...this.instances.values()].filter((i) => i.phase !== 'gone').map((i) => i.ip));
    const ip = allocateAddress(this.block, used);
    const id = this.newId();
    const dir = path.join(this.opts.dir, 'instances', `${String(++this.seq).padStart(3, '0')}-${id}`);
    const inst: Instance = {
      id,
      ip,
      dir,
      dataDir: path.join(dir, 'data'),
      phase: 'booting',
      frozen: false,
      stopping: false,
      restarts: [],
      launchedAt: Date.now(),
      lastBeat: Date.now(),
      bootFailures: 0,
    };
    fs.mkdirSync(inst.dataDir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify(
        {
          strategy: this.opts.strategy,
          sizeCap: this.opts.maxSize,
          peerPort: PEER_PORT,
          clientPort: CLIENT_PORT,
          scheme: this.scheme,
          ...(this.tls && { tls: { caSecretId: this.tls.caSecretArn, certDir: path.join(dir, 'tls') } }),
          dataDir: inst.dataDir,
          envFile: path.join(dir, 'etcd.env'),
          output: 'env',
          launchHookName: LAUNCH_HOOK,
          deadlineSeconds: Math.max(30, this.opts.launchTimeoutSeconds),
          heartbeatSeconds: 5,
          retryDelayMs: 200,
          ...this.backup.agentConfig(),
        },
        null,
        2,
      ),
    );
    if (this.armedFault === 'lose-add-reply') fs.writeFileSync(path.join(dir, 'fault-lose-add-reply'), '');
    this.armedFault = undefined;
    this.instances.set(id, inst);
    const si: StandInInstance = {
      instanceId: id,
      privateIp: ip,
      lifecycleState: 'Pending:Wait',
      healthStatus: 'Healthy',
      availabilityZone: `${REGION}${'abc'[this.seq % 3]}`,
      launchTime: new Date(),
    };
    try {
      await this.standIn.addInstance(si);
    } catch (err) {
      // Undo the half-made instance, or it would count against capacity forever with nothing running.
      this.instances.delete(id);
      fs.rmSync(dir, { recursive: true, force: true });
      this.log('launch failed', { id, ip, error: (err as Error).message });
      throw err;
    }
    this.log('launched', { id, ip });
    void this.boot(inst);
    return id;
  }

  /** Agent (join) → etcd → agent (promote), as the instance's systemd units would run them. */
  private async boot(inst: Instance): Promise<void> {
    if (inst.phase === 'gone') return; // terminated while a restart was pending
    inst.phase = 'booting';
    const seq = (inst.bootSeq = (inst.bootSeq ?? 0) + 1);
    if (this.seqOf(inst) <= (this.opts.breakBoot ?? 0)) {
      this.log('boot broken on purpose', { id: inst.id });
      return;
    }
    const code = await this.runAgent(inst, 'join');
    if (inst.bootSeq !== seq) return; // rebooted meanwhile: that boot acts now
    if (inst.stopping || (inst.phase as Instance['phase']) === 'gone') return;
    if (code !== 0) {
      inst.bootFailures++;
      const tail = fs.readFileSync(path.join(inst.dir, 'agent.log'), 'utf8').trim().split('\n').slice(-25);
      this.log('join agent failed; etcd-member.service does not start', { id: inst.id, code, tail });
      inst.phase = 'dead';
      return;
    }
    this.startEtcd(inst);
    void this.runAgent(inst, 'promote').then((c) =>
      this.log('promote agent exited', { id: inst.id, code: c }),
    );
  }

  private runAgent(inst: Instance, phase: 'join' | 'promote'): Promise<number> {
    const agent = path.join(this.opts.root, 'build', 'agent', 'agent.js');
    const out = fs.openSync(path.join(inst.dir, 'agent.log'), 'a');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...this.awsEnv(inst.id) };
    const child = spawn(
      process.execPath,
      [
        '--no-warnings',
        ...agentFaultArgs(this.opts.root, inst.dir),
        agent,
        phase,
        '--config',
        path.join(inst.dir, 'config.json'),
      ],
      {
        env,
        stdio: ['ignore', out, out],
      },
    );
    fs.closeSync(out);
    inst.agent = child;
    return new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (inst.agent === child) inst.agent = undefined;
        resolve(code ?? (signal ? 128 : 1));
      });
      child.on('error', () => resolve(127));
    });
  }

  private startEtcd(inst: Instance): void {
    const vars = parseEnvFile(fs.readFileSync(path.join(inst.dir, 'etcd.env'), 'utf8'));
    const out = fs.openSync(path.join(inst.dir, 'etcd.log'), 'a');
    const child = spawn(this.opts.etcdBin, [], {
      env: { PATH: process.env.PATH ?? '', ...vars, ETCD_LOGGER: 'zap', ETCD_LOG_OUTPUTS: 'stderr' },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    inst.etcd = child;
    inst.phase = 'running';
    this.log('etcd started', { id: inst.id, pid: child.pid, state: vars.ETCD_INITIAL_CLUSTER_STATE });
    child.on('exit', (code, signal) => {
      if (inst.etcd !== child) return;
      inst.etcd = undefined;
      if (inst.stopping || inst.phase === 'gone' || inst.phase === 'terminating') return;
      this.log('etcd exited', { id: inst.id, code, signal });
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
        this.log('etcd crash loop: start limit hit', { id: inst.id });
        inst.phase = 'dead';
        return;
      }
      inst.restarts.push(now);
      setTimeout(() => void this.boot(inst), 1000);
    });
  }

  private onLaunchCompleted(id: string, result: string): void {
    const inst = this.instances.get(id);
    if (!inst) return;
    if (result === 'CONTINUE') {
      this.standIn.setLifecycleState(id, 'InService');
      this.log('launch completed: InService', { id, ms: Date.now() - inst.launchedAt });
    } else {
      this.track(this.terminate(id, 'launch abandoned by the agent'));
    }
  }

  /** Termination through the terminate lifecycle hook (and the lifecycle Lambda when built). */
  async terminate(id: string, reason: string): Promise<'terminated' | 'retained'> {
    const inst = this.instances.get(id);
    if (!inst || inst.phase === 'gone' || inst.phase === 'terminating') return 'terminated';
    inst.phase = 'terminating';
    const token = crypto.randomUUID();
    this.standIn.setLifecycleState(id, 'Terminating:Wait', token);
    this.log('terminating', { id, reason });
    const terminatingAt = Date.now();
    const result = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        this.standIn.off('complete-lifecycle-action', onComplete);
        resolve('CONTINUE'); // the terminate hook's default result
      }, this.opts.terminateTimeoutSeconds * 1000);
      const onComplete = (e: { instanceId: string; hookName: string; result: string }) => {
        if (e.instanceId !== id || e.hookName !== TERMINATE_HOOK) return;
        clearTimeout(timer);
        this.standIn.off('complete-lifecycle-action', onComplete);
        resolve(e.result);
      };
      this.standIn.on('complete-lifecycle-action', onComplete);
      if (this.handler && this.dropTerminateEvents > 0) {
        // EventBridge delivery is best-effort: this event is lost, the hook's default result applies.
        this.dropTerminateEvents--;
        this.log('terminate event dropped (fault)', { id });
      } else if (this.handler) {
        const event = {
          version: '0',
          id: crypto.randomUUID(),
          'detail-type': 'EC2 Instance-terminate Lifecycle Action',
          source: 'aws.autoscaling',
          account: '000000000000',
          time: new Date().toISOString(),
          region: REGION,
          resources: [],
          detail: {
            LifecycleActionToken: token,
            AutoScalingGroupName: GROUP_NAME,
            LifecycleHookName: TERMINATE_HOOK,
            EC2InstanceId: id,
            LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
            Origin: 'AutoScalingGroup',
            Destination: 'EC2',
          },
        };
        this.handler(event).catch((err: Error) =>
          this.log('lifecycle handler failed', { id, error: err.message }),
        );
      }
    });
    // With the lifecycle Lambda, CONTINUE comes right after it removed the member.
    this.log('terminate lifecycle action completed', { id, result, ms: Date.now() - terminatingAt });
    if (result === 'ABANDON') {
      // TerminateHookAbandon: retain — the instance keeps running outside the group's capacity.
      inst.phase = 'retained';
      this.standIn.setLifecycleState(id, 'Terminating:Retained');
      this.log('termination abandoned: instance retained', { id });
      return 'retained';
    }
    await this.stopInstance(inst);
    inst.phase = 'gone';
    await this.standIn.removeInstance(id);
    fs.rmSync(inst.dir, { recursive: true, force: true });
    this.log('terminated', { id, reason });
    void this.tick(); // the group launches the replacement now, not at its next 250 ms tick
    return 'terminated';
  }

  /** EC2 TerminateInstances: no lifecycle hook (a retained instance has left the group's lifecycle already). */
  private async terminateNow(id: string): Promise<void> {
    const inst = this.instances.get(id);
    if (!inst || inst.phase === 'gone') return;
    this.log('TerminateInstances', { id, phase: inst.phase });
    await this.stopInstance(inst);
    inst.phase = 'gone';
    await this.standIn.removeInstance(id);
    fs.rmSync(inst.dir, { recursive: true, force: true });
    this.log('terminated', { id, reason: 'TerminateInstances' });
    void this.tick();
  }

  private async stopInstance(inst: Instance, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    inst.stopping = true;
    inst.agent?.kill('SIGKILL');
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

  private find(id: string): Instance {
    const inst = this.instances.get(id) ?? [...this.instances.values()].find((i) => i.ip === id);
    if (!inst || inst.phase === 'gone') throw new Error(`no instance ${id} in the fleet`);
    return inst;
  }

  kill(id: string, wipe: boolean): void {
    const inst = this.find(id);
    // A retained instance stays retained (outside the group's capacity), only its processes die.
    if (inst.phase !== 'retained') inst.phase = 'dead';
    inst.agent?.kill('SIGKILL');
    if (inst.frozen) inst.etcd?.kill('SIGCONT');
    inst.etcd?.kill('SIGKILL');
    if (wipe) fs.rmSync(inst.dataDir, { recursive: true, force: true });
    this.log('killed', { id: inst.id, wipe });
  }

  freeze(id: string, frozen: boolean): void {
    const inst = this.find(id);
    if (!inst.etcd) throw new Error(`instance ${id} has no running etcd`);
    inst.etcd.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    inst.frozen = frozen;
    this.log(frozen ? 'frozen' : 'thawed', { id: inst.id });
  }

  async reboot(id: string): Promise<void> {
    const inst = this.find(id);
    await this.stopInstance(inst);
    inst.restarts = [];
    this.log('rebooting', { id: inst.id });
    void this.boot(inst);
  }

  /** Arms a fault for the next launched instance: `lose-add-reply` (FAILURE-SCENARIOS 3). */
  armFault(kind: string): void {
    if (kind === 'drop-terminate-event') {
      this.dropTerminateEvents++;
      return;
    }
    if (kind !== 'lose-add-reply')
      throw new Error(`unknown fault ${kind}: lose-add-reply or drop-terminate-event`);
    this.armedFault = kind;
  }

  scale(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.opts.maxSize)
      throw new Error(`size must be 0..${this.opts.maxSize}`);
    this.standIn.group.desiredCapacity = n;
    this.log('desired capacity set', { desired: n });
  }

  async reconcile(): Promise<void> {
    if (!this.handler) return;
    try {
      await this.handler({ kind: 'reconcile' });
    } catch (err) {
      this.log('reconcile failed', { error: (err as Error).message });
    }
  }

  async status(): Promise<FleetStatus> {
    const desired = this.standIn.group.desiredCapacity;
    const live = [...this.instances.values()].filter((i) => i.phase !== 'gone');
    const endpoints = live
      .filter((i) => i.phase !== 'terminating')
      .map((i) => `${this.scheme}://${i.ip}:${CLIENT_PORT}`);
    const perEndpoint = await Promise.all(
      endpoints.map((e) => this.etcd.memberList([e], { withLeader: true })),
    );
    const clusterIds = new Set(perEndpoint.filter((r) => r).map((r) => r!.clusterId));
    const list = perEndpoint.find((r) => r && r.leaderId) ?? perEndpoint.find((r) => r) ?? null;
    const members: Member[] = list?.members ?? [];
    const health = await this.etcd.healthOf(members);
    const instances: InstanceStatus[] = live.map((i) => {
      const peerURL = `${this.scheme}://${i.ip}:${PEER_PORT}`;
      const m = members.find((x) => x.peerURLs.includes(peerURL));
      const role = !m ? 'none' : m.name === '' ? 'unstarted' : m.isLearner ? 'learner' : 'voter';
      return {
        id: i.id,
        ip: i.ip,
        lifecycleState:
          this.standIn.getInstance(i.id)?.lifecycleState ??
          (i.phase === 'retained' ? 'Terminating:Retained' : 'Terminated'),
        memberId: m ? memberIdHex(m.id) : '',
        role,
        healthy: m ? Boolean(health[m.id]) : false,
        leader: Boolean(m && list && list.leaderId === m.id),
      };
    });
    const voters = members.filter((m) => !m.isLearner && m.name !== '');
    let reason = '';
    if (!list) reason = 'no member list from any endpoint';
    else if (clusterIds.size !== 1) reason = `endpoints report ${clusterIds.size} cluster ids`;
    else if (members.length !== voters.length) reason = 'a learner or unstarted member is left';
    else if (voters.length !== desired) reason = `voters ${voters.length} != desired ${desired}`;
    else if (members.some((m) => !health[m.id])) reason = 'a member is unhealthy';
    else if (this.alive().length !== desired)
      reason = `instances ${this.alive().length} != desired ${desired}`;
    else if (this.alive().some((i) => this.standIn.getInstance(i.id)?.lifecycleState !== 'InService'))
      reason = 'an instance is not InService';
    else if (
      this.alive().some(
        (i) => !members.some((m) => m.peerURLs.includes(`${this.scheme}://${i.ip}:${PEER_PORT}`)),
      )
    )
      reason = 'an instance has no member';
    return {
      clusterId: clusterIds.size === 1 ? [...clusterIds][0] : [...clusterIds].join(','),
      desired,
      converged: reason === '',
      reason,
      endpoints: this.alive().map((i) => `${this.scheme}://${i.ip}:${CLIENT_PORT}`),
      instances,
      ...(this.tls && { tls: this.tls.files }),
    };
  }

  async waitConverged(timeoutSeconds: number): Promise<FleetStatus> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    let last: FleetStatus | undefined;
    let streak = 0;
    while (Date.now() < deadline) {
      last = await this.status();
      // Two consecutive converged observations: a momentary snapshot between two changes does not count.
      streak = last.converged ? streak + 1 : 0;
      if (streak >= 2) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`not converged within ${timeoutSeconds} s: ${last?.reason ?? 'no status'}`);
  }

  async down(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.backup.stopSchedule();
    await Promise.all([...this.instances.values()].map((i) => this.stopInstance(i, 'SIGKILL')));
    await this.standIn.stop();
    await this.backup.stop();
    this.log('fleet down');
  }

  /** Pids of every process the fleet started (for `down` when the supervisor is gone). */
  pids(): number[] {
    const out: number[] = [];
    for (const i of this.instances.values()) {
      if (i.etcd?.pid) out.push(i.etcd.pid);
      if (i.agent?.pid) out.push(i.agent.pid);
    }
    return out;
  }
}

/** Supervisor process entry: `node supervisor.js <json options>`. */
export async function runSupervisor(opts: FleetOptions): Promise<void> {
  const fleet = new Fleet(opts);
  await fleet.start();
  let server: net.Server | undefined = undefined;
  const shutdown = async () => {
    await fleet.down();
    server?.close();
    process.exit(0);
  };
  server = serve(opts.dir, async (req) => {
    const a = (req.args ?? {}) as Record<string, unknown>;
    const timeout = typeof a.timeout === 'number' ? a.timeout : 180;
    switch (req.cmd) {
      case 'status':
        return fleet.status();
      case 'wait':
        return fleet.waitConverged(timeout);
      case 'scale':
        fleet.scale(Number(a.size));
        return fleet.waitConverged(timeout);
      case 'terminate': {
        const r = await fleet.terminate(String(a.id), 'requested');
        // A retained instance (removal unsafe) keeps its member: the cluster is not expected to converge.
        if (r === 'retained') return { result: r, status: await fleet.status() };
        return { result: r, status: await fleet.waitConverged(timeout) };
      }
      case 'kill':
        fleet.kill(String(a.id), Boolean(a.wipe));
        return { killed: a.id };
      case 'freeze':
        fleet.freeze(String(a.id), true);
        return { frozen: a.id };
      case 'thaw':
        fleet.freeze(String(a.id), false);
        return { thawed: a.id };
      case 'reboot':
        await fleet.reboot(String(a.id));
        return fleet.waitConverged(timeout);
      case 'fault':
        fleet.armFault(String(a.kind));
        return { armed: a.kind };
      case 'launch':
        return { id: await fleet.launch() };
      case 'reconcile':
        await fleet.reconcile();
        return { reconciled: true };
      case 'backup':
        return fleet.backup.invoke('backup');
      case 'restore':
        return fleet.backup.invoke('restore');
      case 'pids':
        return { supervisor: process.pid, children: fleet.pids() };
      case 'down':
        setTimeout(() => void shutdown(), 10);
        return { down: true };
      default:
        throw new Error(`unknown command ${req.cmd}`);
    }
  });
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
