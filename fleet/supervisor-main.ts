/* Entry of the fleet supervisor process (spawned detached by `etcd-fleet up`). */
import { FleetOptions, runSupervisor } from './supervisor';

runSupervisor(JSON.parse(process.argv[2]) as FleetOptions).catch((err: Error) => {
  console.error(`fleet supervisor failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
