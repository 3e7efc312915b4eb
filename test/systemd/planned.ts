/*
 * How the first-boot test (./first-boot.test.ts) judges the planned-change parts of the units (issue 15): who
 * leads (Debian's etcdctl `endpoint status`), and what a box's journal says, in order, about the handoff at a
 * stop and etcd's own shutdown.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EtcdExampleStack } from '../../bin/example-stack';
import { Box } from './box';
import { BoxInstance, BoxWorld, etcdctl, resolve } from './judge';

/** The example stack's user data (unresolved), the rollout signal target its agent config names, the group's id. */
export function exampleStack(
  etcdVersion: string,
  bucket: string,
): {
  userData: unknown;
  signalTarget: { stackName: string; logicalResourceId: string };
  groupLogicalId: string;
} {
  const stack = new EtcdExampleStack(new App(), 'EtcdExampleStack', { etcdVersion });
  const template = Template.fromStack(stack);
  const lts = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
  if (lts.length !== 1) throw new Error(`expected one launch template, found ${lts.length}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const userData = (lts[0] as any).Properties.LaunchTemplateData.UserData['Fn::Base64'];
  const rendered = JSON.parse(resolve(userData, { EtcdTlsCaSecret: 'ca', EtcdBackupBucket: bucket }));
  const file = rendered.storage.files.find((f: { path: string }) => f.path === '/etc/etcd-agent/config.json');
  const config = JSON.parse(decodeURIComponent(file.contents.source.slice('data:,'.length)));
  const [groupLogicalId] = Object.keys(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
  return { userData, signalTarget: config.rolloutSignal, groupLogicalId };
}

/** One endpoint's view: its member id and the leader it follows (hex, as etcdctl's ids exceed 2^53). */
export interface EndpointView {
  readonly endpoint: string;
  readonly memberId: string;
  readonly leader: string;
}

/** `etcdctl endpoint status -w json` of `endpoints` (default: every box): the endpoints that answered. */
export async function endpointViews(world: BoxWorld, endpoints?: string[]): Promise<EndpointView[]> {
  const r = await etcdctl(world, ['endpoint', 'status', '-w', 'json'], endpoints);
  const views: EndpointView[] = [];
  // Read as text: the ids are uint64 (JSON.parse would round them).
  for (const m of r.out.matchAll(/"Endpoint":"([^"]+)".*?"member_id":(\d+).*?"leader":(\d+)/g)) {
    views.push({
      endpoint: m[1],
      memberId: BigInt(m[2]).toString(16),
      leader: BigInt(m[3]).toString(16),
    });
  }
  return views;
}

/** The box whose member leads, when every endpoint answers and all agree. */
export async function leaderBox(world: BoxWorld): Promise<{ leader: BoxInstance; views: EndpointView[] }> {
  const views = await endpointViews(world);
  const leaders = new Set(views.map((v) => v.leader));
  if (views.length !== world.boxes.length || leaders.size !== 1) {
    throw new Error(`no agreed leader: ${JSON.stringify(views)}`);
  }
  const [id] = [...leaders];
  const view = views.find((v) => v.memberId === id)!;
  const leader = world.boxes.find((b) => view.endpoint === `https://${b.ip}:2379`)!;
  return { leader, views };
}

/** The lines of `units` in `boot` (0: the current one, -1: the one before), in the journal's order. */
export async function journalLines(box: Box, units: string[], boot = '0'): Promise<string[]> {
  const args = ['journalctl', '-b', boot, '--no-pager', '-o', 'cat', ...units.flatMap((u) => ['-u', u])];
  return (await box.exec(args, 60_000)).stdout.split('\n');
}

/** Index of the first line from `from` on matching `re`, or -1. */
function firstIndex(lines: string[], re: RegExp, from = 0): number {
  const i = lines.slice(Math.max(0, from)).findIndex((l) => re.test(l));
  return i < 0 ? -1 : i + Math.max(0, from);
}

/**
 * Where in a box's etcd-handoff + etcd-member journal lines (in order; -1: absent) the agent's handoff decided
 * (and that line) and moved leadership, and where etcd's stop began (systemd's "Stopping" or etcd's signal
 * line). etcd's own graceful stop (EtcdServer.Stop → TransferLeadership; etcd 3.4 logs with capnslog or zap)
 * transfers leadership itself when it still leads at SIGTERM, or logs that it skipped that (not the leader).
 */
export function stopOrder(lines: string[]) {
  const decided = firstIndex(lines, /leader handoff/);
  const etcdStopping = firstIndex(lines, /^Stopping etcd-member\.service|received (terminated )?signal/);
  return {
    decided,
    decision: decided >= 0 ? lines[decided] : '',
    moved: firstIndex(lines, /leadership moved/),
    etcdStopping,
    // Only etcd's stop counts: the handoff's MoveLeader logs the same "leadership transfer" lines before it.
    etcdSkipped: etcdStopping < 0 ? -1 : firstIndex(lines, /skipped leadership transfer/, etcdStopping),
    etcdOwnTransfer:
      etcdStopping < 0
        ? -1
        : firstIndex(lines, /starts? leadership transfer|leadership transfer starting/, etcdStopping),
  };
}

/** What `systemctl stop etcd-member.service` on the leader's box did, seen from outside and in its journal. */
export interface LeaderStop {
  readonly leader: BoxInstance;
  readonly stop: { status: number | null; stderr: string };
  /** etcd-handoff.service's state before and after the stop. */
  readonly handoffBefore: string;
  readonly handoffAfter: string;
  /** The leaders the other endpoints reported while the stop ran ('a,b' per sample; '0': none). */
  readonly seen: string[];
  /** The other endpoints' views after the stop. */
  readonly after: EndpointView[];
  /** The box's etcd-handoff and etcd-member journal lines of this boot, in order. */
  readonly lines: string[];
}

/** Stops etcd-member on the box whose member leads, sampling the other endpoints' leader meanwhile. */
export async function stopLeader(world: BoxWorld): Promise<LeaderStop> {
  const { leader } = await leaderBox(world);
  const { box } = leader;
  const others = world.boxes.filter((b) => b !== leader).map((b) => `https://${b.ip}:2379`);
  const state = async () =>
    (await box.exec(['systemctl', 'is-active', 'etcd-handoff.service'])).stdout.trim();
  const handoffBefore = await state();
  let stopping = true;
  const seen: string[] = [];
  const sampler = (async () => {
    while (stopping) seen.push((await endpointViews(world, others)).map((v) => v.leader).join(','));
  })();
  const stop = await box.exec(['systemctl', 'stop', 'etcd-member.service'], 90_000);
  stopping = false;
  await sampler;
  // The others' views once both answered and agree (at most 5 s; the last views otherwise).
  let after = await endpointViews(world, others);
  for (let i = 0; i < 25 && (after.length !== 2 || after[0].leader !== after[1].leader); i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = await endpointViews(world, others);
  }
  process.stderr.write(
    `[systemd box] stop of the leader ${box.name}: ${seen.length} samples of the others' leaders ` +
      `(distinct: ${[...new Set(seen)].join(' | ')}); after: ${JSON.stringify(after)}\n`,
  );
  return {
    leader,
    stop,
    handoffBefore,
    handoffAfter: await state(),
    seen,
    after,
    lines: await journalLines(box, ['etcd-handoff.service', 'etcd-member.service']),
  };
}

/** Each box's rollout signals (status, accepted, stack, resource) and whether the first came after its launch. */
export function signalsByBox(world: BoxWorld, launched: Record<string, number>) {
  const signals = world.standIn!.signalBoard!.signals;
  return world.boxes.map((b) => {
    const own = signals.filter((x) => x.uniqueId === b.id);
    return {
      id: b.id,
      signals: own.map((x) => [x.status, x.accepted, x.stackName, x.logicalResourceId]),
      afterLaunch: own.length > 0 && launched[b.id] !== undefined && own[0].at >= launched[b.id],
    };
  });
}

/** Flatcar's update units as systemd sees them in the box, and the settings lines of update.conf. */
export async function osUpdateState(box: Box): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const unit of ['update-engine.service', 'locksmithd.service']) {
    const enabled = (await box.exec(['systemctl', 'is-enabled', unit])).stdout.trim();
    const start = await box.exec(['systemctl', 'start', unit]);
    state[unit] = {
      enabled,
      start:
        start.status === 0 ? 'started' : `refused: ${/masked/.test(start.stderr) ? 'masked' : start.stderr}`,
    };
  }
  state.conf = box
    .read('/etc/flatcar/update.conf')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  return state;
}
