/* Entry of the fleet supervisor process (spawned detached by `etcd-fleet up`). */
import { runSupervisor } from './rpc';
import type { FleetOptions } from './types';

runSupervisor(JSON.parse(process.argv[2]) as FleetOptions).catch((err: Error) => {
  console.error(`fleet supervisor failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
