/* Prop checks of EtcdCluster: every problem is collected, each message names its prop. Token-safe. */
import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { DEFAULTS } from './contract';

/** An acknowledgeable warning: id for `Annotations.addWarningV2`, and the message. */
export interface PropWarning {
  readonly id: string;
  readonly message: string;
}

export interface PropCheckInput {
  readonly size: number;
  readonly dataVolumeSize: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly reconcileInterval: Duration;
  readonly unstartedGrace: Duration;
  readonly lifecycleHeartbeatTimeout: Duration;
  readonly rolloutSignalTimeout: Duration;
  readonly etcdVersion?: string;
  readonly etcdImage?: string;
  readonly nodeImage: string;
}

export interface PropCheckResult {
  readonly errors: string[];
  readonly warnings: PropWarning[];
}

/** A container image reference that is safe to put on a systemd ExecStart line. */
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

function isInt(n: number): boolean {
  return Number.isInteger(n);
}

/** Whether `d.toSeconds()` works (a token duration converts only from seconds). */
export function convertsToSeconds(d: Duration): boolean {
  try {
    d.toSeconds();
    return true;
  } catch {
    return false;
  }
}

export function checkProps(p: PropCheckInput): PropCheckResult {
  const errors: string[] = [];
  const warnings: PropWarning[] = [];

  if (Token.isUnresolved(p.size)) {
    errors.push(
      'size: must be a number known at synth time, not a token: the rolling update keeps size - 1 members in ' +
        'service and the synth-time quorum checks read it',
    );
  } else {
    if (!isInt(p.size) || p.size < 1 || p.size > 7) {
      errors.push(`size: must be an integer from 1 to 7 (got ${p.size})`);
    } else if (p.size % 2 === 0) {
      warnings.push({
        id: 'cdk-elastic-etcd:evenSize',
        message:
          `size is ${p.size}: an even-sized etcd cluster tolerates no more failures than size ${p.size - 1} ` +
          `(quorum ${p.size / 2 + 1}) while needing one more member to agree. Prefer an odd size.`,
      });
    }
  }

  if (
    !Token.isUnresolved(p.dataVolumeSize) &&
    (!isInt(p.dataVolumeSize) || p.dataVolumeSize < 1 || p.dataVolumeSize > 16384)
  ) {
    errors.push(`dataVolumeSize: must be an integer number of GiB from 1 to 16384 (got ${p.dataVolumeSize})`);
  }

  const ports: [string, number][] = [
    ['clientPort', p.clientPort],
    ['peerPort', p.peerPort],
  ];
  for (const [name, port] of ports) {
    if (!Token.isUnresolved(port) && (!isInt(port) || port < 1 || port > 65535)) {
      errors.push(`${name}: must be an integer from 1 to 65535 (got ${port})`);
    }
  }
  if (!Token.isUnresolved(p.clientPort) && p.clientPort === p.peerPort) {
    errors.push(`peerPort: must differ from clientPort (both ${p.peerPort})`);
  }

  // A duration from a token converts to another unit only by arithmetic, which a token cannot take.
  for (const [name, d] of [
    ['lifecycleHeartbeatTimeout', p.lifecycleHeartbeatTimeout],
    ['unstartedGrace', p.unstartedGrace],
  ] as [string, Duration][]) {
    if (d.isUnresolved() && !convertsToSeconds(d)) {
      errors.push(
        `${name}: a duration from a token must be given as Duration.seconds(token) (got ${d.unitLabel()})`,
      );
    }
  }
  if (p.reconcileInterval.isUnresolved() && !/^(minute|hour|day)s?$/.test(p.reconcileInterval.unitLabel())) {
    errors.push(
      `reconcileInterval: a duration from a token must be given in minutes, hours or days (got ${p.reconcileInterval.unitLabel()})`,
    );
  }
  if (!p.reconcileInterval.isUnresolved()) {
    const minutes = p.reconcileInterval.toSeconds() / 60;
    if (!isInt(minutes) || minutes < 1 || minutes > 1440) {
      errors.push(
        `reconcileInterval: must be a whole number of minutes from 1 to 1440 (got ${p.reconcileInterval.toSeconds()} s)`,
      );
    }
  }

  let heartbeat: number | undefined;
  if (!p.lifecycleHeartbeatTimeout.isUnresolved()) {
    heartbeat = p.lifecycleHeartbeatTimeout.toSeconds();
    if (!isInt(heartbeat) || heartbeat < 30 || heartbeat > 7200) {
      errors.push(
        `lifecycleHeartbeatTimeout: must be a whole number of seconds from 30 to 7200 (got ${heartbeat} s)`,
      );
      heartbeat = undefined;
    }
  }

  if (!p.unstartedGrace.isUnresolved()) {
    const grace = p.unstartedGrace.toSeconds();
    if (!isInt(grace) || grace < 60 || grace > 86400) {
      errors.push(`unstartedGrace: must be a whole number of seconds from 60 to 86400 (got ${grace} s)`);
    } else if (heartbeat !== undefined && grace < heartbeat) {
      warnings.push({
        id: 'cdk-elastic-etcd:shortUnstartedGrace',
        message:
          `unstartedGrace (${grace} s) is shorter than lifecycleHeartbeatTimeout (${heartbeat} s): the reconcile may ` +
          'remove the member entry of an instance that is still booting and joining.',
      });
    }
  }

  const rolloutErrors = checkRolloutSignalTimeout(p.rolloutSignalTimeout);
  errors.push(...rolloutErrors);
  if (rolloutErrors.length === 0 && p.rolloutSignalTimeout.toSeconds() < DEFAULTS.deadlineSeconds) {
    warnings.push({
      id: 'cdk-elastic-etcd:shortRolloutSignalTimeout',
      message:
        `rolloutSignalTimeout (${p.rolloutSignalTimeout.toSeconds()} s) is shorter than the join agent's own ` +
        `deadline (${DEFAULTS.deadlineSeconds} s): a replacement that is still joining or syncing a large keyspace ` +
        'when it passes fails the deployment, and CloudFormation rolls the update back.',
    });
  }
  errors.push(...checkEtcdRelease(p.etcdVersion, p.etcdImage));
  const images: [string, string | undefined][] = [
    ['etcdImage', p.etcdImage],
    ['nodeImage', p.nodeImage],
  ];
  for (const [name, image] of images) {
    if (image !== undefined && !Token.isUnresolved(image) && !IMAGE_REF.test(image)) {
      errors.push(
        `${name}: must be a container image reference such as registry/repo:tag or repo@sha256:... (got ${JSON.stringify(image)})`,
      );
    }
  }
  return { errors, warnings };
}

