/*
 * The contract between synth time and run time (lib/contract): every field the construct writes is read by
 * the run-time code, and every field the run-time code reads is written, for the agent config (Ignition user
 * data) and the lifecycle Lambda's environment (the function's Variables). The readers run over what the
 * construct synthesized, behind a proxy that records each property they read. The same for what the local
 * fleet renders (fleet/render.ts), which uses the construct's own renderers.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  LIFECYCLE_ENV,
  PLATFORM_VARIABLES,
  readAgentConfig,
  readLifecycleEnvironment,
  RestorePolicy,
} from '../../lib/contract';
import { FleetBackup } from '../../fleet/backup';
import { agentConfig as fleetAgentConfig, awsEnv, handlerEnv, RenderInput } from '../../fleet/render';
import type { AwsStandIn } from '../../fleet/standin';
import type { FleetTls } from '../../fleet/tls';
import type { FleetOptions } from '../../fleet/types';
import { ignitionOf, makeCluster, REGION, resolveIntrinsics } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** `value` behind a proxy that adds every property read (dotted for nested objects) to `read`. */
function tracked<T extends object>(value: T, read: Set<string>, prefix = ''): T {
  return new Proxy(value, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key);
      if (typeof key !== 'string') return v;
      read.add(prefix + key);
      return v && typeof v === 'object' && !Array.isArray(v) ? tracked(v, read, `${prefix}${key}.`) : v;
    },
  });
}

/** Every key of `value`, nested objects' keys dotted (arrays are values). */
function keysOf(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? [prefix + k, ...keysOf(v as Record<string, unknown>, `${prefix}${k}.`)]
      : [prefix + k],
  );
}

/** The lifecycle function's environment, intrinsics replaced by stand-in strings, plus what Lambda sets. */
function lambdaEnvironment(template: Template): Record<string, string> {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
    (r) => r.Properties?.Environment?.Variables?.GROUP_NAME !== undefined,
  )!;
  return Object.fromEntries(
    Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
      k,
      resolveIntrinsics(v),
    ]),
  );
}

/** The agent config file of the Ignition user data, parsed. */
function agentConfigOf(template: Template): Record<string, unknown> {
  const file = ignitionOf(template).storage.files.find((f: Json) => f.path === '/etc/etcd-agent/config.json');
  const source: string = file.contents.source;
  return JSON.parse(decodeURIComponent(source.slice('data:,'.length)));
}

const platform = Object.fromEntries(PLATFORM_VARIABLES.map((name) => [name, REGION]));

/** Variables the Lambda's reader reads of `env` (the platform's left out). */
function readOfEnv(env: Record<string, string>): string[] {
  const read = new Set<string>();
  readLifecycleEnvironment(tracked({ ...env, ...platform }, read));
  return [...read].filter((k) => !PLATFORM_VARIABLES.includes(k)).sort();
}

/** Fields the agent's reader reads of `config`. */
function readOfAgentConfig(config: Record<string, unknown>): string[] {
  const read = new Set<string>();
  readAgentConfig(tracked(config, read));
  return [...read].sort();
}

/** Written and read, both ways: what is written and not read, what is read and not written. */
function gaps(written: string[], read: string[]) {
  return {
    writtenNotRead: written.filter((k) => !read.includes(k)).sort(),
    readNotWritten: read.filter((k) => !written.includes(k)).sort(),
  };
}

describe('construct with every feature on (TLS, backups, automatic restore, start beside backups)', () => {
  const { template } = makeCluster({
    backup: {
      prefix: 'etcd/',
      restorePolicy: RestorePolicy.AUTOMATIC,
      restoreAfter: Duration.minutes(15),
      snapshotBeforeMembershipChange: false,
      startEmptyBesideBackups: true,
    },
  });

  test('the Lambda environment: every variable written is read, every variable read is written', () => {
    const env = lambdaEnvironment(template);
    expect(Object.keys(env).length).toBeGreaterThanOrEqual(14);
    expect(gaps(Object.keys(env), readOfEnv(env))).toEqual({ writtenNotRead: [], readNotWritten: [] });
  });

  test('the agent config: every field written is read, every field read is written', () => {
    const config = agentConfigOf(template);
    expect(keysOf(config)).toContain('tls.caSecretId');
    expect(keysOf(config)).toEqual(
      expect.arrayContaining(['rolloutSignal.stackName', 'rolloutSignal.logicalResourceId']),
    );
    expect(gaps(keysOf(config), readOfAgentConfig(config))).toEqual({
      writtenNotRead: [],
      readNotWritten: [],
    });
  });
});

describe('construct with TLS and backups off', () => {
  const { template } = makeCluster({ tls: false, backup: { enabled: false } });

  test('nothing is written that nobody reads', () => {
    const env = lambdaEnvironment(template);
    expect(gaps(Object.keys(env), readOfEnv(env)).writtenNotRead).toEqual([]);
    const config = agentConfigOf(template);
    expect(gaps(keysOf(config), readOfAgentConfig(config)).writtenNotRead).toEqual([]);
  });
});

