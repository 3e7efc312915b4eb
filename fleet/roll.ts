/*
 * `etcd-fleet roll`: the group's rolling update as CloudFormation runs it with an UpdatePolicy of
 * AutoScalingRollingUpdate { MaxBatchSize: 1, MinInstancesInService: size - 1, WaitOnResourceSignals: true }.
 * The new launch template applies to every launch from now on; then each instance of an older template,
 * oldest first, and only while the cluster is converged (never two members out at once), is terminated
 * through the terminate lifecycle hook (the Lambda removes its member, handing leadership off first), the
 * group launches its replacement, and the roll waits for the replacement's SignalResource. SUCCESS: the next
 * one. FAILURE, or no signal within the signal timeout: the roll stops and rolls back, as CloudFormation's
 * UPDATE_ROLLBACK does: the previous template is restored for launches, every instance of the new template
 * goes (one at a time, the same gate: a voter only while the cluster is converged, each replacement's
 * signal awaited), and the group converges on the previous template. One structured log line per decision.
 */
import type { AwsStandIn, ResourceSignal } from './standin';
import type { Group } from './group';
import type { FleetLog, FleetStatus, Instance, LaunchTemplate } from './types';

/** What the roll uses of the fleet. */
export interface RollHost {
  readonly group: Group;
  readonly standIn: AwsStandIn;
  readonly log: FleetLog;
  template: LaunchTemplate;
  /** Resolves once the instance's agent exited (or after `ms`). */
  agentExited(inst: Instance, ms: number): Promise<void>;
  status(): Promise<FleetStatus>;
  waitConverged(timeoutSeconds: number): Promise<FleetStatus>;
}

export interface RollOptions {
  /** The new template's etcd binary; default: the current one's. */
  readonly etcdBin?: string;
  /** The release the new template's agent config claims; default: what its binary says. */
  readonly etcdVersion?: string;
  /** Seconds from a replacement's launch to its signal. */
  readonly signalTimeoutSeconds: number;
  /** Seconds each wait for convergence may take. */
  readonly timeoutSeconds: number;
}

export type SignalOutcome = 'SUCCESS' | 'FAILURE' | 'timeout';

/** One replacement: the old instance, its replacement and what the gate saw, with the step's durations. */
export interface RollStep {
  readonly old: string;
  readonly replacement: string;
  readonly signal: SignalOutcome;
  /** The lifecycle Lambda's removal and the old instance's stop (terminate hook → terminated). */
  readonly terminateSeconds: number;
  /** The replacement's launch → its signal (or the timeout). */
  readonly signalSeconds: number;
  /** Signal → converged again (SUCCESS only). */
  readonly convergeSeconds?: number;
  /** The whole step, from the start of the wait for convergence before the termination. */
  readonly seconds: number;
}

export interface RollFailure {
  readonly instance: string;
  readonly status: SignalOutcome | 'retained';
  readonly reason: string;
}

export interface RollResult {
  readonly ok: boolean;
  /** 'complete', or 'rolled-back' (the roll failed, the previous template is back). */
  readonly result: 'complete' | 'rolled-back';
  readonly template: LaunchTemplate;
  readonly previous: LaunchTemplate;
  readonly replaced: RollStep[];
  readonly failure?: RollFailure;
  /** The rollback's replacements (old template). */
  readonly rollback?: RollStep[];
  readonly totalSeconds: number;
  readonly status: FleetStatus;
}

const secs = (ms: number) => Math.round(ms / 10) / 100;

export class Roll {
  /** Every signal that arrived during the roll, by instance id (the first one counts). */
  private readonly signals = new Map<string, ResourceSignal>();
  private readonly waiters = new Map<string, (s: ResourceSignal) => void>();

  constructor(
    private readonly host: RollHost,
    private readonly opts: RollOptions,
  ) {}

  private readonly onSignal = (s: ResourceSignal) => {
    if (!s.accepted || this.signals.has(s.uniqueId)) return;
    this.signals.set(s.uniqueId, s);
    this.waiters.get(s.uniqueId)?.(s);
  };