/**
 * etcd 3.4's images on quay.io are single-architecture (amd64; arm64 only under separate `-arm64` tags),
 * so `etcdVersion` 3.4.x, which selects `quay.io/coreos/etcd:v<version>`, cannot run on an arm64
 * instance. Token-safe: an unresolved version or instance type is not checked.
 */
export function checkEtcdArchitecture(
  etcdVersion: string | undefined,
  instanceType: ec2.InstanceType,
): string[] {
  const name = instanceType.toString();
  if (etcdVersion === undefined || Token.isUnresolved(etcdVersion) || Token.isUnresolved(name)) {
    return [];
  }
  // Only now: InstanceType.architecture throws on a name it cannot parse (a token).
  if (/^3\.4\./.test(etcdVersion) && instanceType.architecture === ec2.InstanceArchitecture.ARM_64) {
    return [
      `etcdVersion: ${etcdVersion} has no arm64 image (etcd 3.4 images are not multi-arch) but instanceType ` +
        `${name} is arm64; use etcd 3.5 or later, an x86_64 instance type, or etcdImage with an arm64 image`,
    ];
  }
  return [];
}

/** The etcd minor versions the project supports (lambda/core/versions.ts has the run-time rules). */
const SUPPORTED_RELEASE = /^3\.[4-6]\.\d+$/;

/** The release in an image reference's tag (`…/etcd:v3.5.26`, `…:3.5.26-arm64`), or undefined (a digest, a token). */
export function versionOfImage(image: string): string | undefined {
  if (Token.isUnresolved(image)) return undefined;
  return /:v?(\d+\.\d+\.\d+)(?:[-+][\w.-]*)?(?:@sha256:[0-9a-f]+)?$/.exec(image)?.[1];
}

/**
 * The construct must know the etcd release the members run (the restore tool, the agent's version-skew check):
 * `etcdVersion`, or the release in `etcdImage`'s tag; both may be given when they agree (or the tag shows
 * none, e.g. a digest-pinned mirror). Only 3.4.x to 3.6.x.
 */
export function checkEtcdRelease(etcdVersion?: string, etcdImage?: string): string[] {
  const errors: string[] = [];
  if (etcdVersion !== undefined) {
    if (Token.isUnresolved(etcdVersion)) {
      errors.push(
        'etcdVersion: must be known at synth time, not a token (the restore tool and the version-skew checks depend on it)',
      );
    } else if (!SUPPORTED_RELEASE.test(etcdVersion)) {
      errors.push(
        `etcdVersion: must be an etcd release from 3.4.x to 3.6.x without the "v", e.g. 3.5.26 (got ${JSON.stringify(etcdVersion)})`,
      );
    }
  }
  if (etcdImage === undefined) return errors;
  const tagged = versionOfImage(etcdImage);
  if (tagged === undefined && etcdVersion === undefined) {
    const what = Token.isUnresolved(etcdImage)
      ? 'is a token, so its tag cannot be read'
      : `(${JSON.stringify(etcdImage)}) has no etcd release in its tag (such as :v3.5.26)`;
    errors.push(
      `etcdImage: ${what}; pass etcdVersion with the etcd release the image runs (e.g. etcdVersion: '3.5.26' beside a digest-pinned mirror)`,
    );
  } else if (tagged !== undefined && !SUPPORTED_RELEASE.test(tagged)) {
    errors.push(`etcdImage: its tag names etcd ${tagged}; only 3.4.x to 3.6.x are supported`);
  } else if (tagged !== undefined && etcdVersion !== undefined && !Token.isUnresolved(etcdVersion)) {
    if (tagged !== etcdVersion) {
      errors.push(
        `etcdVersion: ${etcdVersion} differs from the release in etcdImage's tag (${tagged}); give the release the image runs, or leave etcdVersion out`,
      );
    }
  }
  return errors;
}

/**
 * The rollout gate's wait: CloudFormation's CreationPolicy timeout and the rolling update's PauseTime, both
 * ISO 8601 durations in resource attributes (computed here, so not from a token), PauseTime at most PT1H.
 */
export function checkRolloutSignalTimeout(d: Duration): string[] {
  if (d.isUnresolved()) {
    return [
      'rolloutSignalTimeout: must be known at synth time, not a token (CloudFormation takes it as an ISO 8601 ' +
        "duration in the group's CreationPolicy and UpdatePolicy)",
    ];
  }
  const seconds = d.toSeconds({ integral: false });
  if (!isInt(seconds) || seconds < 60 || seconds > 3600) {
    return [
      `rolloutSignalTimeout: must be a whole number of seconds from 1 to 60 minutes (CloudFormation's PauseTime ` +
        `is at most PT1H) (got ${seconds} s)`,
    ];
  }
  return [];
}