/**
 * Absent values that mean something else, not a default: no hook filter (any hook / no launch action), no
 * backups, no TLS, an unknown etcd version.
 */
const NOT_DEFAULTS = [
  LIFECYCLE_ENV.launchHookName,
  LIFECYCLE_ENV.terminateHookName,
  LIFECYCLE_ENV.backupBucket,
  'launchHookName',
  'backupBucketFile',
  'etcdVersion', // absent: unknown (no skew check)
  'rolloutSignal', // absent: no rollout signal (no gated rollout)
  'incrementalBackupSeconds', // absent: no incremental backup log
  LIFECYCLE_ENV.incrementalBackupSeconds,
  LIFECYCLE_ENV.restoreDrills, // absent: no restore drills (no verified-restore age)
  'etcdCommand', // absent: no etcd binary beside the restore tool
];

describe('the readers default to what the construct writes by default', () => {
  const { template } = makeCluster();

  test.each([
    [
      'Lambda environment',
      () => lambdaEnvironment(template),
      (v: Json) => readLifecycleEnvironment({ ...v, ...platform }),
    ],
    ['agent config', () => agentConfigOf(template), (v: Json) => readAgentConfig(v)],
  ])('%s: leaving out a field the reader has a default for reads the same', (_name, written, read) => {
    const full = written();
    const expected = read(full);
    const defaulted: string[] = [];
    for (const key of Object.keys(full).filter((k) => !NOT_DEFAULTS.includes(k))) {
      const without: Record<string, unknown> = { ...full };
      delete without[key];
      let got: unknown;
      try {
        got = read(without);
      } catch {
        continue; // required: no default to disagree with
      }
      defaulted.push(key);
      expect({ key, read: got }).toEqual({ key, read: expected });
    }
    expect(defaulted.length).toBeGreaterThanOrEqual(5);
  });
});

describe('the local fleet (fleet/render.ts) with TLS and backups', () => {
  let dir: string;
  let r: RenderInput;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-fleet-'));
    const opts = {
      dir,
      strategy: 'replace',
      maxSize: 5,
      launchTimeoutSeconds: 60,
      etcdVersion: '3.4.23',
    } as FleetOptions;
    r = {
      opts,
      // Only what the rendering reads: the endpoints (nothing is started).
      standIn: {
        endpoint: 'http://127.0.0.2:1',
        metadataEndpointFor: (id: string) => `http://127.0.0.2:2/${id}`,
      } as unknown as AwsStandIn,
      backup: new FleetBackup(
        { block: 0, dir, log: () => undefined, handler: () => undefined },
        { restorePolicy: 'automatic', emptyStartBesideBackups: true, incrementalSeconds: 10 },
      ),
      scheme: 'https',
      tls: { caSecretArn: 'arn:ca', clientSecretArn: 'arn:client' } as FleetTls,
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("the Lambda environment (the SDK's AWS_* variables aside): written and read, both ways", () => {
    const sdk = Object.keys(awsEnv(r));
    const env = Object.fromEntries(Object.entries(handlerEnv(r)).filter(([k]) => !sdk.includes(k)));
    expect(Object.keys(env).length).toBeGreaterThanOrEqual(14);
    expect(gaps(Object.keys(env), readOfEnv(env))).toEqual({ writtenNotRead: [], readNotWritten: [] });
  });

  test('an instance agent config: written and read, both ways', () => {
    const config = fleetAgentConfig(r, path.join(dir, 'i-1'), path.join(dir, 'i-1', 'data'));
    expect(config).toMatchObject({ heartbeatSeconds: 5, backupBucketFile: r.backup.bucketFile });
    expect(gaps(keysOf(config), readOfAgentConfig(config))).toEqual({
      writtenNotRead: [],
      readNotWritten: [],
    });
  });

  test('the fleet writes the same fields as the construct', () => {
    const { template } = makeCluster({ backup: { restorePolicy: RestorePolicy.AUTOMATIC } });
    const config = fleetAgentConfig(r, path.join(dir, 'i-1'), path.join(dir, 'i-1', 'data'));
    const construct = keysOf(agentConfigOf(template));
    // The fleet always gives its agents the rollout signal target (etcd-fleet roll waits on it); the construct
    // gives it once its group's update policy waits on signals (issue 15): compared as soon as it does.
    expect(config.rolloutSignal).toEqual({ stackName: 'etcd-fleet', logicalResourceId: 'EtcdFleetGroup' });
    expect(keysOf(config).filter((k) => !k.startsWith('rolloutSignal') || construct.includes(k))).toEqual(
      construct,
    );
    const sdk = Object.keys(awsEnv(r));
    const env = Object.keys(handlerEnv(r)).filter((k) => !sdk.includes(k));
    expect(env).toEqual(Object.keys(lambdaEnvironment(template)));
  });
});