  async run(): Promise<RollResult> {
    const { host } = this;
    const board = host.standIn.signalBoard;
    if (!board) throw new Error('the stand-in takes no signals (no signalTarget)');
    if (board.waiting) throw new Error('signals are awaited already (a creation or another roll runs)');
    const started = Date.now();
    const previous = host.template;
    const template: LaunchTemplate = {
      version: previous.version + 1,
      etcdBin: this.opts.etcdBin ?? previous.etcdBin,
      etcdVersion: this.opts.etcdVersion ?? (this.opts.etcdBin ? undefined : previous.etcdVersion),
    };
    await host.waitConverged(this.opts.timeoutSeconds);
    host.standIn.on('signal-resource', this.onSignal);
    board.waiting = true;
    try {
      host.template = template;
      const old = host.group
        .alive()
        .filter((i) => i.template.version !== template.version)
        .sort((a, b) => a.launchedAt - b.launchedAt);
      host.log('roll: started', {
        template,
        previous,
        instances: old.map((i) => i.id),
        reason:
          'new launch template: every instance of an older one is replaced, oldest first, one at a time',
      });
      const replaced: RollStep[] = [];
      for (const inst of old) {
        if (!host.group.alive().includes(inst)) {
          host.log('roll: skipped', { id: inst.id, reason: 'no longer in service (terminated meanwhile)' });
          continue;
        }
        const step = await this.replace(inst, 'rolling update');
        if ('failure' in step) {
          const rollback = await this.rollBack(template, previous);
          const status = await host.waitConverged(this.opts.timeoutSeconds);
          host.log('roll: rolled back', { failure: step.failure, replaced: replaced.length });
          return {
            ok: false,
            result: 'rolled-back',
            template,
            previous,
            replaced,
            failure: step.failure,
            rollback,
            totalSeconds: secs(Date.now() - started),
            status,
          };
        }
        replaced.push(step);
      }
      const status = await host.waitConverged(this.opts.timeoutSeconds);
      host.log('roll: complete', { template: template.version, replaced: replaced.length });
      return {
        ok: true,
        result: 'complete',
        template,
        previous,
        replaced,
        totalSeconds: secs(Date.now() - started),
        status,
      };
    } finally {
      board.waiting = false;
      host.standIn.off('signal-resource', this.onSignal);
    }
  }

  /** The next instance the group launches (registered before the termination that causes it). */
  private nextLaunch(): { launched: Promise<Instance>; cancel: () => void } {
    let cancel = () => {};
    const launched = new Promise<Instance>((resolve) => {
      const off = this.host.group.onLaunch((i) => {
        off();
        resolve(i);
      });
      cancel = () => void off();
    });
    return { launched, cancel };
  }

  /** The first accepted signal of `id`, or 'timeout' `ms` after `from`. */
  private signalOf(id: string, from: number): Promise<ResourceSignal | 'timeout'> {
    const had = this.signals.get(id);
    if (had) return Promise.resolve(had);
    return new Promise((resolve) => {
      const t = setTimeout(
        () => {
          this.waiters.delete(id);
          resolve('timeout');
        },
        Math.max(0, from + this.opts.signalTimeoutSeconds * 1000 - Date.now()),
      );
      this.waiters.set(id, (s) => {
        clearTimeout(t);
        this.waiters.delete(id);
        resolve(s);
      });
    });
  }

