/*
 * Lifecycle / reconcile Lambda entry. Thin: builds the invocation context through a replaceable factory,
 * classifies the event, and dispatches to one function per event kind (terminate.ts, launch.ts,
 * reconcile.ts, backup.ts, restore.ts, maintenance.ts). Configuration is read from the environment at every invocation, never at module load.
 *
 * Events that are not for this function (malformed, foreign source, another group or hook) and a bad
 * configuration are logged and answered normally, with no action: a throw would only make Lambda retry an
 * event that can never succeed. Unexpected failures while setting up (reading the TLS client identity) or
 * acting (AWS or etcd errors) are logged and
 * rethrown, so Lambda's asynchronous retries run the idempotent handler again.
 */
import { ConfigError, readConfig } from './config';
import { ContextFactory, createContext, LifecycleContext } from './context';
import { parseEvent } from './events';
import { onLaunch } from './launch';
import { errorMessage, Logger } from './log';
import { onBackup } from './backup';
import { onMaintenance } from './maintenance';
import { onReconcile } from './reconcile';
import { onRestore } from './restore';
import type { HandlerResult } from './result';
import { onTerminate } from './terminate';
import { clientCredentials } from './tls';

export type { HandlerResult } from './result';
export type { ContextFactory, LifecycleContext } from './context';
export { createContext } from './context';

/** The production factory: with TLS, the client identity is read from Secrets Manager first. */
const productionFactory: ContextFactory = async (env, opts) => {
  readConfig(env); // a bad configuration is reported as such, before any secret is read
  if (opts?.etcd === false) return createContext(env); // an event that is ignored reads no secret
  return createContext(env, { etcdCredentials: await clientCredentials(env) });
};
let contextFactory: ContextFactory = productionFactory;

/** Replaces the context factory (tests); without an argument, restores the production factory. */
export function setContextFactory(factory?: ContextFactory): void {
  contextFactory = factory ?? productionFactory;
}

export async function handler(event: unknown): Promise<HandlerResult> {
  const bare = new Logger();
  let ctx: LifecycleContext;
  const parsed = parseEvent(event);
  try {
    ctx = await contextFactory(process.env, { etcd: parsed.kind !== 'invalid' });
  } catch (err) {
    const reason = errorMessage(err);
    if (!(err instanceof ConfigError)) {
      // e.g. the client identity secret could not be read: transient, so Lambda's retries should run again
      bare.error('could not set up: the event may be retried', { reason });
      throw err;
    }
    bare.error('configuration error: no action taken', { reason });
    return { ok: false, kind: 'config', outcome: 'ignored', reason, removed: [] };
  }
  const ignore = (reason: string, fields: Record<string, unknown> = {}): HandlerResult => {
    ctx.log.warn('event ignored: no action taken', { reason, ...fields });
    return { ok: true, kind: 'invalid', outcome: 'ignored', reason, removed: [] };
  };
  if (parsed.kind === 'invalid') {
    if (parsed.refused) {
      ctx.log.error('request refused: no action taken', { reason: parsed.reason, event: summarize(event) });
      return { ok: false, kind: 'invalid', outcome: 'ignored', reason: parsed.reason, removed: [] };
    }
    return ignore(parsed.reason, { event: summarize(event) });
  }

  try {
    if (parsed.kind === 'reconcile') return await onReconcile(ctx, parsed.eventId);
    if (parsed.kind === 'backup') return await onBackup(ctx, parsed.eventId);
    if (parsed.kind === 'maintenance') return await onMaintenance(ctx, parsed.eventId);
    if (parsed.kind === 'restore') {
      const pit = {
        ...(parsed.untilRevision !== undefined && { untilRevision: parsed.untilRevision }),
        ...(parsed.untilTime !== undefined && { untilTime: parsed.untilTime }),
      };
      return await onRestore(
        ctx,
        true,
        parsed.eventId,
        undefined,
        Object.keys(pit).length > 0 ? pit : undefined,
      );
    }
    const { config } = ctx;
    if (parsed.groupName !== config.groupName) {
      return ignore(`lifecycle action of group ${parsed.groupName}, not ${config.groupName}`, {
        instanceId: parsed.instanceId,
      });
    }
    const ownHook = parsed.kind === 'launch' ? config.launchHookName : config.terminateHookName;
    if (ownHook !== undefined && parsed.hookName !== ownHook) {
      return ignore(`lifecycle action of hook ${parsed.hookName}, not ${ownHook}`, {
        instanceId: parsed.instanceId,
      });
    }
    return parsed.kind === 'launch' ? await onLaunch(ctx, parsed) : await onTerminate(ctx, parsed);
  } catch (err) {
    ctx.log.error('handler failed: the event may be retried', {
      event: parsed.kind,
      ...('instanceId' in parsed ? { instanceId: parsed.instanceId } : {}),
      error: errorMessage(err),
    });
    throw err;
  }
}

/** A bounded preview of an unhandled event for the log line. */
function summarize(event: unknown): unknown {
  let text: string;
  try {
    text = JSON.stringify(event) ?? String(event);
  } catch {
    text = String(event);
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
