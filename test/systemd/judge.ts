/*
 * How the first-boot test (./first-boot.test.ts) judges the boxes: Debian's etcdctl against the boxes'
 * endpoints with the fleet CA's client identity, the stand-in's lifecycle states, the boxes' journals; and
 * the CloudFormation references of the launch template's user data resolved as CloudFormation would.
 */
import { AwsStandIn } from '../../fleet/standin';
import { FleetTls } from '../../fleet/tls';
import * as fs from 'fs';
import * as path from 'path';
import { Box, runAsync, STANDINS } from './box';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

export interface BoxInstance {
  box: Box;
  id: string;
  ip: string;
}

/** What the judge reads; filled by the test's beforeAll. */
/** The first-boot test's timings (s since its start), by step. */
const t0 = Date.now();
export const timings: Record<string, number> = {};
export function mark(name: string): void {
  timings[name] = Math.round((Date.now() - t0) / 100) / 10;
}

export interface BoxWorld {
  boxes: BoxInstance[];
  tls?: FleetTls;
  standIn?: AwsStandIn;
}

/** The launch template's user data, its references resolved as CloudFormation would here. */
export function resolve(value: unknown, refs: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::AccountId': ACCOUNT,
      'AWS::Region': REGION,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const r =
      pseudo[v.Ref] ?? Object.entries(refs).find(([prefix]) => (v.Ref as string).startsWith(prefix))?.[1];
    if (r === undefined) throw new Error(`user data: no value for Ref ${v.Ref}`);
    return r;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [delimiter, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolve(p, refs)).join(delimiter);
  }
  if (typeof v['Fn::Sub'] === 'string') {
    return (v['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
      resolve({ Ref: name }, refs),
    );
  }
  throw new Error(`user data: unexpected intrinsic ${JSON.stringify(value)}`);
}

