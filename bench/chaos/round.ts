/*
 * One round of the chaos run: inject the planned fault through the etcd-fleet CLI, wait until the fleet
 * converged, and check the round (one cluster id, the desired size, the fault's own expectations).
 */
import type { InstanceStatus } from '../../fleet/types';
import type { StatusJson, TestFleet, Writer } from '../../test/fleet/harness';
import type { ChaosOptions, Disruption, PlanStep, RoundRow } from './types';

/** Seconds between scheduled reconciles of the chaos fleet (`up --reconcile-interval`). */
export const RECONCILE_INTERVAL_S = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ipKey = (ip: string) =>
  ip
    .split('.')
    .map((x) => x.padStart(3, '0'))
    .join('.');

/** The instances a round can target: InService, sorted by IP (deterministic positions). */
export const targetable = (s: StatusJson): InstanceStatus[] =>
  s.instances
    .filter((i) => i.lifecycleState === 'InService')
    .sort((a, b) => (ipKey(a.ip) < ipKey(b.ip) ? -1 : ipKey(a.ip) > ipKey(b.ip) ? 1 : 0));

export interface RoundContext {
  fleet: TestFleet;
  writer: Writer;
  o: ChaosOptions;
  disruptions: Disruption[];
  /** The cluster id the fleet must have; a total-loss round's restore changes it. */
  clusterId: string;
}

/** Runs one round's fault; returns when the fault is in place (or healed, for freeze/thaw and reboot). */
class Round {
  /** When the last fault healed: convergence is counted from here. */
  healAt = Date.now();
  private readonly T: string;
  private readonly tMs: number;

  constructor(
    private readonly ctx: RoundContext,
    private readonly step: PlanStep,
    private readonly row: RoundRow,
    private readonly s0: StatusJson,
  ) {
    this.T = String(ctx.o.convergeTimeout);
    this.tMs = (ctx.o.convergeTimeout + 60) * 1000;
  }

  down(id: string, until = Infinity): Disruption {
    const inst = this.s0.instances.find((i) => i.id === id);
    const d = {
      id,
      ip: inst?.ip ?? '',
      leader: Boolean(inst?.leader),
      from: Date.now(),
      to: until,
      round: this.step.round,
    };
    this.ctx.disruptions.push(d);
    return d;
  }

