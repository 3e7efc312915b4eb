/*
 * The first boot, run for real: the example stack's user data applied by the real Ignition to a Debian
 * root, booted by the real systemd (252) under systemd-nspawn, three boxes forming a cluster through the
 * shipped units, judged with Debian's etcdctl. See test/systemd/box.ts for the box, test/systemd/box/ for
 * the stand-ins (each one states what it stands in for):
 *   - Flatcar's etcd-member.service and etcd-wrapper (same directives and steps), sdnotify-proxy,
 *     coreos-metadata, docker.service, and a docker CLI that runs an image's command on the host's node
 *     and etcd (Debian's etcd 3.4.23, so the stack is rendered with etcdVersion 3.4.23: the image the
 *     units name is the release that really runs);
 *   - the data volume: a bind of a directory (no block device in a container, no udev);
 *   - AWS: the project's stand-in (IMDS per instance on its own address, Auto Scaling, EC2, Secrets
 *     Manager) and the fleet's local S3, reached through /etc/docker-shim/env (instead of the instance
 *     role and 169.254.169.254);
 *   - CloudFormation: the user data's references resolved to the stand-in's secret and bucket, and the
 *     agent's s3:// source pointed at an http:// copy on 127.x with the same verification.hash.
 * Ignition 2.14 lowers only the version field (3.4.0 → 3.3.0). FAILURE-SCENARIOS 17, 18, 19 (issue 15). */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { allocateAddress, s3Address, standInAddress } from '../../fleet/addresses';
import { LocalS3 } from '../../fleet/s3';
import { AwsStandIn } from '../../fleet/standin';
import { setUpFleetTls, FleetTls } from '../../fleet/tls';
import { AGENT_BUNDLE } from '../../lib/assets';
import { Box, checkHost, ensureRootfs, runIgnition } from './box';
import {
  ACCOUNT,
  BoxWorld,
  converged as convergedIn,
  etcdctl as etcdctlIn,
  installStandIns,
  memberList as memberListIn,
  destroyBoxes,
  memberOf,
  REGION,
  resolve,
  starts,
  waitFor as waitForIn,
  mark,
  timings,
} from './judge';
import { exampleStack, journalLines, osUpdateState, signalsByBox, stopLeader, stopOrder } from './planned';
import { backupLogTest } from './backup-log';

jest.setTimeout(15 * 60_000);

const GROUP = 'etcd-box-group';
const BUCKET = 'etcd-box-backups';
const ETCD_VERSION = '3.4.23';
const KEY = 'box';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const run = path.join(os.tmpdir(), `cdk-elastic-etcd-first-boot-${process.pid}`);
// 127.250.x.x: outside every fleet's block (fleet/addresses.ts: 127.20-249), since fleets run beside this test.
const block = 250;
let standIn: AwsStandIn;
let s3: LocalS3;
let tls: FleetTls;
let agentServer: http.Server;
let userData: string;
let ignitionConfig: Json;
let signalTarget: { stackName: string; logicalResourceId: string };
let groupLogicalId: string;
/** When each instance's launch action was completed with CONTINUE (it was a healthy voter then). */
const launched: Record<string, number> = {};
const boxes: BoxWorld['boxes'] = [];
const world: BoxWorld = { boxes };
const etcdctl = (args: string[], endpoints?: string[]) => etcdctlIn(world, args, endpoints);
const memberList = () => memberListIn(world);
const converged = () => convergedIn(world);
const waitFor = (what: string, check: () => Promise<string>, seconds: number) =>
  waitForIn(world, what, check, seconds);

const cleanupErrors: string[] = [];

