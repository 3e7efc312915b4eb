/* Entry of the etcd-fleet CLI bundle (bin/etcd-fleet.js loads it). */
import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`etcd-fleet: ${err.message}`);
    process.exit(1);
  },
);