  async must(...args: string[]): Promise<string> {
    const r = await this.ctx.fleet.run(args, this.tMs);
    if (r.code !== 0)
      throw new Error(`etcd-fleet ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    return r.stdout;
  }

  async mustJson<T = StatusJson>(...args: string[]): Promise<T> {
    return JSON.parse(await this.must(...args)) as T;
  }

  async terminate(id: string): Promise<void> {
    const out = await this.mustJson<{ result: string }>('terminate', id, '--json', '--timeout', this.T);
    if (out.result !== 'terminated')
      this.row.problems.push(`terminate ${id}: ${out.result} (no other fault was active)`);
  }

  async inject(targets: InstanceStatus[]): Promise<void> {
    const { step, row } = this;
    const [first] = targets;
    switch (step.fault) {
      case 'terminate':
        this.down(first.id);
        return this.terminate(first.id);
      case 'terminate-two':
        for (const t of targets) this.down(t.id);
        await Promise.all(targets.map((t) => this.terminate(t.id)));
        return;
      case 'kill':
      case 'kill-wipe':
        this.down(first.id);
        await this.must('kill', first.id, ...(step.fault === 'kill-wipe' ? ['--wipe'] : []));
        return;
      case 'freeze-thaw': {
        const d = this.down(first.id);
        await this.must('freeze', first.id);
        await sleep((step.params.freezeSeconds ?? 2) * 1000);
        await this.must('thaw', first.id);
        d.to = this.healAt = Date.now();
        return;
      }
      case 'reboot': {
        const d = this.down(first.id);
        const after = await this.mustJson('reboot', first.id, '--json', '--timeout', this.T);
        d.to = Date.now();
        const again = after.instances.find((i) => i.id === first.id);
        if (!again || again.memberId !== first.memberId)
          row.problems.push(`reboot changed the member id (${first.memberId} -> ${again?.memberId})`);
        return;
      }
      case 'scale':
        await this.must('scale', String(step.params.toSize), '--json', '--timeout', this.T);
        return;
      case 'total-loss':
        return this.totalLoss(targets);
      case 'retained-thaw':
        return this.retainedThaw(targets[0], targets[1]);
      case 'lose-add-reply':
        await this.must('fault', 'lose-add-reply');
        if (step.params.then === 'scale-up')
          await this.must('scale', String(step.params.toSize), '--json', '--timeout', this.T);
        else {
          this.down(first.id);
          await this.must('kill', first.id);
        }
        return;
    }
  }

  /**
   * FAILURE-SCENARIOS 13: a backup covering every acknowledged write (the writer pauses), then every
   * instance kill --wipe. The automatic policy must restore it; a new, empty cluster would lose every key
   * (the read-back at the end), a new cluster id is expected.
   */
  private async totalLoss(targets: InstanceStatus[]): Promise<void> {
    const { ctx } = this;
    await ctx.writer.pause();
    try {
      const b = await this.mustJson<{ ok: boolean; reason?: string }>('backup');
      if (!b.ok) throw new Error(`backup failed: ${b.reason}`);
      for (const t of targets) {
        this.down(t.id);
        await this.must('kill', t.id, '--wipe');
      }
      const w0 = Date.now();
      const deadline = w0 + ctx.o.convergeTimeout * 1000;
      let st: StatusJson;
      for (;;) {
        st = await this.mustJson('status', '--json');
        if ((st.converged && st.clusterId !== ctx.clusterId) || Date.now() > deadline) break;
        await sleep(500);
      }
      if (st.converged && st.clusterId !== ctx.clusterId) {
        const s = ((Date.now() - w0) / 1000).toFixed(1);
        this.row.notes.push(`restored: cluster ${ctx.clusterId} -> ${st.clusterId} in ${s} s`);
        ctx.clusterId = st.clusterId;
      }
    } finally {
      ctx.writer.resume();
    }
  }

  /**
   * FAILURE-SCENARIOS 15: freeze one, terminate another (retained), the replacement removes the frozen
   * member, thaw: the reconcile must finish the retained termination and all converge.
   */
  private async retainedThaw(frozen: InstanceStatus, retained: InstanceStatus): Promise<void> {
    const d = this.down(frozen.id);
    this.down(retained.id);
    await this.must('freeze', frozen.id);
    try {
      const out = await this.mustJson<{ result: string }>(
        'terminate',
        retained.id,
        '--json',
        '--timeout',
        this.T,
      );
      if (out.result !== 'retained')
        this.row.notes.push(`terminate ${retained.id}: ${out.result}, not retained`);
      const deadline = Date.now() + this.ctx.o.convergeTimeout * 1000;
      for (;;) {
        const st = await this.mustJson('status', '--json');
        const f = st.instances.find((i) => i.id === frozen.id);
        if (!f || f.memberId === '' || Date.now() > deadline) break;
        await sleep(500);
      }
    } finally {
      await this.must('thaw', frozen.id);
      d.to = this.healAt = Date.now();
    }
  }

  /** After `wait` converged: the checks that depend on the fault. */
  async checkConverged(s1: StatusJson): Promise<void> {
    const { step, row, ctx } = this;
    if (!/^[0-9a-f]+$/.test(s1.clusterId) || s1.clusterId !== ctx.clusterId)
      row.problems.push(`cluster id ${s1.clusterId} (expected ${ctx.clusterId})`);
    const expectSize = step.params.toSize ?? step.size;
    if (s1.desired !== expectSize) row.problems.push(`desired ${s1.desired} != ${expectSize}`);
    if (step.fault === 'retained-thaw') {
      // The reconcile removes the retained member, then terminates the instance: `wait` may return
      // between the two. Bounded: 10 reconcile intervals.
      const until = Date.now() + 10 * RECONCILE_INTERVAL_S * 1000;
      let r = s1.instances.find((i) => i.id === row.targetIds[1]);
      while (r && Date.now() < until) {
        await sleep(500);
        r = (await this.mustJson('status', '--json')).instances.find((i) => i.id === row.targetIds[1]);
      }
      if (r) row.problems.push(`retained instance ${r.id} still there (${r.lifecycleState})`);
      else row.notes.push('retained termination finished');
    }
    if (step.fault === 'lose-add-reply') {
      const logs = ctx.fleet.agentLogs();
      const fresh = s1.instances.filter((i) => !this.s0.instances.some((x) => x.id === i.id));
      const faulty = fresh
        .map((i) => logs[i.id] ?? '')
        .find((l) => l.includes('simulated: member add reply lost'));
      if (!faulty) row.notes.push('lost add reply not exercised (no add by the new instance)');
      else {
        // the fault preload (fleet/faults/lose-add-reply.ts) logs every MemberAdd the agent sends; none may
        // follow the committed add whose reply was dropped (earlier ones were refused by etcd, nothing added)
        const after = faulty.slice(faulty.indexOf('simulated: member add reply lost'));
        const adds = 1 + (after.match(/"message":"fault: MemberAdd sent"/g) || []).length;
        if (adds !== 1) row.problems.push(`the instance with the lost add reply added itself ${adds} times`);
        else row.notes.push('lost add reply: retried, own entry reused');
      }
    }
  }
}

/** A fresh report row for a step. */
export const newRow = (step: PlanStep): RoundRow => ({
  ...step,
  targetIds: [],
  targetText: '',
  problems: [],
  notes: [],
  convergeSeconds: null,
  acked: 0,
  writeFailures: 0,
  maxWindowSeconds: 0,
});

/** Runs one round into `row`: fault, `wait` for convergence, checks. Problems are recorded, not thrown. */
export async function runRound(ctx: RoundContext, step: PlanStep, row: RoundRow): Promise<void> {
  const T = String(ctx.o.convergeTimeout);
  try {
    const s0 = await ctx.fleet.status();
    const list = targetable(s0);
    if (list.length !== step.size) row.notes.push(`size ${list.length} != planned ${step.size}`);
    const targets = step.targets.map((i) => list[i % list.length]);
    row.targetIds = targets.map((t) => t.id);
    row.targetText = targets
      .map((t, k) => `#${step.targets[k]} ${t.ip}${t.leader ? ' (leader)' : ''}`)
      .join(', ');
    const round = new Round(ctx, step, row, s0);
    await round.inject(targets);
    const w = await ctx.fleet.run(['wait', '--timeout', T, '--json'], (ctx.o.convergeTimeout + 60) * 1000);
    const waitedSeconds = (Date.now() - round.healAt) / 1000;
    if (w.code !== 0) {
      row.problems.push(`not converged within ${T} s: ${w.stderr.trim().slice(0, 200)}`);
      row.converged = false;
    } else {
      row.converged = true;
      row.convergeSeconds = waitedSeconds;
      await round.checkConverged(JSON.parse(w.stdout) as StatusJson);
    }
  } catch (err) {
    row.problems.push(String((err as Error).message ?? err).slice(0, 400));
  }
}
