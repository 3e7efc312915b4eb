/*
 * The package as a user gets it: `npm pack` of this repo (after `npm run build`), installed into a fresh
 * app outside the repo next to aws-cdk-lib, constructs, typescript and @types/node, compiled with
 * `tsc --strict`, synthesized with the CDK CLI. The app is examples/consumer/app.ts, the same text as the
 * README's Install section.
 *
 * Offline: the app's lock file is cut from this repo's package-lock.json (same versions, same integrity),
 * so `npm ci --offline` takes every package from the npm cache that this repo's `npm ci` filled.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'consumer');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const FAKE_AMI = 'ami-0123456789abcdef0';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  inBundle?: boolean;
  [key: string]: unknown;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

/**
 * The lock entries of `roots` and everything they depend on, as this repo's lock file resolved them
 * (Node's lookup: the nearest node_modules/<dep> walking up from the dependent's folder).
 */
function lockClosure(lock: Record<string, LockEntry>, roots: string[]): Record<string, LockEntry> {
  const out: Record<string, LockEntry> = {};
  const queue = roots.map((name) => `node_modules/${name}`);
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (out[key]) continue;
    const entry = lock[key];
    if (!entry) throw new Error(`package-lock.json has no ${key}`);
    const copy: LockEntry = { ...entry };
    for (const flag of ['dev', 'devOptional', 'peer', 'optional']) delete copy[flag];
    out[key] = copy;
    // Bundled packages come inside their parent's tarball, but their lock entries must be listed too.
    for (const nested of Object.keys(lock)) {
      if (nested.startsWith(`${key}/node_modules/`) && lock[nested].inBundle && !out[nested]) {
        const n: LockEntry = { ...lock[nested] };
        for (const flag of ['dev', 'devOptional', 'peer', 'optional']) delete n[flag];
        out[nested] = n;
      }
    }
    if (entry.inBundle) continue;
    const deps = { ...entry.dependencies, ...entry.optionalDependencies };
    for (const dep of Object.keys(deps)) {
      let dir = key;
      let found: string | undefined;
      for (;;) {
        const candidate = `${dir}/node_modules/${dep}`;
        if (lock[candidate]) {
          found = candidate;
          break;
        }
        const up = dir.lastIndexOf('/node_modules/');
        if (up < 0) break;
        dir = dir.slice(0, up);
      }
      found = found ?? (lock[`node_modules/${dep}`] ? `node_modules/${dep}` : undefined);
      if (!found) {
        if (entry.optionalDependencies?.[dep]) continue;
        throw new Error(`package-lock.json does not resolve ${dep} (needed by ${key})`);
      }
      if (!lock[found].inBundle) queue.push(found);
    }
  }
  return out;
}

/** Every leaf value in a CloudFormation value, with each Fn::Join flattened to text (tokens as `{…}`). */
function flatten(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(flatten).join('');
  if (value && typeof value === 'object') {
    if (Array.isArray(value['Fn::Join'])) {
      const [delimiter, parts] = value['Fn::Join'];
      return (parts as Json[]).map(flatten).join(delimiter);
    }
    if (typeof value.Ref === 'string') return `{Ref:${value.Ref}}`;
    if (typeof value['Fn::Sub'] === 'string') return value['Fn::Sub'];
    if (value['Fn::Base64'] !== undefined) return flatten(value['Fn::Base64']);
    return JSON.stringify(value);
  }
  return '';
}