beforeAll(async () => {
  checkHost();
  fs.mkdirSync(run, { recursive: true });
  const rootfs = ensureRootfs((m) => process.stderr.write(`[systemd box] ${m}\n`));
  mark('rootfs');

  // The example stack, and the rollout signal's target its agent config names (the group in this stack).
  const example = exampleStack(ETCD_VERSION, BUCKET);
  signalTarget = example.signalTarget;
  groupLogicalId = example.groupLogicalId;

  // The AWS side: Auto Scaling group of 3 with the example stack's hook names, CA secret, backup bucket,
  // and CloudFormation's group waiting for the creation's signals.
  standIn = new AwsStandIn({
    signalTarget,
    host: standInAddress(block),
    region: REGION,
    accountId: ACCOUNT,
    groupName: GROUP,
    launchHookName: 'cdk-elastic-etcd-launch',
    terminateHookName: 'cdk-elastic-etcd-terminate',
    imdsPort: 8169,
    desiredCapacity: 3,
    minSize: 0,
    maxSize: 3,
  });
  await standIn.start();
  world.standIn = standIn;
  standIn.signalBoard!.waiting = true;
  // The group's part: a launch completed with CONTINUE puts the instance InService.
  standIn.on('complete-lifecycle-action', (e: { instanceId: string; hookName: string; result: string }) => {
    if (e.hookName === 'cdk-elastic-etcd-launch' && e.result === 'CONTINUE') {
      launched[e.instanceId] ??= Date.now();
      standIn.setLifecycleState(e.instanceId, 'InService');
    }
  });
  tls = await setUpFleetTls(run, standIn);
  world.tls = tls;
  s3 = new LocalS3({
    host: s3Address(block),
    port: 9000,
    directory: path.join(run, 's3'),
    buckets: [BUCKET],
    credentials: [{ accessKeyId: KEY, secretAccessKey: KEY }],
  });
  await s3.start();

  // The example stack's user data.
  userData = resolve(example.userData, {
    EtcdTlsCaSecret: tls.caSecretArn,
    EtcdBackupBucket: BUCKET,
  });
  ignitionConfig = JSON.parse(userData);

  // The agent bundle over http on 127.x, with the user data's verification.hash unchanged.
  const bundle = fs.readFileSync(AGENT_BUNDLE);
  agentServer = http.createServer((req, res) => {
    if (req.url === '/agent.js') res.end(bundle);
    else if (req.url === '/corrupt.js') res.end(Buffer.concat([bundle, Buffer.from('\n')]));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => agentServer.listen(0, `127.${block}.0.3`, r));
  const agentUrl = `http://127.${block}.0.3:${(agentServer.address() as AddressInfo).port}`;
  const boxConfig = JSON.parse(userData);
  expect(boxConfig.ignition.version).toBe('3.4.0');
  boxConfig.ignition.version = '3.3.0';
  const agentFile = boxConfig.storage.files.find((f: Json) => f.path === '/opt/etcd-agent/agent.js');
  expect(agentFile.contents.source).toMatch(/^s3:\/\//);
  agentFile.contents.source = `${agentUrl}/agent.js`;

  // Three instances: in the group first (a cold start needs the whole group listed), then boxes.
  const used = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const ip = allocateAddress(block, used);
    used.add(ip);
    const id = 'i-' + crypto.randomBytes(9).toString('hex').slice(0, 17);
    await standIn.addInstance({
      instanceId: id,
      privateIp: ip,
      lifecycleState: 'Pending:Wait',
      healthStatus: 'Healthy',
      availabilityZone: `${REGION}${'abc'[i % 3]}`,
      launchTime: new Date(),
    });
    const box = new Box({
      name: `etcdbox${i + 1}-${block}`,
      rootfs,
      dir: path.join(run, `box${i + 1}`),
      machineId: crypto.randomBytes(16).toString('hex'),
    });
    boxes.push({ box, id, ip });
    box.prepare();
    installStandIns(box, id, ip, i, {
      standInEndpoint: standIn.endpoint,
      s3Endpoint: s3.endpoint,
      metadataEndpoint: standIn.metadataEndpointFor(id),
      key: KEY,
    });
    const ign = await runIgnition(JSON.stringify(boxConfig), box.root, path.join(run, `ignition${i + 1}`));
    if (!ign.ok) throw new Error(`Ignition failed on ${box.name}:\n${ign.output}`);
  }
  mark('ignition');
  const states = await Promise.all(boxes.map((b) => b.box.start()));
  mark('booted');
  process.stderr.write(`[systemd box] boot states: ${states.join(', ')}\n`);
});

afterAll(async () => {
  cleanupErrors.push(...(await destroyBoxes(world)));
  await new Promise<void>((r) => (agentServer ? agentServer.close(() => r()) : r()));
  await s3?.stop();
  await standIn?.stop();
  fs.rmSync(run, { recursive: true, force: true });
  mark('cleaned up');
  process.stderr.write(`[systemd box] timings (s since start): ${JSON.stringify(timings)}\n`);
  if (cleanupErrors.length) throw new Error(`cleanup: ${cleanupErrors.join('; ')}`);
});

describe('first boot under a real systemd, from the real Ignition', () => {
  test('Ignition wrote the agent (hash checked by Ignition), its config and the units; it refuses other bytes', async () => {
    const { box } = boxes[0];
    const bundle = fs.readFileSync(AGENT_BUNDLE);
    expect(crypto.createHash('sha512').update(box.read('/opt/etcd-agent/agent.js')).digest('hex')).toBe(
      crypto.createHash('sha512').update(bundle).digest('hex'),
    );
    expect(JSON.parse(box.read('/etc/etcd-agent/config.json')).tls.caSecretId).toBe(tls.caSecretArn);
    expect(box.read('/etc/etcd-agent/backup-bucket')).toBe(BUCKET);
    // Presets: what Ignition enables; etcd-join.service is started by etcd-member only.
    expect(box.read('/etc/systemd/system-preset/20-ignition.preset').trim().split('\n').sort()).toEqual([
      'enable etcd-backup-drill.timer',
      'enable etcd-backup-log.service',
      'enable etcd-member.service',
      'enable etcd-promote.service',
      'enable var-lib-etcd.mount',
    ]);
    // The control: the same config with one byte more in the served agent fails in Ignition's files stage.
    const bad = JSON.parse(JSON.stringify(ignitionConfig));
    bad.ignition.version = '3.3.0';
    const f = bad.storage.files.find((x: Json) => x.path === '/opt/etcd-agent/agent.js');
    f.contents.source = `http://127.${block}.0.3:${(agentServer.address() as AddressInfo).port}/corrupt.js`;
    const scratch = path.join(run, 'scratch-root');
    fs.mkdirSync(scratch, { recursive: true });
    const r = await runIgnition(JSON.stringify(bad), scratch, path.join(run, 'ignition-corrupt'));
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/mismatch|hash/i);
    expect(fs.existsSync(path.join(scratch, 'opt/etcd-agent/agent.js'))).toBe(false);
  });

  test('three boxes form a cluster through the shipped units: 3 started voters, all healthy, all InService', async () => {
    await waitFor('cluster of 3', converged, 240);
    mark('converged');
    const list = (await memberList())!;
    // Each box's member is named after its instance id, one cluster id on every endpoint.
    for (const b of boxes) expect(memberOf(b.ip, list)!.name).toBe(b.id);
    // One cluster id on every endpoint (compared as the digits etcdctl prints: they exceed 2^53).
    const status = await etcdctl(['endpoint', 'status', '-w', 'json']);
    expect(status.status).toBe(0);
    const clusterIds = new Set([...status.out.matchAll(/"cluster_id":([0-9]+)/g)].map((m) => m[1]));
    expect([...status.out.matchAll(/"cluster_id":/g)]).toHaveLength(3);
    expect(clusterIds.size).toBe(1);
  });

  test('first boot: etcd-join.service ran once per box, the restore tool came out of the etcd image', async () => {
    for (const { box } of boxes) {
      expect((await box.exec(['systemctl', 'is-active', 'etcd-member.service'])).stdout.trim()).toBe(
        'active',
      );
      // The data dir is the shipped mount unit's mount (here a bind of the data-volume stand-in).
      const mnt = await box.exec(['findmnt', '-n', '-o', 'SOURCE', '/var/lib/etcd']);
      expect(mnt.stdout).toContain('/var/lib/etcd-volume');
      expect(box.exists('/var/lib/etcd-volume/member/snap')).toBe(true);
      expect(await starts(box, 'etcd-join.service')).toBe(1);
      expect(await starts(box, 'etcd-promote.service')).toBe(1);
      expect((await box.exec(['systemctl', 'is-enabled', 'etcd-join.service'])).stdout.trim()).toBe('static');
      // etcdVersion 3.4.x: the image's etcdctl, copied by the join unit's ExecStartPre (shell quoting
      // and systemd's $$ escaping run for real here); the docker stand-in's image file is Debian's etcdctl.
      const tool = (await box.exec(['/opt/etcd-restore/etcdctl', 'version'])).stdout;
      expect(tool).toContain(`etcdctl version: ${ETCD_VERSION}`);
      expect(JSON.parse(box.read('/etc/etcd-agent/config.json')).restoreCommand).toEqual([
        '/opt/etcd-restore/etcdctl',
      ]);
      // etcd runs as the etcd user, with the member certificate readable through /etc/ssl/certs.
      const pid = (await box.exec(['systemctl', 'show', '-p', 'MainPID', '--value', 'etcd-member.service']))
        .stdout;
      expect(Number(pid)).toBeGreaterThan(0);
      const users = (
        await box.exec([
          'sh',
          '-c',
          'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = etcd ] && stat -c %U $p; done',
        ])
      ).stdout;
      expect(users.trim()).toBe('etcd');
    }
  });

  backupLogTest(world, path.join(run, 's3'), BUCKET, ETCD_VERSION);

  test('the rollout gate: each box signalled SUCCESS once, to the stack and group the template names, after it became a voter', async () => {
    expect(signalTarget).toEqual({ stackName: 'EtcdExampleStack', logicalResourceId: groupLogicalId });
    const once = [['SUCCESS', true, 'EtcdExampleStack', groupLogicalId]];
    // afterLaunch: sent once its launch action was completed with CONTINUE (only a healthy voter's is).
    expect(signalsByBox(world, launched)).toEqual(
      boxes.map((b) => ({ id: b.id, signals: once, afterLaunch: true })),
    );
    expect(standIn.signalBoard!.signals).toHaveLength(3);
    for (const { box } of boxes)
      expect(await box.journal('etcd-promote.service')).toMatch(/rollout signal.*"sent":true/);
  });

  test("OS updates: Flatcar's update-engine and locksmithd are masked, update.conf turns updates and reboots off", async () => {
    for (const { box } of boxes) {
      expect(await osUpdateState(box)).toEqual({
        'update-engine.service': { enabled: 'masked', start: 'refused: masked' },
        'locksmithd.service': { enabled: 'masked', start: 'refused: masked' },
        conf: ['SERVER=disabled', 'REBOOT_STRATEGY=off'],
      });
    }
  });

  test('systemctl stop etcd-member on the leader: the handoff moves leadership before etcd stops; etcd then need not', async () => {
    const r = await stopLeader(world);
    mark('leader stopped');
    // Back first (whatever the judgment below): the handoff unit comes with etcd again (the drop-in wants it).
    const { box } = r.leader;
    expect((await box.exec(['systemctl', 'start', 'etcd-member.service'], 120_000)).status).toBe(0);
    await waitFor('cluster after the stop', converged, 120);
    const handoffBack = (await box.exec(['systemctl', 'is-active', 'etcd-handoff.service'])).stdout.trim();
    // etcd's own stop found it was no longer the leader (without the handoff it transfers leadership itself).
    const o = stopOrder(r.lines);
    expect({ etcdSkippedTransfer: o.etcdSkipped >= 0, etcdOwnTransfer: o.etcdOwnTransfer >= 0 }).toEqual({
      etcdSkippedTransfer: true,
      etcdOwnTransfer: false,
    });
    expect(r.handoffBefore).toBe('active');
    expect(r.stop.status).toBe(0);
    expect(r.handoffAfter).toBe('inactive');
    // The other two agree on a leader among them, and never reported none while the stop ran.
    expect(r.after).toHaveLength(2);
    expect(new Set(r.after.map((v) => v.leader)).size).toBe(1);
    expect(r.after.map((v) => v.memberId)).toContain(r.after[0].leader);
    expect(r.seen.length).toBeGreaterThan(0);
    expect(r.seen.filter((l) => /(^|,)0(,|$)/.test(l))).toEqual([]);
    // The box's journal, in order: the agent's decision and the move, then etcd's stop and its skipped transfer.
    expect(o.decision).toMatch(/"decision":"move"/);
    expect(0 <= o.moved && o.moved < o.etcdStopping && o.etcdStopping < o.etcdSkipped).toBe(true);
    expect(handoffBack).toBe('active');
    mark('stopped leader back');
  });

  test('systemctl kill -s KILL etcd-member: systemd restarts it through the join unit, same member id', async () => {
    const { box, ip } = boxes[1];
    const before = memberOf(ip, (await memberList())!)!.id;
    const joinsBefore = await starts(box, 'etcd-join.service');
    const r = await box.exec(['systemctl', 'kill', '-s', 'KILL', 'etcd-member.service']);
    expect(r.status).toBe(0);
    // Restart=always, RestartSec=10s; the join agent runs first (ExecStartPre) and keeps the data.
    await waitFor(
      'restart after SIGKILL',
      async () =>
        (await starts(box, 'etcd-join.service')) > joinsBefore ? converged() : 'join not run again yet',
      120,
    );
    mark('killed member back');
    expect(await starts(box, 'etcd-join.service')).toBe(joinsBefore + 1);
    expect(memberOf(ip, (await memberList())!)!.id).toBe(before);
  });

  test('a member removed from the cluster: etcd exits, the restart wipes its data and rejoins as a new member', async () => {
    const { box, ip } = boxes[2];
    const before = memberOf(ip, (await memberList())!)!.id;
    const others = boxes.filter((b) => b.ip !== ip).map((b) => `https://${b.ip}:2379`);
    // etcd refuses a removal while a remaining member has been connected for less than 5 s (strict
    // reconfiguration check: "unhealthy cluster"), as right after the previous test's restart.
    let rm = { status: null as number | null, out: '' };
    for (let i = 0; i < 20; i++) {
      rm = await etcdctl(['member', 'remove', before], others);
      if (rm.status === 0 || !rm.out.includes('unhealthy cluster')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    // etcdctl prints the id with %16x: padded with spaces when it has fewer than 16 hex digits.
    expect(rm.out).toMatch(new RegExp(`Member +${before} removed`));
    await waitFor(
      'rejoin after removal',
      async () => {
        const list = await memberList();
        const m = list && memberOf(ip, list);
        if (!m || m.id === before) return 'not rejoined';
        return converged();
      },
      180,
    );
    mark('removed member rejoined');
    const after = memberOf(ip, (await memberList())!)!.id;
    expect(after).not.toBe(before);
    expect(await box.journal('etcd-join.service')).toMatch(/wipe/i);
  });

  test('a reboot (power-off, boot) keeps the member id; the join runs once in that boot', async () => {
    const { box, ip } = boxes[0];
    const before = memberOf(ip, (await memberList())!)!.id;
    await box.stop();
    const state = await box.start();
    expect(['running', 'degraded']).toContain(state);
    await waitFor('cluster after reboot', converged, 180);
    mark('rebooted member back');
    expect(memberOf(ip, (await memberList())!)!.id).toBe(before);
    expect(await starts(box, 'etcd-join.service')).toBe(1);
    // Not a first boot: the machine id is the one of the first boot.
    expect(box.read('/etc/machine-id').trim()).toBe(box.opts.machineId);
    // At the power-off, the handoff ran (its decision logged) before etcd was stopped.
    const o = stopOrder(await journalLines(box, ['etcd-handoff.service', 'etcd-member.service'], '-1'));
    expect(o.decision).toMatch(/"for":"stop"/);
    expect(o.decided).toBeLessThan(o.etcdStopping);
  });

  test('the rollout gate: restarts, a rejoin and a reboot sent no further signal', () => {
    expect(standIn.signalBoard!.signals.map((x) => x.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });
});