export async function etcdctl(
  world: BoxWorld,
  args: string[],
  endpoints?: string[],
): Promise<{ status: number | null; out: string }> {
  const tls = world.tls!;
  const eps = endpoints ?? world.boxes.map((b) => `https://${b.ip}:2379`);
  const r = await runAsync(
    'etcdctl',
    [
      `--endpoints=${eps.join(',')}`,
      `--cacert=${tls.files.ca}`,
      `--cert=${tls.files.cert}`,
      `--key=${tls.files.key}`,
      '--dial-timeout=2s',
      '--command-timeout=5s',
      ...args,
    ],
    { env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 20_000 },
  );
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export interface MemberRow {
  id: string;
  status: string;
  name: string;
  peerURL: string;
  isLearner: boolean;
}

/** `etcdctl member list -w simple`: id (hex), status, name, peer URLs, client URLs, is learner. */
export async function memberList(world: BoxWorld): Promise<MemberRow[] | undefined> {
  const r = await etcdctl(world, ['member', 'list', '-w', 'simple']);
  if (r.status !== 0) return undefined;
  return r.out
    .trim()
    .split('\n')
    .filter((l) => /^[0-9a-f]+, /.test(l))
    .map((l) => {
      const [id, status, name, peerURL, , isLearner] = l.split(', ');
      return { id, status, name, peerURL, isLearner: isLearner === 'true' };
    });
}

async function healthyEndpoints(world: BoxWorld): Promise<number> {
  const r = await etcdctl(world, ['endpoint', 'health']);
  return (r.out.match(/ is healthy: /g) ?? []).length;
}

export function memberOf(ip: string, list: MemberRow[]): MemberRow | undefined {
  return list.find((m) => m.peerURL === `https://${ip}:2380`);
}

/** 3 started voters, one per box, every endpoint healthy, every instance InService. */
export async function converged(world: BoxWorld): Promise<string> {
  const { boxes } = world;
  const list = await memberList(world);
  if (!list) return 'no member list';
  if (list.length !== 3) return `${list.length} members`;
  if (list.some((m) => m.status !== 'started' || m.isLearner)) return 'a learner or unstarted member';
  if (boxes.some((b) => !memberOf(b.ip, list))) return 'a box has no member';
  const healthy = await healthyEndpoints(world);
  if (healthy !== 3) return `${healthy} healthy endpoints`;
  const notInService = boxes.filter((b) => world.standIn!.getInstance(b.id)?.lifecycleState !== 'InService');
  if (notInService.length) return `not InService: ${notInService.map((b) => b.box.name).join(', ')}`;
  return '';
}

export async function waitFor(
  world: BoxWorld,
  what: string,
  check: () => Promise<string>,
  seconds: number,
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let last = '';
  while (Date.now() < deadline) {
    last = await check();
    if (last === '') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const journals: string[] = [];
  for (const b of world.boxes) {
    const j = b.box.running ? (await b.box.journal()).split('\n').slice(-80).join('\n') : '(not running)';
    journals.push(`==== ${b.box.name}\n${j}`);
  }
  throw new Error(`${what}: not within ${seconds} s (${last})\n${journals.join('\n')}`);
}

/** How often a unit was started in the box's current boot (systemd's own "Starting" lines). */
export async function starts(box: Box, unit: string): Promise<number> {
  const out = (await box.exec(['journalctl', '-b', '0', '--no-pager', '-o', 'cat', '-u', unit])).stdout;
  return out.split('\n').filter((l) => l.startsWith('Starting ') || / Starting /.test(l)).length;
}

/** Endpoints and credentials of the AWS stand-ins that a box's processes reach. */
export interface BoxAws {
  standInEndpoint: string;
  s3Endpoint: string;
  metadataEndpoint: string;
  key: string;
}

/**
 * Puts the stand-ins of test/systemd/box/ in a box's root (Flatcar's units and wrappers, docker, the data
 * volume, the etcd user), the instance metadata and the AWS endpoints of /etc/docker-shim/env.
 */
export function installStandIns(box: Box, id: string, ip: string, index: number, aws: BoxAws): void {
  const copy = (name: string, dest: string, mode = 0o644) =>
    box.write(dest, fs.readFileSync(path.join(STANDINS, name), 'utf8'), mode);
  copy('docker', '/usr/bin/docker', 0o755);
  copy('etcd-wrapper', '/usr/lib/flatcar/etcd-wrapper', 0o755);
  copy('sdnotify-proxy', '/usr/libexec/sdnotify-proxy', 0o755);
  copy('coreos-metadata', '/usr/local/lib/box/coreos-metadata', 0o755);
  copy('etcd-member.service', '/usr/lib/systemd/system/etcd-member.service');
  copy('coreos-metadata.service', '/usr/lib/systemd/system/coreos-metadata.service');
  copy('docker.service', '/usr/lib/systemd/system/docker.service');
  copy('data-volume.conf', '/etc/systemd/system/var-lib-etcd.mount.d/box-data-volume.conf');
  fs.mkdirSync(path.join(box.root, 'var/lib/etcd-volume'), { recursive: true });
  // Flatcar's etcd user (uid/gid 232), which etcd-wrapper runs etcd as.
  fs.appendFileSync(path.join(box.root, 'etc/passwd'), 'etcd:x:232:232:etcd user:/dev/null:/sbin/nologin\n');
  fs.appendFileSync(path.join(box.root, 'etc/group'), 'etcd:x:232:\n');
  box.write(
    '/etc/box/metadata',
    [
      `COREOS_EC2_INSTANCE_ID=${id}`,
      `COREOS_EC2_IPV4_LOCAL=${ip}`,
      `COREOS_EC2_HOSTNAME=ip-${ip.replace(/\./g, '-')}.ec2.internal`,
      `COREOS_EC2_REGION=${REGION}`,
      `COREOS_EC2_AVAILABILITY_ZONE=${REGION}${'abc'[index % 3]}`,
      '',
    ].join('\n'),
  );
  box.write(
    '/etc/docker-shim/env',
    [
      `AWS_ENDPOINT_URL=${aws.standInEndpoint}`,
      `AWS_ENDPOINT_URL_S3=${aws.s3Endpoint}`,
      `AWS_ACCESS_KEY_ID=${aws.key}`,
      `AWS_SECRET_ACCESS_KEY=${aws.key}`,
      `AWS_EC2_METADATA_SERVICE_ENDPOINT=${aws.metadataEndpoint}`,
      '',
    ].join('\n'),
  );
}

/**
 * Destroys every box (see Box.destroy); returns what could not be cleaned up. SYSTEMD_BOX_JOURNALS=DIR keeps
 * every box's journal (all boots) for reading after the run.
 */
export async function destroyBoxes(world: BoxWorld): Promise<string[]> {
  const errors: string[] = [];
  const keep = process.env.SYSTEMD_BOX_JOURNALS;
  for (const b of world.boxes) {
    if (keep && b.box.running) {
      fs.mkdirSync(keep, { recursive: true });
      const all = await b.box.exec(['journalctl', '--no-pager', '-o', 'short-monotonic'], 60_000);
      fs.writeFileSync(path.join(keep, `${b.box.name}.journal`), all.stdout);
    }
    try {
      const left = await b.box.destroy();
      if (left.length) errors.push(`${b.box.name}: cgroups left ${left.join(', ')}`);
    } catch (err) {
      errors.push(`${b.box.name}: ${(err as Error).message}`);
    }
  }
  return errors;
}
