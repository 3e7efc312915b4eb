/*
 * The local fleet: a simulated Auto Scaling group of "instances", each a loopback address with real
 * etcd, booted exactly as on AWS: the join agent bundle (build/agent/agent.js) runs first against the
 * local AWS stand-in, then etcd starts with the settings the agent wrote (as Flatcar's
 * etcd-member.service would), then the agent's promote phase completes the launch lifecycle action.
 * Terminations go through the terminate lifecycle hook and the lifecycle Lambda bundle, when built.
 *
 * `Fleet` puts the parts together: the stand-in (fleet/standin), the group (fleet/group.ts), the
 * instances' processes (fleet/processes.ts), what the fleet writes for them (fleet/render.ts), the
 * lifecycle Lambda (fleet/lambda-host.ts), backups (fleet/backup.ts), TLS (fleet/tls.ts) and the status
 * (fleet/status.ts). It runs in its own process (fleet/rpc.ts, started by `etcd-fleet up`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { EtcdAdapter } from '../lambda/adapters/etcd';
import { EtcdMaintenance } from '../lambda/adapters/etcd-maintenance';
import { blockFor, standInAddress } from './addresses';
import { FleetBackup } from './backup';
import { Group } from './group';
import { LambdaHost } from './lambda-host';
import { InstanceProcesses } from './processes';
import { agentConfig, awsEnv, handlerEnv, RenderInput, ROLLOUT_SIGNAL } from './render';
import { Roll, RollOptions, RollResult } from './roll';
import { AwsStandIn, type ResourceSignal } from './standin';
import { fleetStatus, waitConverged } from './status';
import { FleetTls, setUpFleetTls } from './tls';
import {
  FleetOptions,
  FleetStatus,
  GROUP_NAME,
  IMDS_PORT,
  LAUNCH_HOOK,
  LaunchTemplate,
  REGION,
  TERMINATE_HOOK,
} from './types';

/** How long `up` waits, once converged, for the signals of instances that did not signal yet. */
const CREATION_SIGNAL_GRACE_MS = 10_000;

