/*
 * Renders the Ignition config (spec 3.4.0) that Flatcar runs on first boot. Pure: no constructs,
 * no I/O. The construct passes in everything that depends on the stack (the agent's S3 URL, which
 * may hold CloudFormation tokens, and the bundle's sha512), so tests can render it on their own.
 *
 * Not part of the public (jsii) API: lib/index.ts does not export this module.
 */

import { AgentConfig, writeAgentConfig } from './contract';
import {
  AGENT_CONFIG_DIR,
  AGENT_CONFIG_PATH,
  AGENT_DIR,
  AGENT_PATH,
  BACKUP_BUCKET_PATH,
  ETCD_DATA_DIR,
  ETCD_ENV_DIR,
  ETCD_ENV_FILE,
  TLS_HOST_DIR,
} from './private/host-paths';
import { FLATCAR_UPDATE_CONF, flatcarUpdateConf, MASKED_OS_UNITS } from './private/os-updates';
import { tokenAwareJson } from './tokens';

export * from './private/host-paths';
export * from './private/restore-tool';
import { RESTORE_TOOL_DIR, restoreToolCopy } from './private/restore-tool';
import { DRILL_SERVICE, DRILL_TIMER, drillServiceUnit, drillTimerUnit } from './private/drill-units';
export { DRILL_SERVICE, DRILL_TIMER } from './private/drill-units';

/** The mount unit name systemd derives from ETCD_DATA_DIR. */
export const DATA_MOUNT_UNIT = 'var-lib-etcd.mount';
/** Filesystem label of the data volume; the mount unit finds the volume by it. */
export const DATA_LABEL = 'etcd-data';
/** Name of the drop-in added to Flatcar's etcd-member.service. */
export const ETCD_MEMBER_DROPIN = '20-cdk-elastic-etcd.conf';

export interface IgnitionInput {
  /** `s3://bucket/key` of the agent bundle (may contain unresolved tokens). */
  readonly agentSource: string;
  /** sha512 hex digest of the exact bundle bytes. */
  readonly agentSha512: string;
  /** The agent's config (lib/private/run-time-config.ts, renderAgentConfig). */
  readonly agentConfig: AgentConfig;
  /** Container image with `node` on its PATH (the official Node image by digest). */
  readonly nodeImage: string;
  /** etcd container image that Flatcar's etcd-member.service runs. */
  readonly etcdImage: string;
  /** The release the etcd image runs, when known (which restore tool it has); else judged from its tag. */
  readonly etcdVersion?: string;
  /** Block device of the data volume as Ignition sees it (Flatcar links NVMe EBS volumes to /dev/xvdX). */
  readonly dataDevice: string;
  /** TimeoutStartSec of the two agent units (pull of the Node image + the agent's deadline). */
  readonly agentTimeoutSeconds: number;
  /**
   * Name of the backup bucket (usually a token). Written to its own file, not into the JSON config: the
   * config is percent-encoded into a data URL, which would break a token's markers.
   */
  readonly backupBucket?: string;
  /** Restore drills: the timer's interval in seconds (lib/private/drill-units.ts); absent: no drills. */
  readonly drillIntervalSeconds?: number;
}

/** CDK's string token markers, e.g. `${Token[TOKEN.123]}`. */
const TOKEN_MARKER = /\$\{Token\[[^\]]+\]\}/g;

/**
 * A `data:` URL (RFC 2397) with the text percent-encoded, as Ignition accepts for inline contents.
 * Unresolved CDK tokens (e.g. a secret ARN) are kept as they are, so CloudFormation fills them in; their
 * values (ARNs: letters, digits and `:/-_.`) need no escaping.
 */
export function dataUrl(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(TOKEN_MARKER)) {
    out += encodeURIComponent(text.slice(last, m.index)) + m[0];
    last = m.index! + m[0].length;
  }
  return 'data:,' + out + encodeURIComponent(text.slice(last));
}

/** The agent's commands, each run by its own unit in its own container. */
export type AgentVerb = 'join' | 'promote' | 'handoff' | 'ship' | 'drill';

/** Name of the agent's container in `verb`'s unit. */
export function agentContainerName(verb: AgentVerb): string {
  return `etcd-agent-${verb}`;
}

