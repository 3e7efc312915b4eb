/*
 * Members by id alone, for the table tests of plans that need no addresses of their own (leader, handoff,
 * gauges): member `id` has peer and client URLs on 10.0.0.<id>.
 */
import { Member } from '../../lambda/core/types';

/** A started voter. */
export const voter = (id: string): Member => ({
  id,
  name: `i-${id}`,
  peerURLs: [`http://10.0.0.${id}:2380`],
  clientURLs: [`http://10.0.0.${id}:2379`],
  isLearner: false,
});

/** A started learner. */
export const learner = (id: string): Member => ({ ...voter(id), isLearner: true });

/** Added but never started (no name, no client URL); `asLearner`: added as a learner, as the agent adds. */
export const unstarted = (id: string, asLearner = false): Member => ({
  ...voter(id),
  name: '',
  clientURLs: [],
  isLearner: asLearner,
});