  /**
   * One gated replacement: converged first when `inst` holds a voter (an instance without one is not a member
   * that could be out), terminate through the hook, the group's replacement, its signal.
   */
  private async replace(inst: Instance, why: string): Promise<RollStep | { failure: RollFailure }> {
    const { host } = this;
    const t0 = Date.now();
    const role = (await host.status()).instances.find((i) => i.id === inst.id)?.role;
    if (role === 'voter') await host.waitConverged(this.opts.timeoutSeconds);
    host.log('roll: replacing', {
      id: inst.id,
      launchTemplate: inst.template.version,
      role,
      reason:
        role === 'voter'
          ? `${why}: the cluster is converged, so this member is the only one out`
          : `${why}: it holds no voter, nothing to wait for`,
    });
    const next = this.nextLaunch();
    const tTerm = Date.now();
    const result = await host.group.terminate(inst.id, why);
    if (result === 'retained') {
      next.cancel();
      const reason = 'its termination was retained: the Lambda found the removal unsafe';
      host.log('roll: stopped', { id: inst.id, status: 'retained', reason });
      return { failure: { instance: inst.id, status: 'retained', reason } };
    }
    const terminateSeconds = secs(Date.now() - tTerm);
    let timer: NodeJS.Timeout | undefined;
    const launchTimeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 60_000)));
    const heir = await Promise.race([next.launched, launchTimeout]);
    clearTimeout(timer);
    next.cancel();
    if (!heir) throw new Error(`the group launched no replacement for ${inst.id} within 60 s`);
    const signal = await this.signalOf(heir.id, heir.launchedAt);
    const outcome: SignalOutcome = signal === 'timeout' ? 'timeout' : signal.status;
    const signalSeconds = secs((signal === 'timeout' ? Date.now() : signal.at) - heir.launchedAt);
    if (outcome !== 'SUCCESS') {
      // A refusing agent exits right after its signal; its log's reason is read once it did.
      if (outcome === 'FAILURE') await host.agentExited(heir, 10_000);
      const reason = this.reasonOf(heir, outcome);
      host.log('roll: stopped', { id: heir.id, replaced: inst.id, status: outcome, signalSeconds, reason });
      return { failure: { instance: heir.id, status: outcome, reason } };
    }
    const tSignal = Date.now();
    await host.waitConverged(this.opts.timeoutSeconds);
    const step: RollStep = {
      old: inst.id,
      replacement: heir.id,
      signal: outcome,
      terminateSeconds,
      signalSeconds,
      convergeSeconds: secs(Date.now() - tSignal),
      seconds: secs(Date.now() - t0),
    };
    host.log('roll: replaced', { ...step, reason: 'SUCCESS signal and converged: next instance' });
    return step;
  }

  /** Why the replacement did not signal SUCCESS: its agent's refusal when its log says one. */
  private reasonOf(heir: Instance, outcome: SignalOutcome): string {
    if (outcome === 'timeout')
      return `no signal within ${this.opts.signalTimeoutSeconds} s of its launch (--signal-timeout)`;
    return heir.joinFailure ?? 'its agent signalled FAILURE (no reason in its log)';
  }

  /**
   * CloudFormation's UPDATE_ROLLBACK: the previous template for launches, then every instance of the new
   * template replaced (gated like the roll) until none is left; bounded by twice the capacity.
   */
  private async rollBack(template: LaunchTemplate, previous: LaunchTemplate): Promise<RollStep[]> {
    const { host } = this;
    host.template = previous;
    host.log('roll: rolling back', {
      template: previous.version,
      reason: 'a replacement failed: launches use the previous template again; new-template instances go',
    });
    const steps: RollStep[] = [];
    const bound = 2 * host.standIn.group.desiredCapacity + 2;
    for (let n = 0; n < bound; n++) {
      // The failed instance may be on its way out already (its agent abandoned its launch): let that finish.
      const until = Date.now() + this.opts.timeoutSeconds * 1000;
      while (host.group.all().some((i) => i.phase === 'terminating') && Date.now() < until)
        await new Promise((r) => setTimeout(r, 250));
      const bad = host.group
        .alive()
        .filter((i) => i.template.version === template.version)
        .sort((a, b) => a.launchedAt - b.launchedAt)[0];
      if (!bad) return steps;
      const step = await this.replace(bad, 'rollback');
      if ('failure' in step)
        throw new Error(
          `rollback failed too: ${step.failure.instance} ${step.failure.status}: ${step.failure.reason}`,
        );
      steps.push(step);
    }
    throw new Error('rollback: new-template instances are still launched after every replacement');
  }
}
