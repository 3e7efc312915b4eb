/*
 * A total loss under a steady writer (FAILURE-SCENARIOS 13), as the total-loss test and bench/total-loss.ts
 * run it: the writer acknowledges writes for `writeSeconds`, then every instance is `kill --wipe`d at once,
 * then a converged cluster with another cluster id (the restored one) is awaited; the writer is stopped
 * whatever happens. The loss counts from the moment every kill returned (the last instance gone): writes
 * acknowledged until then count as before the loss, which can only make the measured recovery point larger.
 */
import { until } from './assert';
import type { StatusJson } from './client';
import type { TestFleet } from './fleet';
import type { Writer } from './writer';

export async function totalLossUnderWriter(
  fleet: TestFleet,
  before: StatusJson,
  writer: Writer,
  o: {
    readonly writeSeconds: number;
    readonly writeTimeoutSeconds: number;
    readonly convergeSeconds: number;
  },
): Promise<{ after: StatusJson; lossAt: number }> {
  writer.start();
  try {
    await until(`${o.writeSeconds} s of acknowledged writes`, o.writeTimeoutSeconds, async () =>
      writer.ackTimes.length > 0 && Date.now() - writer.ackTimes[0] >= o.writeSeconds * 1000
        ? true
        : undefined,
    );
    await Promise.all(before.instances.map((i) => fleet.ok('kill', i.id, '--wipe')));
    const lossAt = Date.now();
    const after = await until(
      'a converged, restored cluster after the total loss',
      o.convergeSeconds,
      async () => {
        const st = await fleet.status();
        return st.converged && st.clusterId !== before.clusterId ? st : undefined;
      },
    );
    return { after, lossAt };
  } finally {
    await writer.stop();
  }
}
