/*
 * Faults the fleet injects into an instance's agent process from outside the agent bundle (the production
 * agent carries none): a marker file in the instance dir arms one, and the agent is then started with the
 * fault's preload (`node --require`).
 */
import * as fs from 'fs';
import * as path from 'path';

/** File in an instance's dir that arms the lost-add-reply fault for its agent (FAILURE-SCENARIOS 3). */
export const LOSE_ADD_REPLY_FILE = 'fault-lose-add-reply';

/** Node arguments that load the armed faults' preloads (bundled by scripts/bundle.js into build/fleet/). */
export function agentFaultArgs(root: string, instanceDir: string): string[] {
  return fs.existsSync(path.join(instanceDir, LOSE_ADD_REPLY_FILE))
    ? ['--require', path.join(root, 'build', 'fleet', 'lose-add-reply.js')]
    : [];
}
