/* The user data: an Ignition 3.4.0 config that Flatcar accepts, with the agent, its config, the data volume and the units. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parseConfig } from '../../lambda/agent/config';
import { AGENT_BUNDLE } from '../../lib/assets';
import { ACCOUNT, ignitionOf, makeCluster, rawUserData, REGION } from './helpers';

const Ajv = require('ajv-draft-04');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SCHEMA = path.join(__dirname, '..', '..', '..', 'shared', 'schemas', 'ignition-v3.4.json');
const NODE_IMAGE =
  'docker.io/library/node:22-alpine@sha256:8094c002d08262dba12645a3b4a15cd6cd627d30bc782f53229a2ec13ee22a00';

const { template } = makeCluster();
const raw = rawUserData(template);
const ign = ignitionOf(template);
const unit = (name: string): Json => ign.systemd.units.find((u: Json) => u.name === name);
const file = (p: string): Json => ign.storage.files.find((f: Json) => f.path === p);

function decodeDataUrl(source: string): string {
  expect(source.startsWith('data:,')).toBe(true);
  return decodeURIComponent(source.slice('data:,'.length));
}

/** All values of the unit file's directive `key` in `section`. */
function directives(contents: string, section: string, key: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of contents.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line);
    if (s) current = s[1];
    else if (current === section && line.startsWith(`${key}=`)) out.push(line.slice(key.length + 1));
  }
  return out;
}