export class Fleet {
  readonly block: number;
  /** The launch template every launch takes now (`etcd-fleet roll` replaces it, a rollback restores it). */
  private launchTemplate: LaunchTemplate;
  /** The creation (`up`) still waits for signals. */
  private creating = true;
  readonly standIn: AwsStandIn;
  readonly backup: FleetBackup;
  private etcd = new EtcdAdapter({ callTimeoutMs: 1500 });
  /** TLS state of a `--tls` fleet (set up in start()). */
  private tls?: FleetTls;
  private timer?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private maintenanceTimer?: NodeJS.Timeout;
  /** Scheduled maintenance events are sent (`up --no-maintenance` starts with false; `maintenance on|off`). */
  private maintenanceOn: boolean;
  private readonly logStream: fs.WriteStream;
  private readonly lambda: LambdaHost;
  private readonly processes: InstanceProcesses;
  private readonly group: Group;

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
      signalTarget: ROLLOUT_SIGNAL,
    });
    this.launchTemplate = { version: 1, etcdBin: opts.etcdBin, etcdVersion: opts.etcdVersion };
    this.maintenanceOn = opts.maintenance !== false;
    this.logStream = fs.createWriteStream(path.join(opts.dir, 'supervisor.log'), { flags: 'a' });
    const log = this.log.bind(this);
    this.lambda = new LambdaHost(log);
    this.backup = new FleetBackup(
      { block: this.block, dir: opts.dir, log, handler: () => this.lambda.handler },
      opts.backup ?? {},
    );
    this.processes = new InstanceProcesses({
      root: opts.root,
      breakBoot: opts.breakBoot ?? 0,
      stopHandoff: opts.leaderHandoff !== false,
      awsEnv: (id) => awsEnv(this.rendering(), id),
      log,
    });
    this.group = new Group({
      opts,
      block: this.block,
      standIn: this.standIn,
      processes: this.processes,
      log,
      template: () => this.launchTemplate,
      agentConfig: (dir, dataDir, template) => agentConfig(this.rendering(), dir, dataDir, template),
      deliverTerminate: (id, token) => this.lambda.deliverTerminate(id, token),
    });
  }

  log(message: string, fields: Record<string, unknown> = {}): void {
    this.logStream.write(JSON.stringify({ time: new Date().toISOString(), message, ...fields }) + '\n');
  }

  /** Scheme of every peer and client URL. */
  get scheme(): 'http' | 'https' {
    return this.opts.tls ? 'https' : 'http';
  }

  private rendering(): RenderInput {
    return {
      opts: this.opts,
      standIn: this.standIn,
      backup: this.backup,
      scheme: this.scheme,
      tls: this.tls,
    };
  }

  async start(): Promise<void> {
    await this.standIn.start();
    await this.backup.start();
    if (this.opts.tls) {
      this.tls = await setUpFleetTls(this.opts.dir, this.standIn);
      this.etcd = new EtcdAdapter({ callTimeoutMs: 1500, credentials: this.tls.credentials });
    }
    this.group.listen();
    this.standIn.on('signal-resource', (sig: ResourceSignal) =>
      this.log('signal', { id: sig.uniqueId, status: sig.status, accepted: sig.accepted }),
    );
    // Like CloudFormation's CreationPolicy: the creation takes signals until it is complete (created()).
    this.standIn.signalBoard!.waiting = true;
    if (this.opts.lifecycleHandler !== false) {
      // The lifecycle Lambda bundle, loaded as Lambda would load it, its SDK calls answered by the stand-in.
      this.lambda.load(
        path.join(this.opts.root, 'build', 'lambda', 'index.js'),
        () => handlerEnv(this.rendering()),
        { leaderHandoff: this.opts.leaderHandoff, credentials: this.tls?.credentials },
      );
    }
    this.timer = setInterval(() => void this.group.tick(), 250);
    void this.group.tick(); // the first launches now, not one interval later
    if (this.opts.reconcileIntervalSeconds > 0 && this.lambda.handler) {
      this.reconcileTimer = setInterval(
        () => void this.reconcile(),
        this.opts.reconcileIntervalSeconds * 1000,
      );
    }
    const every = this.opts.maintenanceIntervalSeconds ?? this.opts.reconcileIntervalSeconds;
    if (every > 0 && this.lambda.handler) {
      this.maintenanceTimer = setInterval(() => {
        if (this.maintenanceOn) void this.lambda.maintenance();
      }, every * 1000);
    }
    this.backup.startSchedule();
    this.log('fleet started', { block: this.block, standIn: this.standIn.endpoint, size: this.opts.size });
  }

  /**
   * `up`: converged, then the signals of every instance (at most CREATION_SIGNAL_GRACE_MS more), then the
   * creation is complete: signals are refused again (ValidationError) until a roll waits for some.
   */
  async created(timeoutSeconds: number): Promise<FleetStatus> {
    const status = await this.waitConverged(timeoutSeconds);
    if (!this.creating) return status;
    const board = this.standIn.signalBoard!;
    const missing = () => {
      const got = new Set(board.signals.filter((x) => x.accepted).map((x) => x.uniqueId));
      return this.group
        .alive()
        .map((i) => i.id)
        .filter((id) => !got.has(id));
    };
    const until = Date.now() + CREATION_SIGNAL_GRACE_MS;
    while (missing().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    board.waiting = false;
    this.creating = false;
    const signals = Object.fromEntries(
      board.signals.filter((x) => x.accepted).map((x) => [x.uniqueId, x.status]),
    );
    this.log('creation complete: signals refused from now on', {
      signals,
      missing: missing(),
      reason:
        'converged' +
        (missing().length > 0 ? `; no signal within ${CREATION_SIGNAL_GRACE_MS} ms from some` : ''),
    });
    return status;
  }

  /** `etcd-fleet roll`: the gated rolling update (fleet/roll.ts). */
  roll(opts: RollOptions): Promise<RollResult> {
    if (this.creating) throw new Error('the creation is not complete yet (etcd-fleet up is still waiting)');
    const current = () => this.launchTemplate;
    const replace = (t: LaunchTemplate) => {
      this.launchTemplate = t;
      this.log('launch template', { ...t, reason: 'every launch from now on takes it' });
    };
    return new Roll(
      {
        group: this.group,
        standIn: this.standIn,
        log: this.log.bind(this),
        get template() {
          return current();
        },
        set template(t: LaunchTemplate) {
          replace(t);
        },
        agentExited: (i, ms) => this.processes.agentExited(i, ms),
        status: () => this.status(),
        waitConverged: (t) => this.waitConverged(t),
      },
      opts,
    ).run();
  }

  launch(): Promise<string> {
    return this.group.launch();
  }

  /** Termination through the terminate lifecycle hook (and the lifecycle Lambda when built). */
  terminate(id: string, reason: string): Promise<'terminated' | 'retained'> {
    return this.group.terminate(id, reason);
  }

  kill(id: string, wipe: boolean): void {
    this.group.kill(id, wipe);
  }

  freeze(id: string, frozen: boolean): void {
    this.group.freeze(id, frozen);
  }

  reboot(id: string): Promise<void> {
    return this.group.reboot(id);
  }

  /** Arms a fault: `lose-add-reply` for the next launched instance (FAILURE-SCENARIOS 3), or `drop-terminate-event`. */
  armFault(kind: string): void {
    if (kind === 'drop-terminate-event') {
      this.lambda.dropNextTerminateEvent();
      return;
    }
    if (kind !== 'lose-add-reply')
      throw new Error(`unknown fault ${kind}: lose-add-reply or drop-terminate-event`);
    this.group.armLoseAddReply();
  }

  scale(n: number): void {
    this.group.scale(n);
  }

  reconcile(): Promise<void> {
    return this.lambda.reconcile();
  }

  /** Turns the scheduled maintenance events on or off (a run in flight finishes). */
  setMaintenance(on: boolean): void {
    this.maintenanceOn = on;
    this.log(`maintenance ${on ? 'on' : 'off'}`);
  }

  /** One restore drill run on instance `id` (default: the first running one with etcd). */
  async drill(id?: string): Promise<{ instance: string; code: number; lines: unknown[] }> {
    const inst = id
      ? this.group.all().find((i) => i.id === id)
      : this.group.all().find((i) => i.phase === 'running' && i.etcd);
    if (!inst) throw new Error(id ? `no instance ${id}` : 'no running instance to drill on');
    return { instance: inst.id, ...(await this.processes.drill(inst)) };
  }

  /** One maintenance run now, whether the schedule is on or off ('busy' when one is running). */
  maintenance(): Promise<unknown> {
    return this.lambda.maintenance();
  }

  /** The status; `storage`: with each member's db size, size in use and alarms. */
  status(storage = false): Promise<FleetStatus> {
    return fleetStatus({
      ...(storage && { maintenance: new EtcdMaintenance(this.etcd, { callTimeoutMs: 1500 }) }),
      etcd: this.etcd,
      scheme: this.scheme,
      desiredCapacity: () => this.standIn.group.desiredCapacity,
      live: () => this.group.all().filter((i) => i.phase !== 'gone'),
      alive: () => this.group.alive(),
      lifecycleState: (id) => this.standIn.getInstance(id)?.lifecycleState,
      tls: this.tls?.files,
    });
  }

  waitConverged(timeoutSeconds: number): Promise<FleetStatus> {
    return waitConverged(() => this.status(), timeoutSeconds);
  }

  async down(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.backup.stopSchedule();
    await Promise.all(this.group.all().map((i) => this.processes.stop(i, 'SIGKILL')));
    await this.standIn.stop();
    await this.backup.stop();
    this.log('fleet down');
  }

  /** Pids of every process the fleet started (for `down` when the supervisor is gone). */
  pids(): number[] {
    return this.group.all().flatMap((i) => this.processes.pids(i));
  }
}
