/*
 * The fleet lane's order (scripts/test.js): jest's own order, except that the fleet tests most sensitive to a
 * loaded machine (timing and leadership assertions under a heavy write load) run last, once the other lane
 * (synth, then the single-etcd and systemd tests) has usually ended, so they have the 2 cores to themselves.
 */
const Sequencer = require('@jest/test-sequencer').default;
const path = require('path');

const LAST = ['test/fleet/nospace.test.ts', 'test/fleet/space.test.ts', 'test/chaos/chaos.test.ts'];

class FleetSequencer extends Sequencer {
  sort(tests) {
    const root = path.resolve(__dirname, '..');
    const rank = (t) => LAST.indexOf(path.relative(root, t.path).split(path.sep).join('/'));
    const order = (sorted) => [
      ...sorted.filter((t) => rank(t) < 0),
      ...LAST.flatMap((_, i) => sorted.filter((t) => rank(t) === i)),
    ];
    const sorted = super.sort(tests);
    return sorted instanceof Promise ? sorted.then(order) : order(sorted);
  }
}

module.exports = FleetSequencer;
