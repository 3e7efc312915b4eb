/*
 * The simulated Auto Scaling group: its instances and their life cycle. The control loop keeps the
 * capacity (launch, scale in newest first, replace an instance whose etcd is gone, abandon a launch whose
 * hook timed out); launches wait on the launch hook, terminations go through the terminate hook (the
 * lifecycle Lambda gets the event), EC2 TerminateInstances and RebootInstances act on the instances.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { allocateAddress } from './addresses';
import { InstanceProcesses, LOSE_ADD_REPLY_FILE } from './processes';
import type { AwsStandIn, StandInInstance } from './standin';
import {
  FleetLog,
  FleetOptions,
  Instance,
  LAUNCH_HOOK,
  LaunchTemplate,
  REGION,
  TERMINATE_HOOK,
} from './types';

/** What the group needs of the fleet. */
export interface GroupHost {
  readonly opts: FleetOptions;
  readonly block: number;
  readonly standIn: AwsStandIn;
  readonly processes: InstanceProcesses;
  readonly log: FleetLog;
  /** The launch template every launch takes now. */
  template(): LaunchTemplate;
  /** The agent config (config.json) of the instance in `dir`, launched from `template`. */
  agentConfig(dir: string, dataDir: string, template: LaunchTemplate): Record<string, unknown>;
  /** Sends the terminate hook's event to the lifecycle Lambda, when it runs. */
  deliverTerminate(instanceId: string, token: string): void;
}

type LifecycleEvent = { instanceId: string; hookName: string; result: string };

export class Group {
  private readonly instances = new Map<string, Instance>();
  private readonly pending = new Set<Promise<unknown>>();
  private ticking = false;
  private scalingIn = false;
  private seq = 0;
  private armedFault?: string;
  private readonly launchListeners = new Set<(inst: Instance) => void>();

  constructor(private readonly host: GroupHost) {}

