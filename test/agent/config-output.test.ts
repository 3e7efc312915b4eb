import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CompactionMode, ConfigError, OutputFormat, parseConfig } from '../../lambda/agent/config';
import { writeSettings } from '../../lambda/agent/join';
import { EtcdSettings, parseEnvFile, renderSettings } from '../../lambda/agent/output';
import { VALID_AGENT_CONFIG } from './fixtures';

const AGENT = path.join(__dirname, '..', '..', 'build', 'agent', 'agent.js');
const GOLDEN = path.join(__dirname, 'golden');

const valid = VALID_AGENT_CONFIG;

describe('agent config', () => {
  it('accepts the config the construct writes, with defaults for the optional fields', () => {
    const c = parseConfig(JSON.stringify(valid));
    expect(c.strategy).toBe('replace');
    expect(c.heartbeatSeconds).toBe(60);
    expect(c.retryDelayMs).toBe(500);
  });

  it.each([
    [{ ...valid, strategy: 'grow' }, /strategy: must be one of prepare, add, replace, prune/],
    [{ ...valid, sizeCap: 0 }, /sizeCap: must be an integer from 1 to 9/],
    [{ ...valid, peerPort: '2380' }, /peerPort: must be an integer/],
    [{ ...valid, dataDir: 'var/lib/etcd' }, /dataDir: must be an absolute path/],
    [{ ...valid, envFile: undefined }, /envFile: must be an absolute path/],
    [{ ...valid, output: 'yaml' }, /output: must be one of env, dropin, flags/],
    [{ ...valid, scheme: 'ftp' }, /scheme: must be http or https/],
    [{ ...valid, clientPort: 2380 }, /peerPort: must differ from clientPort/],
  ])('rejects %j naming the field', (cfg, message) => {
    expect(() => parseConfig(JSON.stringify(cfg))).toThrow(message);
  });

  it('reports every bad field at once', () => {
    expect(() => parseConfig(JSON.stringify({ ...valid, sizeCap: -1, output: 'x' }))).toThrow(
      /sizeCap.*output/,
    );
  });

  it('rejects malformed JSON and non-objects', () => {
    expect(() => parseConfig('{')).toThrow(ConfigError);
    expect(() => parseConfig('[1]')).toThrow(/must be a JSON object/);
  });
});

