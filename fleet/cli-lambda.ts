/*
 * `etcd-fleet backup|restore|maintenance|drill`: the commands that run the lifecycle Lambda's or the agent's
 * backup and maintenance paths through the supervisor, each printing its result as one JSON line.
 */
import { call } from './control';
import { UsageError } from './usage';

/** backup / restore: the Lambda's result as one JSON line; exit 1 when it did not do its job. */
export async function lambdaCmd(dir: string, cmd: 'backup' | 'restore', timeout: number): Promise<number> {
  const r = await call(dir, { cmd }, (timeout + 30) * 1000);
  if (!r.ok) throw new Error(r.error);
  const data = r.data as { ok?: boolean; reason?: string };
  console.log(JSON.stringify(data));
  if (!data.ok) console.error(`etcd-fleet ${cmd}: ${data.reason ?? 'failed'}`);
  return data.ok ? 0 : 1;
}

/**
 * drill [ID]: one restore drill run on an instance (`agent.js drill`); its lines as JSON. Exit 0 when it ran and
 * the drill passed or there was nothing to drill, 1 when the drill failed or the run could not be made.
 */
export async function drillCmd(dir: string, id: string | undefined, timeout: number): Promise<number> {
  const r = await call(dir, { cmd: 'drill', args: id === undefined ? {} : { id } }, (timeout + 30) * 1000);
  if (!r.ok) throw new Error(r.error);
  const data = r.data as { code: number; lines: { message?: string; ok?: boolean }[] };
  console.log(JSON.stringify(data));
  const result = data.lines.find((l) => l && l.message === 'restore drill result');
  return data.code === 0 && result?.ok !== false ? 0 : 1;
}

/** maintenance on|off: the schedule; run: one run now, its result as one JSON line. */
export async function maintenanceCmd(
  dir: string,
  action: string | undefined,
  timeout: number,
): Promise<number> {
  if (action !== 'on' && action !== 'off' && action !== 'run')
    throw new UsageError('maintenance needs on, off or run');
  const r = await call(dir, { cmd: 'maintenance', args: { action } }, (timeout + 30) * 1000);
  if (!r.ok) throw new Error(r.error);
  console.log(JSON.stringify(r.data));
  const result = (r.data as { result?: { ok?: boolean } }).result;
  return result && typeof result === 'object' && result.ok === false ? 1 : 0;
}
