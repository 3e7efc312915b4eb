/*
 * The lifecycle Lambda bundle (build/lambda/index.js), hosted in the supervisor's process: loaded as Lambda
 * would load it, its environment set on process.env (the bundle reads it there), its SDK calls answered by
 * the stand-in. It receives the terminate hook's events, the scheduled reconcile and the scheduled maintenance
 * (one maintenance run at a time: a tick that finds one running is skipped, as the construct's schedule
 * would find the Lambda busy under its concurrency of one).
 */
import * as fs from 'fs';
import { maintenanceEvent, reconcileEvent, terminateLifecycleEvent } from './events';
import type { EtcdCredentials } from '../lambda/agent/tls';
import type { FleetLog, LifecycleHandler } from './types';

/** What the fleet uses of the bundle's exports (lambda/lifecycle/index.ts). */
interface LambdaBundle {
  handler?: LifecycleHandler;
  setContextFactory?: (factory?: (env: Readonly<Record<string, string | undefined>>) => unknown) => void;
  createContext?: (
    env: Readonly<Record<string, string | undefined>>,
    overrides: { etcdCredentials?: EtcdCredentials; leaderHandoff?: boolean },
  ) => unknown;
}

export class LambdaHost {
  private loaded?: LifecycleHandler;
  /** Terminate events still to drop (fault `drop-terminate-event`). */
  private dropTerminateEvents = 0;
  /** The maintenance run in flight, if any. */
  private maintaining?: Promise<unknown>;

  constructor(private readonly log: FleetLog) {}

  /** The bundle's handler, when loaded. */
  get handler(): LifecycleHandler | undefined {
    return this.loaded;
  }

  /**
   * Loads the bundle with this environment; nothing when it is not built. `leaderHandoff: false` (`up
   * --no-leader-handoff`, for the bench's comparison) builds every invocation's context with the bundle's own
   * createContext and the leader handoff off, the client identity being `credentials` (the fleet's, TLS only).
   */
  load(
    bundle: string,
    env: () => Record<string, string>,
    opts: { leaderHandoff?: boolean; credentials?: EtcdCredentials } = {},
  ): void {
    if (!fs.existsSync(bundle)) return;
    Object.assign(process.env, env());

    const mod = require(bundle) as LambdaBundle;
    if (typeof mod.handler === 'function') this.loaded = mod.handler;
    if (opts.leaderHandoff === false) {
      if (typeof mod.setContextFactory !== 'function' || typeof mod.createContext !== 'function')
        throw new Error(
          `${bundle} exports no setContextFactory/createContext: cannot switch the handoff off`,
        );
      const create = mod.createContext;
      mod.setContextFactory((e) => create(e, { etcdCredentials: opts.credentials, leaderHandoff: false }));
      this.log('lifecycle Lambda: leader handoff off (up --no-leader-handoff)');
    }
  }

  /** The next terminate event is lost (EventBridge delivery is best-effort). */
  dropNextTerminateEvent(): void {
    this.dropTerminateEvents++;
  }

  /** Sends the terminate hook's event for this instance (not awaited: the hook's completion answers). */
  deliverTerminate(instanceId: string, token: string): void {
    const handler = this.loaded;
    if (handler && this.dropTerminateEvents > 0) {
      // EventBridge delivery is best-effort: this event is lost, the hook's default result applies.
      this.dropTerminateEvents--;
      this.log('terminate event dropped (fault)', { id: instanceId });
    } else if (handler) {
      handler(terminateLifecycleEvent(instanceId, token)).catch((err: Error) =>
        this.log('lifecycle handler failed', { id: instanceId, error: err.message }),
      );
    }
  }

  /** The scheduled reconcile; a failure is logged. */
  async reconcile(): Promise<void> {
    if (!this.loaded) return;
    try {
      await this.loaded(reconcileEvent());
    } catch (err) {
      this.log('reconcile failed', { error: (err as Error).message });
    }
  }

  /**
   * One maintenance run (`{"kind":"maintenance"}`); none when one is still running (then: 'busy'). Resolves
   * with the handler's result; a failure is logged.
   */
  async maintenance(): Promise<unknown> {
    if (!this.loaded) return { ok: false, reason: 'no lifecycle Lambda loaded' };
    if (this.maintaining) return 'busy';
    const run = this.loaded(maintenanceEvent()).catch((err: Error) => {
      this.log('maintenance failed', { error: err.message });
      return { ok: false, reason: err.message };
    });
    this.maintaining = run;
    try {
      return await run;
    } finally {
      this.maintaining = undefined;
    }
  }
}
