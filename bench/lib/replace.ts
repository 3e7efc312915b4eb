/*
 * replace: `etcd-fleet terminate` of a non-leader (1 of 3) until the fleet converged again, against the
 * manual runbook on a static 3-member etcd; optionally with a keyspace loaded first. Also the agent joins
 * of these fleets (and of scale 3 → 4 → 3 cycles) for the agent overhead figure.
 */
import { fill, StatusJson, TestFleet } from '../../test/fleet/harness';
import { compare } from './compare';
import { agentLines, collectJoins, down, joinOf, joins, newFleet } from './fleet';
import { StaticCluster } from './etcd-static';
import { log, median, medianOfKeys, r2, rmTemp, sleep, tempDir } from './util';

/**
 * Untimed pause before each replacement (fleet and floor alike): etcd's strict reconfig check refuses a
 * member remove until the remaining members have been connected for 5 s, so back-to-back replacements
 * would measure that guard, not the replacement. Every replacement starts from a settled cluster.
 */
const SETTLE_MS = 6000;
const VALUE_BYTES = 100 * 1024;

const loadKeyspace = (endpoints: string[], mb: number) =>
  fill(endpoints, mb, { prefix: 'bench/fill', valueBytes: VALUE_BYTES });

/** Per-phase ms of one fleet replacement, from the supervisor's and the heir's logs. */
function replacePhases(f: TestFleet, victim: string, heir: string | undefined, t0: number, t1: number) {
  const sup = f.supervisorLines();
  const at = (m: string, id?: string) => sup.find((l) => l.message === m && l.id === id)?.t;
  const heirLines = agentLines(f).find((a) => a.id === heir)?.lines ?? [];
  const j = joinOf(heirLines);
  const marks: [string, number | undefined][] = [
    ['cliToTerminating', at('terminating', victim)],
    ['lambdaRemove', at('terminate lifecycle action completed', victim)],
    ['stopOldEtcd', at('terminated', victim)],
    ['launchTick', at('launched', heir)],
    ['agentNodeStartup', j?.mainStart],
    ['agentJoin', j ? j.mainStart + j.joinMs : undefined],
    ['etcdSpawn', at('etcd started', heir)],
    ['etcdStartToPromoted', heirLines.find((l) => l.message === 'promoted to voter')?.t],
    ['promotedToInService', at('launch completed: InService', heir)],
    ['inServiceToConverged', t1],
  ];
  const out: Record<string, number | null> = {};
  let prev = t0;
  for (const [name, t] of marks) {
    out[name] = typeof t === 'number' ? t - prev : null;
    if (typeof t === 'number') prev = t;
  }
  if (j)
    Object.assign(out, {
      agentResolve: j.resolveMs,
      agentIdentityToAdded: j.identityToAddedMs,
      agentPlanWaits: j.waits.length,
    });
  return out;
}

/** `reps` runs of `one`, each after the untimed settle pause. */
async function settled<T>(reps: number, one: () => Promise<T>): Promise<T[]> {
  const runs: T[] = [];
  for (let i = 0; i < reps; i++) {
    await sleep(SETTLE_MS);
    runs.push(await one());
  }
  return runs;
}

async function fleetReplace(f: TestFleet) {
  const s = await f.status();
  const victim = s.instances.find((x) => !x.leader && x.lifecycleState === 'InService');
  if (!victim) throw new Error(`no non-leader InService instance: ${JSON.stringify(s)}`);
  const before = new Set(s.instances.map((x) => x.id));
  const t0 = Date.now();
  const out = await f.json<StatusJson & { result: string }>('terminate', victim.id, '--json');
  const t1 = Date.now();
  if (out.result !== 'terminated' || !out.converged) throw new Error(`terminate: ${JSON.stringify(out)}`);
  const heir = out.instances.find((x) => !before.has(x.id));
  const phases = replacePhases(f, victim.id, heir?.id, t0, t1);
  collectJoins(f);
  return {
    seconds: (t1 - t0) / 1000,
    toInService: (t1 - t0 - (phases.inServiceToConverged ?? 0)) / 1000,
    phases,
  };
}

async function floorReplace(c: StaticCluster) {
  const leader = await c.leaderName();
  const victim = c.members.find((m) => m.name !== leader);
  if (!victim) throw new Error('no non-leader member');
  const t0 = Date.now();
  const steps = await c.replace(victim);
  return { seconds: (Date.now() - t0) / 1000, steps };
}

/** More joins for the agent figure: one instance at a time (3 → 4 → 3), so no join waits for another. */
export async function topUpJoins(f: TestFleet, wanted: number): Promise<void> {
  for (let k = 0; joins.size < wanted && k < 40; k++) {
    await f.ok('scale', '4', '--json');
    collectJoins(f);
    await f.ok('scale', '3', '--json');
  }
}

export async function benchReplace(logSeconds: number, mb: number, reps: number, joinsWanted: number) {
  const f = newFleet(`replace${mb}`);
  let fleetRuns;
  let fillMs;
  try {
    await f.up('--size', '3', '--incremental-seconds', String(logSeconds));
    fillMs = (await loadKeyspace((await f.status()).endpoints, mb)).ms;
    fleetRuns = await settled(reps, () => fleetReplace(f));
    await topUpJoins(f, joinsWanted);
  } finally {
    // BENCH_LOG_DIR: the fleet's logs (supervisor, Lambda, every instance) kept for a look at a figure.
    if (process.env.BENCH_LOG_DIR) log(f.copyLogs(`${process.env.BENCH_LOG_DIR}/replace${mb}-${Date.now()}`));
    await down(f);
  }
  const sdir = tempDir(`floor${mb}`);
  const c = new StaticCluster(3, sdir);
  let floorRuns;
  try {
    await c.start();
    await loadKeyspace(c.endpoints, mb);
    floorRuns = await settled(reps, () => floorReplace(c));
  } finally {
    await c.stop();
    rmTemp(sdir);
  }
  const cmp = compare(
    fleetRuns.map((r) => r.seconds),
    floorRuns.map((r) => r.seconds),
  );
  log(`replace ${mb} MB: fleet ${cmp.runs.join(' ')} | floor ${cmp.floorRuns.join(' ')}`);
  return {
    ...cmp,
    keyspaceMB: mb,
    incrementalLogSeconds: logSeconds,
    fillMs,
    // terminate → replacement InService (the fleet's convergence check, two observations apart, excluded)
    secondsToInService: r2(median(fleetRuns.map((r) => r.toInService))),
    phasesMs: medianOfKeys(fleetRuns.map((r) => r.phases)),
    floorStepsMs: medianOfKeys(floorRuns.map((r) => r.steps)),
  };
}

/** Joins in a fresh 3-instance fleet until `wanted` joins were seen in this run. */
export async function joinsFleet(wanted: number): Promise<void> {
  const f = newFleet('joins');
  try {
    await f.up('--size', '3');
    await topUpJoins(f, wanted);
  } finally {
    await down(f);
  }
}