describe('user data', () => {
  test('is raw JSON (no shebang, no MIME), version 3.4.0, under 16 KB', () => {
    expect(raw.startsWith('{')).toBe(true);
    expect(raw).not.toMatch(/^#!/);
    expect(ign.ignition.version).toBe('3.4.0');
    expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(16 * 1024);
  });

  test('validates against the Ignition 3.4 JSON schema', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')));
    const ok = validate(ign);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // The schema is not vacuous: a wrong type and an unknown field are rejected.
    expect(validate({ ...ign, ignition: { version: 3 } })).toBe(false);
    expect(validate({ ...ign, storage: { ...ign.storage, files: [{ path: '/x', mode: 'rw' }] } })).toBe(
      false,
    );
  });

  test('fetches the agent bundle from its S3 asset, verified by the sha512 of the exact bytes, no compression', () => {
    const agent = file('/opt/etcd-agent/agent.js');
    const sha512 = crypto.createHash('sha512').update(fs.readFileSync(AGENT_BUNDLE)).digest('hex');
    expect(agent.contents.source).toMatch(
      new RegExp(`^s3://cdk-hnb659fds-assets-${ACCOUNT}-${REGION}/[0-9a-f]{64}\\.js$`),
    );
    expect(agent.contents.verification).toEqual({ hash: `sha512-${sha512}` });
    expect(agent.contents.compression).toBeUndefined();
    expect(agent.mode).toBe(0o644);
  });

  test('the S3 key is the one the asset manifest publishes', () => {
    const agent = file('/opt/etcd-agent/agent.js');
    const key = agent.contents.source.split('/').pop();
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(key);
  });

  test('writes the agent config with exactly the fields the agent reads, and the agent accepts it', () => {
    const text = decodeDataUrl(file('/etc/etcd-agent/config.json').contents.source);
    expect(JSON.parse(text)).toEqual({
      strategy: 'replace',
      sizeCap: 3,
      peerPort: 2380,
      clientPort: 2379,
      scheme: 'https',
      tls: {
        caSecretId: expect.stringMatching(/^REF-EtcdTlsCaSecret[0-9A-F]{8}$/),
        certDir: '/etc/etcd-tls',
        etcdCertDir: '/etc/ssl/certs',
      },
      dataDir: '/var/lib/etcd',
      envFile: '/run/etcd/env',
      output: 'env',
      launchHookName: 'cdk-elastic-etcd-launch',
      deadlineSeconds: 900,
      heartbeatSeconds: 60,
      retryDelayMs: 500,
      backupBucketFile: '/etc/etcd-agent/backup-bucket',
      backupPrefix: '',
      restoreCommand: ['/opt/etcd-restore/etcdutl'],
      restorePolicy: 'manual',
      incrementalBackupSeconds: 10,
      etcdCommand: ['/opt/etcd-restore/etcd'],
      emptyStartBesideBackups: false,
      backend: {
        quotaBackendBytes: 8 * 1024 ** 3,
        compactionMode: 'periodic',
        compactionRetention: '1h',
        corruptCheck: true,
        corruptCheckIntervalSeconds: 3600,
      },
      etcdVersion: '3.5.26',
      // The rollout gate: this stack, the group's logical id (test/construct/rollout.test.ts).
      rolloutSignal: {
        stackName: 'TestStack',
        logicalResourceId: expect.stringMatching(/^EtcdGroupASG[0-9A-F]{8}$/),
      },
    });
    expect(() => parseConfig(text)).not.toThrow();
  });

  test('writes the backup bucket name to its own file, the token intact (not percent-encoded)', () => {
    expect(file('/etc/etcd-agent/backup-bucket').contents.source).toMatch(
      /^data:,REF-EtcdBackupBucket[0-9A-F]{8}$/,
    );
  });

  test('formats the data volume (xfs, labelled) and mounts it at /var/lib/etcd with a mount unit', () => {
    expect(ign.storage.filesystems).toEqual([
      {
        device: '/dev/xvdf',
        format: 'xfs',
        label: 'etcd-data',
        path: '/var/lib/etcd',
        wipeFilesystem: false,
      },
    ]);
    const mount = unit('var-lib-etcd.mount');
    expect(mount.enabled).toBe(true);
    expect(directives(mount.contents, 'Mount', 'What')).toEqual(['/dev/disk/by-label/etcd-data']);
    expect(directives(mount.contents, 'Mount', 'Where')).toEqual(['/var/lib/etcd']);
    expect(directives(mount.contents, 'Mount', 'Type')).toEqual(['xfs']);
    expect(directives(mount.contents, 'Install', 'WantedBy')).toEqual(['local-fs.target']);
  });

  test('etcd-join.service: oneshot agent join in the pinned Node image, before etcd-member, rerun at every start', () => {
    const join = unit('etcd-join.service');
    const c = join.contents;
    expect(directives(c, 'Service', 'Type')).toEqual(['oneshot']);
    expect(directives(c, 'Service', 'RemainAfterExit')).toEqual(['no']);
    expect(directives(c, 'Unit', 'After')).toEqual([
      'network-online.target coreos-metadata.service docker.service',
    ]);
    expect(directives(c, 'Unit', 'Before')).toEqual(['etcd-member.service']);
    expect(directives(c, 'Unit', 'Requires')).toEqual(['docker.service']);
    expect(directives(c, 'Unit', 'RequiresMountsFor')).toEqual(['/var/lib/etcd']);
    expect(directives(c, 'Service', 'ExecStart')).toEqual([
      '/usr/bin/docker run --rm --init --name etcd-agent-join --network host -v /opt/etcd-agent:/opt/etcd-agent:ro ' +
        '-v /etc/etcd-agent:/etc/etcd-agent:ro -v /run/etcd:/run/etcd -v /var/lib/etcd:/var/lib/etcd ' +
        `-v /run/metadata:/run/metadata:ro -v /opt/etcd-restore:/opt/etcd-restore:ro -v /etc/etcd-tls:/etc/etcd-tls ${NODE_IMAGE} node /opt/etcd-agent/agent.js join --config /etc/etcd-agent/config.json`,
    ]);
  });

  test('etcd-join.service runs once per etcd start: not enabled, no [Install], started only by etcd-member', () => {
    // Enabled in multi-user.target it ran twice on the first boot: once for the target, and again from
    // etcd-member's ExecStartPre (a oneshot without RemainAfterExit is inactive again right after).
    const join = unit('etcd-join.service');
    expect(join.enabled).toBeUndefined();
    expect(join.contents).not.toMatch(/^\[Install\]$/m);
    const member = unit('etcd-member.service');
    expect(directives(member.dropins[0].contents, 'Service', 'ExecStartPre')).toContain(
      '/usr/bin/systemctl start etcd-join.service',
    );
  });

  test.each(['join', 'promote'])(
    'etcd-%s.service: the agent container has an init (stops on SIGTERM) and a stale one is removed first',
    (verb) => {
      const c = unit(`etcd-${verb}.service`).contents;
      const [exec] = directives(c, 'Service', 'ExecStart');
      // Without an init, node is PID 1 of its container and ignores SIGTERM: `systemctl stop` left it running.
      expect(exec.split(' ')).toContain('--init');
      expect(exec.indexOf('--init')).toBeLessThan(exec.indexOf(NODE_IMAGE));
      expect(exec).toContain(`--name etcd-agent-${verb} `);
      // '-': ignored when there is none. It is the last ExecStartPre, right before the run.
      const pre = directives(c, 'Service', 'ExecStartPre');
      expect(pre[pre.length - 1]).toBe(`-/usr/bin/docker rm -f etcd-agent-${verb}`);
    },
  );

  test("the restore runs the etcd image's static etcdutl, copied out of the image at boot, not the host's", () => {
    // Flatcar's /usr/bin/etcdutl is a PIE (glibc) binary that cannot run in the Alpine Node image, and is
    // always Flatcar's 3.5.x whatever etcdVersion says.
    const c = unit('etcd-join.service').contents;
    expect(c).not.toContain('/usr/bin:/host/usr/bin');
    const pre = directives(c, 'Service', 'ExecStartPre');
    const copy = pre.find((p) => p.includes('docker cp'));
    // etcd too, beside it: the agent's etcdCommand (a restore replays the incremental log into a scratch etcd).
    expect(copy).toBe(
      "/bin/sh -c 'test -x /opt/etcd-restore/etcdutl && test -x /opt/etcd-restore/etcd && exit 0; mkdir -p /opt/etcd-restore; " +
        'c=$$(/usr/bin/docker create --entrypoint /usr/local/bin/etcd quay.io/coreos/etcd:v3.5.26) || exit 1; ' +
        '/usr/bin/docker cp $$c:/usr/local/bin/etcdutl /opt/etcd-restore/etcdutl.tmp && ' +
        '/usr/bin/docker cp $$c:/usr/local/bin/etcd /opt/etcd-restore/etcd.tmp; r=$$?; ' +
        '/usr/bin/docker rm $$c >/dev/null; ' +
        'test $$r = 0 || { rm -f /opt/etcd-restore/etcdutl.tmp /opt/etcd-restore/etcd.tmp; exit 1; }; ' +
        'chmod 0755 /opt/etcd-restore/etcdutl.tmp /opt/etcd-restore/etcd.tmp && ' +
        "mv /opt/etcd-restore/etcdutl.tmp /opt/etcd-restore/etcdutl && mv /opt/etcd-restore/etcd.tmp /opt/etcd-restore/etcd'",
    );
    // Before the agent runs, and the agent's restoreCommand names exactly the copied file.
    expect(pre.indexOf(copy!)).toBeLessThan(pre.length - 1);
    const cfg = JSON.parse(decodeDataUrl(file('/etc/etcd-agent/config.json').contents.source));
    expect(cfg.restoreCommand).toEqual(['/opt/etcd-restore/etcdutl']);
    expect(parseConfig(JSON.stringify(cfg)).restoreCommand).toEqual(['/opt/etcd-restore/etcdutl']);
  });

  test.each([
    [{ etcdVersion: '3.4.23' }, 'etcdctl', 'quay.io/coreos/etcd:v3.4.23'],
    [{ etcdVersion: '3.6.5' }, 'etcdutl', 'quay.io/coreos/etcd:v3.6.5'],
    [
      { etcdImage: 'registry.example/etcd:v3.4.30@sha256:' + 'b'.repeat(64) },
      'etcdctl',
      'registry.example/etcd:v3.4.30@sha256:' + 'b'.repeat(64),
    ],
    [{ etcdImage: 'registry.example/etcd:v3.5.26' }, 'etcdutl', 'registry.example/etcd:v3.5.26'],
  ])('the restore tool follows the etcd image: %j → %s', (props, tool, image) => {
    const i = ignitionOf(makeCluster(props).template);
    const join = i.systemd.units.find((u: Json) => u.name === 'etcd-join.service').contents;
    expect(join).toContain(`/usr/bin/docker create --entrypoint /usr/local/bin/etcd ${image})`);
    expect(join).toContain(`/usr/bin/docker cp $$c:/usr/local/bin/${tool} /opt/etcd-restore/${tool}.tmp`);
    const cfg = JSON.parse(
      decodeDataUrl(
        i.storage.files.find((x: Json) => x.path === '/etc/etcd-agent/config.json').contents.source,
      ),
    );
    expect(cfg.restoreCommand).toEqual([`/opt/etcd-restore/${tool}`]);
  });

  test('without backups: no restore tool copied, none mounted, no restoreCommand', () => {
    const i = ignitionOf(makeCluster({ backup: { enabled: false } }).template);
    const join = i.systemd.units.find((u: Json) => u.name === 'etcd-join.service').contents;
    expect(join).not.toContain('docker cp');
    expect(join).not.toContain('/opt/etcd-restore');
    const cfg = JSON.parse(
      decodeDataUrl(
        i.storage.files.find((x: Json) => x.path === '/etc/etcd-agent/config.json').contents.source,
      ),
    );
    expect(cfg.restoreCommand).toBeUndefined();
  });

  test('etcd-promote.service: oneshot agent promote after etcd-member', () => {
    const promote = unit('etcd-promote.service');
    expect(promote.enabled).toBe(true);
    const c = promote.contents;
    expect(directives(c, 'Service', 'Type')).toEqual(['oneshot']);
    expect(directives(c, 'Unit', 'After')[0]).toMatch(/(^| )etcd-member\.service( |$)/);
    expect(directives(c, 'Unit', 'Requires')[0]).toMatch(/(^| )etcd-member\.service( |$)/);
    const [exec] = directives(c, 'Service', 'ExecStart');
    expect(exec).toContain(
      `${NODE_IMAGE} node /opt/etcd-agent/agent.js promote --config /etc/etcd-agent/config.json`,
    );
    expect(exec).toContain('--network host');
  });

  test("drop-in for Flatcar's etcd-member.service: the join before every start, its env file, the pinned etcd image, promote after", () => {
    const member = unit('etcd-member.service');
    expect(member.enabled).toBe(true);
    expect(member.contents).toBeUndefined();
    expect(member.dropins).toHaveLength(1);
    const [dropin] = member.dropins;
    expect(dropin.name).toBe('20-cdk-elastic-etcd.conf');
    expect(directives(dropin.contents, 'Unit', 'Requires')).toEqual([]);
    expect(directives(dropin.contents, 'Unit', 'After')).toEqual(['etcd-join.service docker.service']);
    expect(directives(dropin.contents, 'Unit', 'Wants')).toEqual(['etcd-handoff.service']);
    expect(directives(dropin.contents, 'Service', 'EnvironmentFile')).toEqual(['-/run/etcd/env']);
    expect(directives(dropin.contents, 'Service', 'ExecStartPre')).toEqual([
      '/usr/bin/systemctl start etcd-join.service',
      '/usr/bin/chown -R etcd:etcd /etc/etcd-tls',
    ]);
    expect(directives(dropin.contents, 'Service', 'ExecStartPost')).toEqual([
      '/usr/bin/systemctl start --no-block etcd-promote.service',
    ]);
    expect(directives(dropin.contents, 'Service', 'Restart')).toEqual(['always']);
    expect(directives(dropin.contents, 'Service', 'Environment')).toEqual([
      'ETCD_IMAGE=quay.io/coreos/etcd:v3.5.26',
      'ETCD_SSL_DIR=/etc/etcd-tls',
    ]);
  });

  test('etcd-handoff.service: the agent hands leadership over in ExecStop, ordered to stop before etcd-member', () => {
    const handoff = unit('etcd-handoff.service');
    // Started by etcd-member's drop-in (Wants=), not enabled on its own.
    expect(handoff.enabled).toBeUndefined();
    const c = handoff.contents;
    expect(c).not.toMatch(/^\[Install\]$/m);
    expect(directives(c, 'Service', 'Type')).toEqual(['oneshot']);
    expect(directives(c, 'Service', 'RemainAfterExit')).toEqual(['yes']);
    expect(directives(c, 'Service', 'ExecStart')).toEqual(['/usr/bin/true']);
    // Stop order is the reverse of start order: After=etcd-member.service stops it BEFORE etcd-member, and
    // PartOf= carries a stop or restart of etcd-member over to it; docker and the network stay up meanwhile.
    expect(directives(c, 'Unit', 'After')).toEqual([
      'etcd-member.service docker.service network-online.target',
    ]);
    expect(directives(c, 'Unit', 'PartOf')).toEqual(['etcd-member.service']);
    expect(directives(c, 'Unit', 'Requires')).toEqual(['docker.service']);
    expect(directives(c, 'Service', 'TimeoutStopSec')).toEqual(['30']);
    // Like the other agent units: a stale container removed first, then the agent in its own container.
    expect(directives(c, 'Service', 'ExecStop')).toEqual([
      '-/usr/bin/docker rm -f etcd-agent-handoff',
      '/usr/bin/docker run --rm --init --name etcd-agent-handoff --network host -v /opt/etcd-agent:/opt/etcd-agent:ro ' +
        '-v /etc/etcd-agent:/etc/etcd-agent:ro -v /run/etcd:/run/etcd -v /var/lib/etcd:/var/lib/etcd ' +
        `-v /run/metadata:/run/metadata:ro -v /opt/etcd-restore:/opt/etcd-restore:ro -v /etc/etcd-tls:/etc/etcd-tls ${NODE_IMAGE} node /opt/etcd-agent/agent.js handoff --config /etc/etcd-agent/config.json`,
    ]);
  });

  // FAILURE-SCENARIOS 19: in-place OS updates off; a new OS comes as a new AMI through the gated rollout.
  test("OS updates: Flatcar's update-engine and locksmithd masked; update.conf with no update server and no reboot strategy", () => {
    expect(unit('update-engine.service')).toEqual({ name: 'update-engine.service', mask: true });
    expect(unit('locksmithd.service')).toEqual({ name: 'locksmithd.service', mask: true });
    const conf = file('/etc/flatcar/update.conf');
    expect(conf.overwrite).toBe(true);
    expect(conf.mode).toBe(0o644);
    const lines = decodeDataUrl(conf.contents.source)
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines).toEqual(['SERVER=disabled', 'REBOOT_STRATEGY=off']);
    // update_engine's parser takes every line with a '=' as a setting: no '=' in the comments.
    for (const l of decodeDataUrl(conf.contents.source)
      .split('\n')
      .filter((x) => x.startsWith('#')))
      expect(l).not.toContain('=');
  });

  test('semantic checks Ignition applies beyond the schema', () => {
    for (const f of ign.storage.files) {
      expect(path.posix.isAbsolute(f.path)).toBe(true);
      expect(path.posix.normalize(f.path)).toBe(f.path);
      if (f.contents.source.startsWith('s3://')) expect(f.contents.compression).toBeUndefined();
      if (f.contents.verification) expect(f.contents.verification.hash).toMatch(/^sha512-[0-9a-f]{128}$/);
    }
    for (const fs_ of ign.storage.filesystems) {
      expect(path.posix.isAbsolute(fs_.device)).toBe(true);
      expect(path.posix.isAbsolute(fs_.path)).toBe(true);
    }
    const names = ign.systemd.units.map((u: Json) => u.name);
    expect(new Set(names).size).toBe(names.length);
    for (const u of ign.systemd.units) {
      expect(u.name).toMatch(/^[A-Za-z0-9:_.\\-]+\.(service|mount|timer)$/);
      for (const d of u.dropins ?? []) expect(d.name).toMatch(/\.conf$/);
      if (u.contents) expect(u.contents).toMatch(/^\[Unit\]/);
      // A masked unit is only a link to /dev/null: no contents, no drop-ins, not enabled.
      if (u.mask) expect(Object.keys(u).sort()).toEqual(['mask', 'name']);
    }
    // A mount unit's name must be the escaped form of its Where=.
    const mount = ign.systemd.units.find((u: Json) => u.name.endsWith('.mount'));
    const where = directives(mount.contents, 'Mount', 'Where')[0];
    expect(mount.name).toBe(where.replace(/^\//, '').replace(/\//g, '-') + '.mount');
  });

  test('props reach the rendered config and units', () => {
    const f = makeCluster({
      size: 5,
      etcdVersion: '3.5.21',
      nodeImage: 'registry.example/node:22@sha256:' + 'a'.repeat(64),
    });
    const i = ignitionOf(f.template);
    const cfg = JSON.parse(
      decodeDataUrl(
        i.storage.files.find((x: Json) => x.path === '/etc/etcd-agent/config.json').contents.source,
      ),
    );
    expect(cfg.sizeCap).toBe(5);
    const member = i.systemd.units.find((u: Json) => u.name === 'etcd-member.service');
    expect(member.dropins[0].contents).toContain('Environment=ETCD_IMAGE=quay.io/coreos/etcd:v3.5.21\n');
    const join = i.systemd.units.find((u: Json) => u.name === 'etcd-join.service');
    expect(join.contents).toContain(
      `registry.example/node:22@sha256:${'a'.repeat(64)} node /opt/etcd-agent/agent.js join`,
    );
    const g = ignitionOf(
      makeCluster({ etcdImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/quay/coreos/etcd:v3.5.26' })
        .template,
    );
    expect(g.systemd.units.find((u: Json) => u.name === 'etcd-member.service').dropins[0].contents).toContain(
      'Environment=ETCD_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/quay/coreos/etcd:v3.5.26\n',
    );
  });
});