function agentCommand(input: IgnitionInput, verb: AgentVerb): string {
  return [
    '/usr/bin/docker run --rm',
    // --init: docker's init is PID 1 and passes SIGTERM on, so `systemctl stop` ends node (PID 1 ignores
    // signals it has no handler for) and --rm removes the container.
    '--init',
    `--name ${agentContainerName(verb)}`,
    '--network host',
    `-v ${AGENT_DIR}:${AGENT_DIR}:ro`,
    `-v ${AGENT_CONFIG_DIR}:${AGENT_CONFIG_DIR}:ro`,
    // The shipper talks to etcd and S3 only: no data dir, no settings, no restore tool, its certificate read-only.
    // The drill restores into a work dir on the data volume with the image's tools, its certificate read-only.
    ...(verb === 'ship'
      ? []
      : verb === 'drill'
        ? [`-v ${RESTORE_TOOL_DIR}:${RESTORE_TOOL_DIR}:ro`, `-v ${ETCD_DATA_DIR}:${ETCD_DATA_DIR}`]
        : [
            `-v ${ETCD_ENV_DIR}:${ETCD_ENV_DIR}`,
            `-v ${ETCD_DATA_DIR}:${ETCD_DATA_DIR}`,
            '-v /run/metadata:/run/metadata:ro',
            // Backups: the restore gate runs the etcd image's own restore tool, copied out at boot.
            ...(input.backupBucket ? [`-v ${RESTORE_TOOL_DIR}:${RESTORE_TOOL_DIR}:ro`] : []),
          ]),
    ...(input.agentConfig.tls
      ? [`-v ${TLS_HOST_DIR}:${TLS_HOST_DIR}${verb === 'ship' || verb === 'drill' ? ':ro' : ''}`]
      : []),
    input.nodeImage,
    `node ${AGENT_PATH} ${verb} --config ${AGENT_CONFIG_PATH}`,
  ].join(' ');
}

/** The data volume's mount unit (Ignition's `filesystems[].path` only mounts it while Ignition runs). */
export function dataMountUnit(): string {
  return [
    '[Unit]',
    'Description=etcd data volume (cdk-elastic-etcd)',
    'Before=local-fs.target',
    '',
    '[Mount]',
    `What=/dev/disk/by-label/${DATA_LABEL}`,
    `Where=${ETCD_DATA_DIR}`,
    'Type=xfs',
    'Options=defaults,noatime',
    '',
    '[Install]',
    'WantedBy=local-fs.target',
    '',
  ].join('\n');
}

/**
 * Before every run: a container of that name left over (a stopped unit whose container outlived it, a
 * crash of docker's client) would make `docker run --name` fail. '-': no such container is fine.
 */
function removeStaleContainer(verb: AgentVerb, directive = 'ExecStartPre'): string {
  return `${directive}=-/usr/bin/docker rm -f ${agentContainerName(verb)}`;
}

/**
 * Runs the agent's join phase before etcd starts: it writes ETCD_* settings to /run/etcd/env.
 * No RemainAfterExit: etcd-member.service starts it from its ExecStartPre at every (re)start, so a member
 * that was removed while it ran (etcd exits "permanently removed") is detected, wiped and rejoins on
 * the next restart instead of crash-looping on its old data dir.
 * No [Install] section and not enabled: that ExecStartPre is its only start. Enabled in
 * multi-user.target it ran twice on every boot (once for the target, once more for etcd-member).
 */
export function joinUnit(input: IgnitionInput): string {
  return [
    '[Unit]',
    'Description=cdk-elastic-etcd: join the etcd cluster (writes /run/etcd/env)',
    'Wants=network-online.target coreos-metadata.service',
    'Requires=docker.service',
    'After=network-online.target coreos-metadata.service docker.service',
    'Before=etcd-member.service',
    `RequiresMountsFor=${ETCD_DATA_DIR}`,
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=no',
    `TimeoutStartSec=${input.agentTimeoutSeconds}`,
    `ExecStartPre=/usr/bin/mkdir -p ${ETCD_ENV_DIR}`,
    ...(input.backupBucket ? [`ExecStartPre=${restoreToolCopy(input.etcdImage, input.etcdVersion)}`] : []),
    removeStaleContainer('join'),
    `ExecStart=${agentCommand(input, 'join')}`,
    '',
  ].join('\n');
}

/**
 * Runs the agent's promote phase once etcd is up: promote the learner, complete the launch action.
 * etcd-member.service starts it (without waiting) after every start, so a rejoined learner is promoted.
 */
