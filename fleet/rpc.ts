/* The supervisor process (started by `etcd-fleet up`): a Fleet, driven over its unix socket (fleet/control.ts). */
import * as net from 'net';
import { Request, serve } from './control';
import { Fleet } from './supervisor';
import type { FleetOptions } from './types';

/** One request of the CLI, answered by the fleet. */
async function dispatch(fleet: Fleet, req: Request, shutdown: () => Promise<void>): Promise<unknown> {
  const a = (req.args ?? {}) as Record<string, unknown>;
  const timeout = typeof a.timeout === 'number' ? a.timeout : 180;
  switch (req.cmd) {
    case 'status':
      return fleet.status(true);
    case 'wait':
      return a.creation === true ? fleet.created(timeout) : fleet.waitConverged(timeout);
    case 'roll':
      return fleet.roll({
        ...(typeof a.etcdBin === 'string' && { etcdBin: a.etcdBin }),
        ...(typeof a.etcdVersion === 'string' && { etcdVersion: a.etcdVersion }),
        signalTimeoutSeconds: typeof a.signalTimeout === 'number' ? a.signalTimeout : 60,
        timeoutSeconds: timeout,
      });
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
    case 'maintenance':
      if (a.action === 'run') return { result: await fleet.maintenance() };
      if (a.action !== 'on' && a.action !== 'off') throw new Error('maintenance on, off or run');
      fleet.setMaintenance(a.action === 'on');
      return { maintenance: a.action };
    case 'reconcile':
      await fleet.reconcile();
      return { reconciled: true };
    case 'backup':
      return fleet.backup.invoke('backup');
    case 'restore':
      return fleet.backup.invoke('restore');
    case 'drill':
      return fleet.drill(a.id === undefined ? undefined : String(a.id));
    case 'pids':
      return { supervisor: process.pid, children: fleet.pids() };
    case 'down':
      setTimeout(() => void shutdown(), 10);
      return { down: true };
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
}

/** Supervisor process entry: `node supervisor-main.js <json options>`. */
export async function runSupervisor(opts: FleetOptions): Promise<void> {
  const fleet = new Fleet(opts);
  await fleet.start();
  let server: net.Server | undefined = undefined;
  const shutdown = async () => {
    await fleet.down();
    server?.close();
    process.exit(0);
  };
  server = serve(opts.dir, (req) => dispatch(fleet, req, shutdown));
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
