/*
 * bootstrapN: `etcd-fleet up --size N` against N plain etcd processes started at once with a static
 * --initial-cluster. Each start is timed twice: to the first leader (the first "became leader at term T"
 * in the members' etcd logs) and to all-healthy (fleet: the CLI returned converged; floor: /health of
 * every endpoint true). The first election decides the mode (lib/fleet.ts `election`): fast when the
 * leader came within SLOW_ELECTION_MS of the quorum-th etcd's start (a member fast-forwarded its election
 * ticks in time), slow otherwise (a full randomized election timeout, or a late tick advance). That is
 * what made the static floor bimodal (0.24-0.67 s or 2.7-3.3 s). Figures are compared like with
 * like: the headline ratio is to all-healthy, fleet runs of the mode most of them had against floor runs
 * of the same mode; both timings per mode and over all runs are reported beside it.
 */
import type { TestFleet } from '../../test/fleet/harness';
import { compare, Comparison } from './compare';
import { agentLines, down, election, Election, newFleet } from './fleet';
import { StaticCluster } from './etcd-static';
import { log, medianOfKeys, r3, rmTemp, tempDir } from './util';

type Mode = 'fast' | 'slow';

/** One start, either side: seconds to the first leader and to all-healthy, and how the election went. */
export interface BootRun {
  leaderS: number | null;
  healthyS: number;
  mode: Mode | null;
  term: number | null;
  /** From the start of the quorum-th etcd to the first leader. */
  electionMs: number | null;
  /** A member fast-forwarded its election ticks before the leader (for the record). */
  advanced: boolean | null;
}

function run(t0: number, healthyMs: number, e: Election | null): BootRun {
  return {
    leaderS: e && (e.leaderAt - t0) / 1000,
    healthyS: healthyMs / 1000,
    mode: e && (e.slow ? 'slow' : 'fast'),
    advanced: e?.advanced ?? null,
    term: e?.term ?? null,
    electionMs: e?.electionMs ?? null,
  };
}

/** Per-phase ms of one `up`, from the supervisor's and the agents' logs. */
function bootPhases(f: TestFleet, t0: number, t1: number, leaderAt: number | null) {
  const sup = f.supervisorLines();
  const first = (m: string) => sup.find((l) => l.message === m)?.t;
  const last = (m: string) => sup.filter((l) => l.message === m).pop()?.t;
  const agents = agentLines(f).map((a) => a.lines);
  const written = agents.map((ls) => ls.find((l) => l.message === 'settings written')).filter((w) => w?.t);
  const mainStarts = written.map((w) => (w?.t as number) - Number(w?.ms));
  const firstMain = Math.min(...mainStarts);
  // identity → first plan line, per agent: the first observation (describe group, member list, health)
  const firstObserve = agents.map((ls) => {
    const id = ls.find((l) => l.message === 'identity')?.t;
    const p = ls.find((l) => l.message === 'plan')?.t;
    return id && p ? p - id : 0;
  });
  const lastWritten = Math.max(...written.map((w) => w?.t as number));
  const [started, launched] = [first('fleet started'), first('launched')];
  const [firstEtcd, lastEtcd, lastInService] = [
    first('etcd started'),
    last('etcd started'),
    last('launch completed: InService'),
  ];
  const diff = (a?: number | null, b?: number | null) => (a && b ? a - b : null);
  return {
    cliToSupervisorReady: diff(started, t0),
    supervisorToFirstLaunch: diff(launched, started),
    launchToAgentMain: diff(firstMain, launched),
    agentJoinsDone: lastWritten - firstMain,
    toLastEtcdStarted: diff(lastEtcd, lastWritten),
    firstEtcdToLeader: diff(leaderAt, firstEtcd),
    etcdToAllInService: diff(lastInService, lastEtcd),
    inServiceToCliReturn: diff(t1, lastInService),
    slowestFirstObserve: Math.max(...firstObserve),
    planWaits: agents.reduce(
      (n, ls) => n + ls.filter((l) => l.message === 'plan' && l.step === 'wait').length,
      0,
    ),
  };
}

async function fleetStart(size: number, phases: Record<string, unknown>[]): Promise<BootRun> {
  const f = newFleet(`boot${size}`);
  try {
    const t0 = Date.now();
    await f.okWithin(600_000, 'up', '--size', String(size), '--json');
    const t1 = Date.now();
    const e = election(Object.values(f.instanceLogs('etcd.log')));
    phases.push(bootPhases(f, t0, t1, e?.leaderAt ?? null));
    return run(t0, t1 - t0, e);
  } finally {
    await down(f);
  }
}

async function staticStart(size: number): Promise<BootRun> {
  const dir = tempDir(`static${size}`);
  const c = new StaticCluster(size, dir);
  try {
    const s = await c.start();
    return run(s.t0, s.healthyMs, s.election);
  } finally {
    await c.stop();
    rmTemp(dir);
  }
}

/** Both timings of fleet against floor over the given runs. */
function figures(fleet: BootRun[], floor: BootRun[]): { toLeader: Comparison; toHealthy: Comparison } {
  const leaders = (rs: BootRun[]) => rs.map((r) => r.leaderS).filter((x): x is number => x !== null);
  const healthy = (rs: BootRun[]) => rs.map((r) => r.healthyS);
  return {
    toLeader: compare(leaders(fleet), leaders(floor), r3),
    toHealthy: compare(healthy(fleet), healthy(floor), r3),
  };
}

const inMode = (m: Mode) => (r: BootRun) => r.mode === m;

/**
 * `reps` alternated fleet and floor starts; then more floor starts (at most 3 x reps) until the floor has
 * `reps` runs in the mode most fleet runs had, so the like-with-like ratio has a floor to compare with.
 */
export async function benchBootstrap(size: number, reps: number) {
  const fleet: BootRun[] = [];
  const floor: BootRun[] = [];
  const phases: Record<string, unknown>[] = [];
  const show = (r: BootRun) =>
    `${r.leaderS?.toFixed(2)} / ${r.healthyS.toFixed(2)} s (${r.mode}, election ${r.electionMs} ms, term ${r.term})`;
  for (let i = 0; i < reps; i++) {
    fleet.push(await fleetStart(size, phases));
    floor.push(await staticStart(size));
    log(`bootstrap${size} ${i + 1}: leader / healthy: fleet ${show(fleet[i])}, static ${show(floor[i])}`);
  }
  const mode: Mode =
    fleet.filter(inMode('fast')).length >= fleet.filter(inMode('slow')).length ? 'fast' : 'slow';
  for (let extra = 0; floor.filter(inMode(mode)).length < reps && extra < 3 * reps; extra++) {
    floor.push(await staticStart(size));
    log(`bootstrap${size} extra static (for ${mode} mode): ${show(floor[floor.length - 1])}`);
  }
  const like = figures(fleet.filter(inMode(mode)), floor.filter(inMode(mode)));
  return {
    /** The headline: to all-healthy, fleet runs of the fleet's majority election mode against floor runs of it. */
    ratio: like.toHealthy.ratio,
    seconds: like.toHealthy.seconds,
    floorSeconds: like.toHealthy.floorSeconds,
    mode,
    sameMode: like,
    fast: figures(fleet.filter(inMode('fast')), floor.filter(inMode('fast'))),
    slow: figures(fleet.filter(inMode('slow')), floor.filter(inMode('slow'))),
    // the definition before like-with-like: every paired run, whatever its mode (no extra floor starts)
    allRuns: figures(fleet, floor.slice(0, reps)),
    fleetRuns: fleet,
    floorRuns: floor,
    phasesMs: medianOfKeys(phases),
  };
}