export function promoteUnit(input: IgnitionInput): string {
  return [
    '[Unit]',
    'Description=cdk-elastic-etcd: promote this member and complete the launch lifecycle action',
    'Requires=etcd-member.service docker.service',
    'After=etcd-member.service docker.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=no',
    `TimeoutStartSec=${input.agentTimeoutSeconds}`,
    removeStaleContainer('promote'),
    `ExecStart=${agentCommand(input, 'promote')}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Bound of the handoff at stop: the agent waits at most ~3 s for the new leader, plus starting its container. */
export const HANDOFF_STOP_TIMEOUT_SECONDS = 30;

/**
 * Hands leadership over before etcd stops: its ExecStop runs the agent's `handoff` (if this member leads, move
 * leadership to the most caught-up healthy voter and wait until it took over; it always exits 0). Active from
 * etcd's start to its stop: etcd-member's drop-in wants it, and it starts after etcd (After=). At a stop,
 * systemd reverses the order: with After=etcd-member.service this unit is stopped BEFORE etcd-member, and
 * PartOf= carries `systemctl stop`/`restart etcd-member.service` over to it, so its ExecStop runs while etcd
 * still serves; at shutdown the same ordering holds, and After=docker.service network-online.target keeps
 * docker and the network up until it is done. etcd itself, stopped by SIGTERM while it leads, transfers
 * leadership to its longest-connected voter (EtcdServer's graceful stop); the handoff does it first, to the
 * most caught-up healthy voter, with a logged decision, and so etcd's own stop finds it is not the leader.
 */
export function handoffUnit(input: IgnitionInput): string {
  return [
    '[Unit]',
    'Description=cdk-elastic-etcd: hand etcd leadership over before etcd stops',
    'Requires=docker.service',
    'After=etcd-member.service docker.service network-online.target',
    'PartOf=etcd-member.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/bin/true',
    removeStaleContainer('handoff', 'ExecStop'),
    `ExecStop=${agentCommand(input, 'handoff')}`,
    `TimeoutStopSec=${HANDOFF_STOP_TIMEOUT_SECONDS}`,
    '',
  ].join('\n');
}

/** Name of the incremental backup log's unit (present when the config has incrementalBackupSeconds). */
export const BACKUP_LOG_UNIT = 'etcd-backup-log.service';

/**
 * The incremental backup log's shipper (`agent.js ship`, lambda/agent/ship.ts) on every member: long-running
 * beside etcd, because a process there survives member churn (every member runs one, they campaign in an
 * etcd election and the elected one ships; when its member goes, another takes over after the election's
 * lease), while the Lambda runs only on events and schedules and cannot watch continuously. Requires= and
 * After=etcd-member.service: it starts once etcd is up and stops (SIGTERM through docker's init: it flushes
 * and resigns) before etcd stops; Restart=always brings it back after any failure. After=etcd-promote.service
 * too (a oneshot: ordered after it has exited, whatever its result): a learner refuses the election's lease
 * grant ("rpc not supported for learner"), so a shipper started beside a catching-up learner could only fail
 * and back off, while its container's cold start takes CPU from the catch-up and from the promote itself.
 */
export function backupLogUnit(input: IgnitionInput): string {
  return [
    '[Unit]',
    'Description=cdk-elastic-etcd: ship every etcd revision to the backup bucket (the incremental backup log)',
    'Requires=etcd-member.service docker.service',
    'After=etcd-member.service etcd-promote.service docker.service network-online.target',
    '',
    '[Service]',
    'Restart=always',
    'RestartSec=5s',
    'TimeoutStopSec=30',
    removeStaleContainer('ship'),
    `ExecStart=${agentCommand(input, 'ship')}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Drop-in for Flatcar's own etcd-member.service. That unit runs /usr/lib/flatcar/etcd-wrapper, which
 * starts `${ETCD_IMAGE:-${ETCD_IMAGE_URL}:${ETCD_IMAGE_TAG}}` in docker with --network=host, mounts
 * the host's ETCD_DATA_DIR at /var/lib/etcd in the container and passes every environment variable
 * of the unit through (--env-file). Variables from EnvironmentFile= override the unit's own
 * Environment= lines (ETCD_NAME=%m, ETCD_DATA_DIR=/var/lib/etcd), so the agent's settings win.
 */
export function etcdMemberDropin(input: IgnitionInput): string {
  return [
    '[Unit]',
    // docker too: at shutdown etcd stops before docker (its container is docker's).
    'After=etcd-join.service docker.service',
    // The leadership handoff at stop (see handoffUnit): started with etcd, stopped before it.
    'Wants=etcd-handoff.service',
    `RequiresMountsFor=${ETCD_DATA_DIR}`,
    '',
    '[Service]',
    `Environment=ETCD_IMAGE=${input.etcdImage}`,
    // etcd-wrapper mounts $ETCD_SSL_DIR at /etc/ssl/certs in etcd's container (read-only).
    ...(input.agentConfig.tls ? [`Environment=ETCD_SSL_DIR=${TLS_HOST_DIR}`] : []),
    // '-': the file does not exist yet when the first ExecStartPre is spawned; systemd reads it again for
    // every command it spawns, so ExecStart sees what the join agent just wrote.
    `EnvironmentFile=-${ETCD_ENV_FILE}`,
    // The join agent runs before every start (first boot and every restart); a failed join fails the start.
    'ExecStartPre=/usr/bin/systemctl start etcd-join.service',
    // etcd runs as the etcd user (etcd-wrapper): it must read the key the agent (root) wrote with mode 0600.
    ...(input.agentConfig.tls ? [`ExecStartPre=/usr/bin/chown -R etcd:etcd ${TLS_HOST_DIR}`] : []),
    'ExecStartPost=/usr/bin/systemctl start --no-block etcd-promote.service',
    'Restart=always',
    'RestartSec=10s',
    '',
  ].join('\n');
}

/** The whole Ignition config as a plain object (serialize with JSON.stringify). */
export function renderIgnition(input: IgnitionInput): Record<string, unknown> {
  return {
    ignition: { version: '3.4.0' },
    storage: {
      filesystems: [
        {
          device: input.dataDevice,
          format: 'xfs',
          label: DATA_LABEL,
          path: ETCD_DATA_DIR,
          wipeFilesystem: false,
        },
      ],
      files: [
        {
          path: AGENT_CONFIG_PATH,
          mode: 0o644,
          overwrite: true,
          contents: { source: dataUrl(tokenAwareJson(writeAgentConfig(input.agentConfig))) },
        },
        // A bucket name is [a-z0-9.-] only: valid in a data URL as is, and a token stays intact.
        ...(input.backupBucket
          ? [
              {
                path: BACKUP_BUCKET_PATH,
                mode: 0o644,
                overwrite: true,
                contents: { source: `data:,${input.backupBucket}` },
              },
            ]
          : []),
        // OS updates come as a new AMI through the gated rolling update (lib/private/os-updates.ts).
        {
          path: FLATCAR_UPDATE_CONF,
          mode: 0o644,
          overwrite: true,
          contents: { source: dataUrl(flatcarUpdateConf()) },
        },
        {
          path: AGENT_PATH,
          mode: 0o644,
          overwrite: true,
          contents: {
            source: input.agentSource,
            verification: { hash: `sha512-${input.agentSha512}` },
          },
        },
      ],
    },
    systemd: {
      units: [
        { name: DATA_MOUNT_UNIT, enabled: true, contents: dataMountUnit() },
        // Not enabled: etcd-member.service's ExecStartPre starts it (see joinUnit).
        { name: 'etcd-join.service', contents: joinUnit(input) },
        {
          name: 'etcd-member.service',
          enabled: true,
          dropins: [{ name: ETCD_MEMBER_DROPIN, contents: etcdMemberDropin(input) }],
        },
        { name: 'etcd-promote.service', enabled: true, contents: promoteUnit(input) },
        // Not enabled: etcd-member.service's drop-in wants it (see handoffUnit).
        { name: 'etcd-handoff.service', contents: handoffUnit(input) },
        ...(input.agentConfig.incrementalBackupSeconds !== undefined
          ? [{ name: BACKUP_LOG_UNIT, enabled: true, contents: backupLogUnit(input) }]
          : []),
        // Restore drills (lib/private/drill-units.ts): the timer is enabled, it starts the service.
        ...(input.drillIntervalSeconds !== undefined
          ? [
              {
                name: DRILL_SERVICE,
                contents: drillServiceUnit({
                  exec: agentCommand(input, 'drill'),
                  containerName: agentContainerName('drill'),
                }),
              },
              { name: DRILL_TIMER, enabled: true, contents: drillTimerUnit(input.drillIntervalSeconds) },
            ]
          : []),
        ...MASKED_OS_UNITS.map((name) => ({ name, mask: true })),
      ],
    },
  };
}