describe('the npm package in a fresh CDK app', () => {
  let tmp: string;
  let tarball: string;
  let packedFiles: string[];
  let outDir: string;
  let template: Json;
  let assets: Json;
  const timings: Record<string, number> = {};
  const timed = <T>(name: string, fn: () => T): T => {
    const t0 = Date.now();
    try {
      return fn();
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
    }
  };

  beforeAll(() => {
    for (const built of ['dist/index.js', 'dist/index.d.ts']) {
      if (!fs.existsSync(path.join(ROOT, built))) {
        throw new Error(`${built} is missing: run \`npm run build\` before this test`);
      }
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-elastic-etcd-consumer-'));
    const packed = JSON.parse(
      timed('npm pack', () =>
        run('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, { npm_config_loglevel: 'error' }),
      ),
    )[0];
    tarball = path.join(tmp, packed.filename);
    packedFiles = (packed.files as { path: string }[]).map((f) => f.path).sort();

    // The app: the example's files, and a package.json + lock as `npm install cdk-elastic-etcd aws-cdk-lib
    // constructs` (with typescript and @types/node for the build) would write them, at this repo's versions.
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    for (const f of ['app.ts', 'tsconfig.json', 'cdk.json'])
      fs.copyFileSync(path.join(EXAMPLE, f), path.join(app, f));
    const repoLock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'))
      .packages as Record<string, LockEntry>;
    const version = (name: string) => repoLock[`node_modules/${name}`].version!;
    const tgzSpec = `file:../${packed.filename}`;
    const dependencies = {
      'aws-cdk-lib': version('aws-cdk-lib'),
      'cdk-elastic-etcd': tgzSpec,
      constructs: version('constructs'),
    };
    const devDependencies = { '@types/node': version('@types/node'), typescript: version('typescript') };
    const pkg = { name: 'consumer-app', version: '1.0.0', private: true, dependencies, devDependencies };
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    const ownPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
    const lock = {
      name: pkg.name,
      version: pkg.version,
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: pkg.name, version: pkg.version, dependencies, devDependencies },
        'node_modules/cdk-elastic-etcd': {
          version: ownPkg.version,
          resolved: tgzSpec,
          integrity,
          license: ownPkg.license,
          ...(ownPkg.dependencies && { dependencies: ownPkg.dependencies }),
          peerDependencies: ownPkg.peerDependencies,
          engines: ownPkg.engines,
        },
        ...lockClosure(repoLock, ['aws-cdk-lib', 'constructs', '@types/node', 'typescript']),
      },
    };
    fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
    timed('npm ci --offline', () =>
      run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app, {
        npm_config_loglevel: 'error',
      }),
    );
    timed('tsc', () => run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], app));

    // The stack has an env, so the construct looks the Flatcar AMI up (and the VPC its zones): answer those
    // lookups in cdk.context.json as the CLI would have cached them, so the synth needs no AWS account.
    const env = {
      CDK_DEFAULT_ACCOUNT: ACCOUNT,
      CDK_DEFAULT_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DISABLE_VERSION_CHECK: '1',
    };
    const probe = path.join(tmp, 'probe.out');
    timed('probe synth', () => run(process.execPath, ['app.js'], app, { ...env, CDK_OUTDIR: probe }));
    const missing = (JSON.parse(fs.readFileSync(path.join(probe, 'manifest.json'), 'utf8')).missing ??
      []) as {
      key: string;
      provider: string;
    }[];
    const answers: Record<string, string> = { ami: FAKE_AMI };
    const context: Record<string, unknown> = {};
    for (const m of missing) {
      if (m.provider === 'availability-zones') context[m.key] = ['a', 'b', 'c'].map((z) => `${REGION}${z}`);
      else if (answers[m.provider]) context[m.key] = answers[m.provider];
      else throw new Error(`unexpected context lookup ${m.provider}: ${m.key}`);
    }
    expect(missing.map((m) => m.provider).sort()).toEqual(['ami', 'availability-zones']);
    fs.writeFileSync(path.join(app, 'cdk.context.json'), JSON.stringify(context, null, 2));

    outDir = path.join(app, 'cdk.out');
    timed('cdk synth', () =>
      run(CDK, ['synth', '--quiet', '--no-notices', '--lookups=false', '-o', outDir], app, env),
    );
    template = JSON.parse(fs.readFileSync(path.join(outDir, 'EtcdStack.template.json'), 'utf8'));
    assets = JSON.parse(fs.readFileSync(path.join(outDir, 'EtcdStack.assets.json'), 'utf8'));
  }, 600_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    console.log(
      `consumer test timings (s): ${Object.entries(timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
  });

  test('the tarball holds exactly the compiled lib/ and the three bundles it references', () => {
    const libModules = (fs.readdirSync(path.join(ROOT, 'lib'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.split(path.sep).join('/').replace(/\.ts$/, ''));
    const expected = [
      'LICENSE',
      'README.md',
      'package.json',
      'build/agent/agent.js',
      'build/ca/index.js',
      'build/lambda/index.js',
      ...libModules.flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`]),
    ].sort();
    expect(packedFiles).toEqual(expected);
  });

  test('installing it brings only its peers: no run-time package of the bundles', () => {
    const installed = JSON.parse(
      fs.readFileSync(path.join(tmp, 'app', 'node_modules', '.package-lock.json'), 'utf8'),
    ).packages as Record<string, LockEntry>;
    const runtime = /^node_modules\/(@aws-sdk\/.*|etcd3|@peculiar\/x509|cockatiel|reflect-metadata)$/;
    expect(Object.keys(installed).filter((k) => runtime.test(k))).toEqual([]);
    const ownPkg = JSON.parse(
      fs.readFileSync(path.join(tmp, 'app', 'node_modules', 'cdk-elastic-etcd', 'package.json'), 'utf8'),
    );
    expect(ownPkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(ownPkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(ownPkg.bin).toBeUndefined();
  });

  test('every asset the template references is in cdk.out and not empty', () => {
    const files = assets.files as Record<string, Json>;
    expect(Object.keys(files).length).toBeGreaterThanOrEqual(4); // agent, lifecycle Lambda, TLS Lambda, template
    for (const [hash, asset] of Object.entries(files)) {
      const p = path.join(outDir, asset.source.path);
      expect(fs.existsSync(p)).toBe(true);
      const size = fs.statSync(p).isDirectory()
        ? fs.readdirSync(p).reduce((n, f) => n + fs.statSync(path.join(p, f)).size, 0)
        : fs.statSync(p).size;
      expect({ hash, size: size > 0 }).toEqual({ hash, size: true });
    }
    const objectKeys = new Set(
      Object.values(files).flatMap((a: Json) => Object.values(a.destinations).map((d: Json) => d.objectKey)),
    );
    const text = JSON.stringify(template);
    // Lambda code: each S3Key is an asset's object key.
    const functions = Object.values(template.Resources).filter(
      (r: Json) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const fn of functions as Json[]) expect(objectKeys.has(fn.Properties.Code.S3Key)).toBe(true);
    // The agent: Ignition's s3:// source names an asset's object key.
    const lt = Object.values(template.Resources).find(
      (r: Json) => r.Type === 'AWS::EC2::LaunchTemplate',
    ) as Json;
    const userData = JSON.parse(flatten(lt.Properties.LaunchTemplateData.UserData));
    const agentFile = userData.storage.files.find((f: Json) => f.path === '/opt/etcd-agent/agent.js');
    const key = /^s3:\/\/[^/]+\/(.+)$/.exec(agentFile.contents.source)?.[1];
    expect(objectKeys.has(key)).toBe(true);
    // And every hash-named object key in the template is one of the assets.
    for (const m of text.matchAll(/([0-9a-f]{64})\.(zip|js|json)/g))
      expect(objectKeys.has(`${m[1]}.${m[2]}`)).toBe(true);
  });

  test("Ignition's verification.hash is the sha512 of the shipped agent, and that asset holds those bytes", () => {
    const shipped = fs.readFileSync(
      path.join(tmp, 'app', 'node_modules', 'cdk-elastic-etcd', 'build', 'agent', 'agent.js'),
    );
    const sha512 = crypto.createHash('sha512').update(shipped).digest('hex');
    const lt = Object.values(template.Resources).find(
      (r: Json) => r.Type === 'AWS::EC2::LaunchTemplate',
    ) as Json;
    const userData = JSON.parse(flatten(lt.Properties.LaunchTemplateData.UserData));
    const agentFile = userData.storage.files.find((f: Json) => f.path === '/opt/etcd-agent/agent.js');
    expect(agentFile.contents.verification.hash).toBe(`sha512-${sha512}`);
    const key = /^s3:\/\/[^/]+\/(.+)$/.exec(agentFile.contents.source)![1];
    const asset = Object.values(assets.files as Record<string, Json>).find((a: Json) =>
      Object.values(a.destinations).some((d: Json) => d.objectKey === key),
    ) as Json;
    const staged = fs.readFileSync(path.join(outDir, asset.source.path));
    expect(crypto.createHash('sha512').update(staged).digest('hex')).toBe(sha512);
  });

  test('the app wires a client: its security group reaches the client port, its role reads the client secret', () => {
    const resources = Object.entries(template.Resources) as [string, Json][];
    const clientSg = resources.find(([id]) => id.startsWith('ClientSecurityGroup'))![0];
    const ingress = resources.filter(
      ([, r]) =>
        r.Type === 'AWS::EC2::SecurityGroupIngress' &&
        r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === clientSg,
    );
    expect(ingress.map(([, r]) => [r.Properties.FromPort, r.Properties.ToPort])).toEqual([[2379, 2379]]);
    const clientRole = resources.find(
      ([id, r]) => id.startsWith('ClientRole') && r.Type === 'AWS::IAM::Role',
    )![0];
    const policies = resources.filter(
      ([, r]) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: Json) => x.Ref === clientRole),
    );
    const actions = policies.flatMap(([, r]) =>
      r.Properties.PolicyDocument.Statement.flatMap((s: Json) => s.Action),
    );
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
  });
});

describe('README', () => {
  test("the README's Install section shows exactly this app", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- examples\/consumer\/app\.ts -->\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    expect(block![1]).toBe(fs.readFileSync(path.join(EXAMPLE, 'app.ts'), 'utf8'));
  });
});