describe('settings output (golden files)', () => {
  const settings: EtcdSettings = {
    name: 'i-0123456789abcdef0',
    dataDir: '/var/lib/etcd',
    initialCluster:
      'i-0123456789abcdef0=http://10.0.2.15:2380,i-0fedcba9876543210=http://10.0.2.150:2380,i-0aaaabbbbccccdddd=http://10.0.3.7:2380',
    initialClusterState: 'new',
    initialClusterToken: 'etcd-group-1a2b3c4d',
    peerURL: 'http://10.0.2.15:2380',
    clientURL: 'http://10.0.2.15:2379',
  };
  it.each([OutputFormat.ENV, OutputFormat.DROPIN, OutputFormat.FLAGS])(
    'renders %s like its golden file',
    (format) => {
      const golden = path.join(GOLDEN, `bootstrap.${format}`);
      const rendered = renderSettings(settings, format);
      if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, rendered);
      expect(rendered).toBe(fs.readFileSync(golden, 'utf8'));
    },
  );

  it('omits the token when joining an existing cluster, and the env file parses back', () => {
    const joined = renderSettings(
      { ...settings, initialClusterState: 'existing', initialClusterToken: undefined },
      OutputFormat.ENV,
    );
    const golden = path.join(GOLDEN, 'join.env');
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, joined);
    expect(joined).toBe(fs.readFileSync(golden, 'utf8'));
    const vars = parseEnvFile(joined);
    expect(vars.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
    expect(vars.ETCD_INITIAL_CLUSTER_TOKEN).toBeUndefined();
    expect(vars.ETCD_STRICT_RECONFIG_CHECK).toBe('true');
  });

  const backend = {
    quotaBackendBytes: 48 * 1024 * 1024,
    compactionMode: CompactionMode.PERIODIC,
    compactionRetention: '10s',
    corruptCheck: true,
    corruptCheckIntervalSeconds: 600,
  };
  it.each([
    [
      'quota, periodic compaction and corruption checks',
      backend,
      {
        ETCD_QUOTA_BACKEND_BYTES: '50331648',
        ETCD_AUTO_COMPACTION_MODE: 'periodic',
        ETCD_AUTO_COMPACTION_RETENTION: '10s',
        ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK: 'true',
        ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME: '600s',
      },
    ],
    [
      'revision compaction, no corruption checks',
      {
        ...backend,
        compactionMode: CompactionMode.REVISION,
        compactionRetention: '10000',
        corruptCheck: false,
      },
      {
        ETCD_QUOTA_BACKEND_BYTES: '50331648',
        ETCD_AUTO_COMPACTION_MODE: 'revision',
        ETCD_AUTO_COMPACTION_RETENTION: '10000',
      },
    ],
    [
      'no auto-compaction (something else compacts)',
      { ...backend, compactionMode: CompactionMode.NONE, corruptCheck: false },
      { ETCD_QUOTA_BACKEND_BYTES: '50331648' },
    ],
  ])('backend settings: %s', (_name, b, expected) => {
    const vars = parseEnvFile(renderSettings({ ...settings, backend: b }, OutputFormat.ENV));
    const backendVars = Object.fromEntries(
      Object.entries(vars).filter(([k]) => /QUOTA|COMPACTION|CORRUPT/.test(k)),
    );
    expect(backendVars).toEqual(expected);
    const flags = renderSettings({ ...settings, backend: b }, OutputFormat.FLAGS);
    expect(flags).toContain(`--quota-backend-bytes=50331648`);
  });

  it('with the incremental backup log, writeSettings gives etcd no auto-compaction (the Lambda compacts behind the log)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settings-log-'));
    try {
      const read = (cfg: Record<string, unknown>) => {
        const c = parseConfig(JSON.stringify({ ...cfg, envFile: path.join(dir, 'etcd.env') }));
        writeSettings(c, settings);
        const vars = parseEnvFile(fs.readFileSync(c.envFile, 'utf8'));
        return Object.keys(vars).filter((k) => /COMPACTION/.test(k));
      };
      const base = { ...valid, backend };
      expect(read(base)).toEqual(['ETCD_AUTO_COMPACTION_MODE', 'ETCD_AUTO_COMPACTION_RETENTION']);
      expect(
        read({
          ...base,
          backupBucketFile: '/etc/etcd-agent/backup-bucket',
          restoreCommand: ['etcdctl'],
          incrementalBackupSeconds: 10,
          etcdCommand: ['etcd'],
        }),
      ).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ quotaBackendBytes: 10 }, /backend.quotaBackendBytes: must be an integer from 1 MiB to 100 GiB/],
    [{ compactionMode: 'daily' }, /backend.compactionMode: must be one of periodic, revision, none/],
    [
      { compactionMode: 'revision', compactionRetention: '1h' },
      /backend.compactionRetention: must be a positive revision count/,
    ],
    [{ compactionRetention: 'an hour' }, /backend.compactionRetention: must be a duration/],
    [{ corruptCheck: 'yes' }, /backend.corruptCheck: must be true or false/],
  ])('rejects the backend settings %j naming the field', (b, message) => {
    expect(() => parseConfig(JSON.stringify({ ...valid, backend: b }))).toThrow(message);
  });
});

describe('the built agent bundle', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-cli-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [AGENT, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    });

  it('loads (etcd3 protos are inlined) and prints usage with exit 2 on no command', () => {
    const r = run([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: agent.js join\|promote\|handoff\|ship\|drill --config FILE/);
  });

  it('ship: exits 2 when the config has no incremental backup log', () => {
    const cfg = path.join(dir, 'no-log.json');
    fs.writeFileSync(cfg, JSON.stringify(valid));
    const r = run(['ship', '--config', cfg]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ship: the config has no incremental backup log/);
  });

  it('exits 2 naming the field when the config is missing or malformed', () => {
    expect(run(['join']).stderr).toMatch(/config: --config FILE is required/);
    const missing = run(['join', '--config', path.join(dir, 'nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...valid, sizeCap: 'three' }));
    const r = run(['join', '--config', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/sizeCap: must be an integer/);
  });

  it('gives up after bounded retries with one clear line when instance metadata is unreachable', () => {
    const cfg = path.join(dir, 'config.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        ...valid,
        dataDir: path.join(dir, 'data'),
        envFile: path.join(dir, 'env'),
        deadlineSeconds: 30,
      }),
    );
    // 127.0.0.1:9 (discard) refuses connections: nothing listens there.
    const started = Date.now();
    const r = run(['join', '--config', cfg], {
      AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9',
      AWS_REGION: 'local-1',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/join failed: instance metadata failed after 5 attempts/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(fs.existsSync(path.join(dir, 'env'))).toBe(false);
  });
});
