/*
 * `etcd-fleet roll`: asks the supervisor for the gated rolling update (fleet/roll.ts) and prints its summary as
 * one JSON object on stdout; when the roll failed and was rolled back, one line on stderr names the
 * replacement, its signal and the reason, and the exit code is 1.
 */
import { call } from './control';
import type { RollResult } from './roll';

export interface RollArgs {
  readonly etcdBin?: string;
  readonly etcdVersion?: string;
  readonly signalTimeout: number;
  readonly timeout: number;
}

export async function rollCmd(dir: string, args: RollArgs): Promise<number> {
  // Bounded, never short: every wait inside the roll has its own bound (each convergence, each signal).
  const rpcMs = (args.timeout + args.signalTimeout + 60) * 20 * 1000;
  const reply = await call(dir, { cmd: 'roll', args: { ...args } }, rpcMs);
  if (!reply.ok) {
    console.error(`etcd-fleet roll: ${reply.error}`);
    return 1;
  }
  const r = reply.data as RollResult;
  console.log(JSON.stringify(r));
  if (r.ok) return 0;
  const f = r.failure!;
  console.error(
    `etcd-fleet roll: stopped at ${f.instance}: ${f.status}: ${f.reason}; rolled back to launch template ${r.previous.version}`,
  );
  return 1;
}
