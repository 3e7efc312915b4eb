/*
 * The restore drills' systemd units on a member (synth time, pure; issue 16): etcd-backup-drill.timer starts
 * etcd-backup-drill.service every `backup.drillInterval`, which runs `agent.js drill` once in its container
 * (lambda/agent/drill.ts): under an etcd lock (one member at a time) it restores a snapshot from the bucket into
 * a scratch etcd started from the image's etcd binary (copied beside the restore tool at boot:
 * ./restore-tool.ts), compares revision and keyspace digest, and writes the result to `<prefix>drills/`.
 * lib/ignition.ts renders them into the Ignition config when drills are on, with the agent's command line.
 */
import { ETCD_DATA_DIR } from './host-paths';

/** The drill's service unit (not enabled: the timer starts it). */
export const DRILL_SERVICE = 'etcd-backup-drill.service';
/** The drill's timer unit (enabled: WantedBy=timers.target). */
export const DRILL_TIMER = 'etcd-backup-drill.timer';
/**
 * The bound of one drill run (TimeoutStartSec): downloading a snapshot of up to the backend quota (8 GiB at
 * most), restoring it and starting a scratch etcd on it take minutes, not half an hour; a run that hangs is
 * stopped (its container removed, scratch etcd with it) and the next tick tries again.
 */
export const DRILL_TIMEOUT_SECONDS = 1800;

/** What the drill's service runs: the agent's container (lib/ignition.ts, agentCommand) and its name. */
export interface DrillServiceInput {
  /** The ExecStart command line: `docker run ... node agent.js drill --config ...`. */
  readonly exec: string;
  /** The container's name (`docker rm -f` before and after a run). */
  readonly containerName: string;
}

/**
 * The oneshot drill run. Only while etcd serves on this member: ExecCondition skips the run (no failure)
 * otherwise, instead of a Requires= that would START a stopped etcd-member.service whenever the timer fires
 * (an operator's `systemctl stop etcd-member`, a fenced member during a restore). PartOf= stops a running drill
 * when etcd-member stops or restarts, and After= orders it before etcd at shutdown. A container left over by
 * a crash or a timeout is removed before and after each run (its scratch etcd goes with it).
 */
export function drillServiceUnit(input: DrillServiceInput): string {
  const rm = `-/usr/bin/docker rm -f ${input.containerName}`;
  return [
    '[Unit]',
    'Description=cdk-elastic-etcd: restore drill, a backup restored into a scratch etcd and verified (agent.js drill)',
    'Requires=docker.service',
    'After=etcd-member.service docker.service network-online.target',
    'PartOf=etcd-member.service',
    `RequiresMountsFor=${ETCD_DATA_DIR}`,
    '',
    '[Service]',
    'Type=oneshot',
    `TimeoutStartSec=${DRILL_TIMEOUT_SECONDS}`,
    'ExecCondition=/usr/bin/systemctl is-active --quiet etcd-member.service',
    `ExecStartPre=${rm}`,
    `ExecStart=${input.exec}`,
    `ExecStopPost=${rm}`,
    '',
  ].join('\n');
}

/** The random delay added to each tick: up to a minute, at most half the interval (members spread out). */
export function drillRandomDelaySeconds(intervalSeconds: number): number {
  return Math.min(60, Math.floor(intervalSeconds / 2));
}

/**
 * Every `intervalSeconds` after boot and after each run's start. Every member has one; the agent's etcd lock
 * lets one of them drill at a time, and a run with nothing to drill ends at once.
 */
export function drillTimerUnit(intervalSeconds: number): string {
  return [
    '[Unit]',
    `Description=cdk-elastic-etcd: restore drill every ${intervalSeconds} s`,
    '',
    '[Timer]',
    `OnBootSec=${intervalSeconds}`,
    `OnUnitActiveSec=${intervalSeconds}`,
    `RandomizedDelaySec=${drillRandomDelaySeconds(intervalSeconds)}`,
    'AccuracySec=1s',
    `Unit=${DRILL_SERVICE}`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
}