  /** Answers the stand-in's launch-hook completions, TerminateInstances and RebootInstances. */
  listen(): void {
    const { standIn, log } = this.host;
    standIn.on('complete-lifecycle-action', (e: LifecycleEvent) => {
      if (e.hookName === LAUNCH_HOOK) this.onLaunchCompleted(e.instanceId, e.result);
    });
    // EC2 TerminateInstances (the reconcile finishing a retained termination): the instance stops and is gone.
    standIn.on('terminate-instances', (e: { instanceIds: string[] }) => {
      for (const id of e.instanceIds) {
        this.track(this.terminateNow(id)).catch((err: Error) =>
          log('TerminateInstances failed', { id, error: err.message }),
        );
      }
    });
    // EC2 RebootInstances (the restore): the instances reboot, same address and data dir.
    standIn.on('reboot-instances', (e: { instanceIds: string[] }) => {
      for (const id of e.instanceIds) {
        log('RebootInstances: rebooting', { id });
        this.reboot(id).catch((err: Error) => log('reboot failed', { id, error: err.message }));
      }
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p
      .finally(() => this.pending.delete(p))
      .catch((err: Error) => this.host.log('background task failed', { error: err.message }));
    return p;
  }

  /** Calls `fn` with every instance launched from now on, until the returned function is called. */
  onLaunch(fn: (inst: Instance) => void): () => void {
    this.launchListeners.add(fn);
    return () => this.launchListeners.delete(fn);
  }

  /** Every instance the group has launched, terminated ones included. */
  all(): Instance[] {
    return [...this.instances.values()];
  }

  /** Instances that are not gone, terminating or retained. */
  alive(): Instance[] {
    return this.all().filter(
      (i) => i.phase !== 'gone' && i.phase !== 'terminating' && i.phase !== 'retained',
    );
  }

  /** The group's control loop: capacity, health check, launch timeouts. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    const { standIn, opts, log } = this.host;
    try {
      const desired = standIn.group.desiredCapacity;
      // Like the group: an unhealthy instance is terminated first and replaced after (a terminating
      // instance still counts against capacity, so its replacement may get its address back).
      const counted = this.all().filter((i) => i.phase !== 'gone' && i.phase !== 'retained');
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
        const si = standIn.getInstance(inst.id);
        if (!si) continue;
        if (
          si.lifecycleState === 'Pending:Wait' &&
          now - inst.launchedAt > opts.launchTimeoutSeconds * 1000
        ) {
          log('launch lifecycle action timed out: default result ABANDON', { id: inst.id });
          this.track(this.terminate(inst.id, 'launch abandoned'));
        } else if (si.lifecycleState === 'InService' && inst.phase === 'dead') {
          log('health check: etcd is gone, replacing the instance', { id: inst.id });
          this.track(this.terminate(inst.id, 'unhealthy'));
        }
      }
    } catch (err) {
      log('tick failed', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  private newId(): string {
    return 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
  }

  async launch(): Promise<string> {
    const { standIn, opts, log } = this.host;
    const used = new Set(
      this.all()
        .filter((i) => i.phase !== 'gone')
        .map((i) => i.ip),
    );
    const ip = allocateAddress(this.host.block, used);
    const id = this.newId();
    const dir = path.join(opts.dir, 'instances', `${String(++this.seq).padStart(3, '0')}-${id}`);
    const template = this.host.template();
    const inst: Instance = {
      id,
      ip,
      dir,
      dataDir: path.join(dir, 'data'),
      template,
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
      JSON.stringify(this.host.agentConfig(dir, inst.dataDir, template), null, 2),
    );
    if (this.armedFault === 'lose-add-reply') fs.writeFileSync(path.join(dir, LOSE_ADD_REPLY_FILE), '');
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
      await standIn.addInstance(si);
    } catch (err) {
      // Undo the half-made instance, or it would count against capacity forever with nothing running.
      this.instances.delete(id);
      fs.rmSync(dir, { recursive: true, force: true });
      log('launch failed', { id, ip, error: (err as Error).message });
      throw err;
    }
    log('launched', { id, ip, launchTemplate: template.version });
    for (const fn of this.launchListeners) fn(inst);
    void this.host.processes.boot(inst);
    return id;
  }

  private onLaunchCompleted(id: string, result: string): void {
    const inst = this.instances.get(id);
    if (!inst) return;
    if (result === 'CONTINUE') {
      this.host.standIn.setLifecycleState(id, 'InService');
      this.host.log('launch completed: InService', { id, ms: Date.now() - inst.launchedAt });
    } else {
      // The instance shuts down after its agent is done (its rollout signal goes out before the instance does).
      this.track(
        this.host.processes
          .agentExited(inst, 10_000)
          .then(() => this.terminate(id, 'launch abandoned by the agent')),
      );
    }
  }

  /** Termination through the terminate lifecycle hook (and the lifecycle Lambda when built). */
  async terminate(id: string, reason: string): Promise<'terminated' | 'retained'> {
    const { standIn, opts, log } = this.host;
    const inst = this.instances.get(id);
    if (!inst || inst.phase === 'gone' || inst.phase === 'terminating') return 'terminated';
    inst.phase = 'terminating';
    const token = crypto.randomUUID();
    standIn.setLifecycleState(id, 'Terminating:Wait', token);
    log('terminating', { id, reason });
    const terminatingAt = Date.now();
    const result = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        standIn.off('complete-lifecycle-action', onComplete);
        resolve('CONTINUE'); // the terminate hook's default result
      }, opts.terminateTimeoutSeconds * 1000);
      const onComplete = (e: LifecycleEvent) => {
        if (e.instanceId !== id || e.hookName !== TERMINATE_HOOK) return;
        clearTimeout(timer);
        standIn.off('complete-lifecycle-action', onComplete);
        resolve(e.result);
      };
      standIn.on('complete-lifecycle-action', onComplete);
      this.host.deliverTerminate(id, token);
    });
    // With the lifecycle Lambda, CONTINUE comes right after it removed the member.
    log('terminate lifecycle action completed', { id, result, ms: Date.now() - terminatingAt });
    if (result === 'ABANDON') {
      // TerminateHookAbandon: retain — the instance keeps running outside the group's capacity.
      inst.phase = 'retained';
      standIn.setLifecycleState(id, 'Terminating:Retained');
      log('termination abandoned: instance retained', { id });
      return 'retained';
    }
    await this.remove(inst, reason);
    return 'terminated';
  }

  /** EC2 TerminateInstances: no lifecycle hook (a retained instance has left the group's lifecycle already). */
  private async terminateNow(id: string): Promise<void> {
    const inst = this.instances.get(id);
    if (!inst || inst.phase === 'gone') return;
    this.host.log('TerminateInstances', { id, phase: inst.phase });
    await this.remove(inst, 'TerminateInstances');
  }

  /** The instance stops and is gone; the group launches its replacement now, not at its next 250 ms tick. */
  private async remove(inst: Instance, reason: string): Promise<void> {
    await this.host.processes.stop(inst);
    inst.phase = 'gone';
    await this.host.standIn.removeInstance(inst.id);
    fs.rmSync(inst.dir, { recursive: true, force: true });
    this.host.log('terminated', { id: inst.id, reason });
    void this.tick();
  }

  /** The instance with this id or IP; throws when there is none (or it is gone). */
  find(id: string): Instance {
    const inst = this.instances.get(id) ?? this.all().find((i) => i.ip === id);
    if (!inst || inst.phase === 'gone') throw new Error(`no instance ${id} in the fleet`);
    return inst;
  }

  kill(id: string, wipe: boolean): void {
    const inst = this.find(id);
    // A retained instance stays retained (outside the group's capacity), only its processes die.
    if (inst.phase !== 'retained') inst.phase = 'dead';
    this.host.processes.kill(inst, wipe);
    this.host.log('killed', { id: inst.id, wipe });
  }

  freeze(id: string, frozen: boolean): void {
    const inst = this.find(id);
    if (!this.host.processes.freeze(inst, frozen)) throw new Error(`instance ${id} has no running etcd`);
    this.host.log(frozen ? 'frozen' : 'thawed', { id: inst.id });
  }

  async reboot(id: string): Promise<void> {
    await this.host.processes.reboot(this.find(id));
  }

  /** Arms the lost add reply for the next launched instance (FAILURE-SCENARIOS 3). */
  armLoseAddReply(): void {
    this.armedFault = 'lose-add-reply';
  }

  scale(n: number): void {
    const { opts, standIn } = this.host;
    if (!Number.isInteger(n) || n < 0 || n > opts.maxSize) throw new Error(`size must be 0..${opts.maxSize}`);
    standIn.group.desiredCapacity = n;
    this.host.log('desired capacity set', { desired: n });
  }
}
