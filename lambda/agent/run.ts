/*
 * The join agent's two phases, with every effect behind the injected dependencies:
 *   join    (before etcd starts): observe, plan (pure core), execute one step, repeat; write settings.
 *   promote (after etcd started): promote this learner once in sync, then complete the launch action.
 */
import * as fs from 'fs';
import * as path from 'path';
import { planJoin, planPromote, renderInitialCluster } from '../core';
import { BackupView, DataDirState, JoinInput, JoinStep, Member, Self } from '../core/types';
import { isNoActiveLifecycleAction } from '../adapters/aws';
import type { GroupView } from '../adapters/aws';
import type { MemberListResult } from '../adapters/etcd';
import { isNotInSync, isTooManyLearners, isUnhealthyCluster } from '../adapters/etcd';
import { AgentConfig } from './config';
import { EtcdSettings, renderSettings } from './output';
import { RestoreDeps, restoreGate, writeGeneration } from './restore';

export interface AgentDeps {
  readonly identity: () => Promise<{ instanceId: string; privateIp: string }>;
  readonly groupOf: (instanceId: string) => Promise<string | undefined>;
  readonly describeGroup: (groupName: string) => Promise<GroupView>;
  readonly memberList: (endpoints: readonly string[]) => Promise<MemberListResult | null>;
  readonly healthOf: (members: readonly Member[]) => Promise<Record<string, boolean>>;
  readonly addLearner: (endpoints: readonly string[], peerURL: string) => Promise<Member>;
  readonly remove: (endpoints: readonly string[], memberId: string) => Promise<void>;
  readonly promote: (endpoints: readonly string[], memberId: string) => Promise<void>;
  readonly withLock: <T>(endpoints: readonly string[], fn: () => Promise<T>) => Promise<T>;
  readonly completeLifecycleAction: (
    groupName: string,
    hook: string,
    instanceId: string,
    result: 'CONTINUE' | 'ABANDON',
  ) => Promise<void>;
  readonly heartbeat: (groupName: string, hook: string, instanceId: string) => Promise<void>;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Test hook for FAILURE-SCENARIOS 3: the add commits but its reply is lost. */
  readonly loseAddReply?: boolean;
  /** The restore gate's S3 and restore-command access; undefined when backups are not configured. */
  readonly restore?: RestoreDeps;
}

export class AgentError extends Error {}

export interface JoinResult {
  readonly step: JoinStep;
  readonly settings: EtcdSettings;
  readonly steps: number;
}

/** Retries fn (an AWS or metadata call) with back-off until it succeeds or `attempts` run out. */
export async function retrying<T>(
  what: string,
  deps: AgentDeps,
  fn: () => Promise<T>,
  attempts = 5,
): Promise<T> {
  let delay = 250;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts)
        throw new AgentError(`${what} failed after ${attempts} attempts: ${(err as Error).message}`);
      deps.log(`${what} failed, retrying`, { attempt: i, error: (err as Error).message });
      await deps.sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  }
}

function url(scheme: string, ip: string, port: number): string {
  return `${scheme}://${ip}:${port}`;
}

export async function resolveSelf(
  cfg: AgentConfig,
  deps: AgentDeps,
): Promise<{ self: Self; groupName: string }> {
  const id = await retrying('instance metadata', deps, () => deps.identity());
  const groupName = await retrying('DescribeAutoScalingInstances', deps, async () => {
    const g = await deps.groupOf(id.instanceId);
    if (!g) throw new Error(`instance ${id.instanceId} is not in an Auto Scaling group`);
    return g;
  });
  const self: Self = {
    instanceId: id.instanceId,
    privateIp: id.privateIp,
    name: id.instanceId,
    peerURL: url(cfg.scheme, id.privateIp, cfg.peerPort),
    clientURL: url(cfg.scheme, id.privateIp, cfg.clientPort),
  };
  return { self, groupName };
}

export function dataDirState(dataDir: string): DataDirState {
  if (fs.existsSync(path.join(dataDir, '.removed'))) return DataDirState.REMOVED_MEMBER;
  return fs.existsSync(path.join(dataDir, 'member')) ? DataDirState.HAS_DATA : DataDirState.EMPTY;
}

function wipe(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  for (const entry of fs.readdirSync(dataDir))
    fs.rmSync(path.join(dataDir, entry), { recursive: true, force: true });
}

interface Observation {
  readonly group: GroupView;
  readonly list: MemberListResult | null;
  readonly health: Record<string, boolean>;
  /** Client URLs of started, healthy voters: where membership changes are sent. */
  readonly voterEndpoints: string[];
}

async function observe(
  cfg: AgentConfig,
  deps: AgentDeps,
  self: Self,
  groupName: string,
): Promise<Observation> {
  const group = await retrying('DescribeAutoScalingGroups', deps, () => deps.describeGroup(groupName));
  const peers = group.instances
    .filter((i) => i.privateIp && i.instanceId !== self.instanceId)
    .map((i) => url(cfg.scheme, i.privateIp!, cfg.clientPort));
  const list = await deps.memberList(peers);
  const health = list ? await deps.healthOf(list.members) : {};
  const voterEndpoints = list
    ? list.members
        .filter((m) => !m.isLearner && m.clientURLs.length > 0 && health[m.id])
        .map((m) => m.clientURLs[0])
    : [];
  return { group, list, health, voterEndpoints };
}

/**
 * Records a launch-hook heartbeat when one is due, so a long wait does not hit the hook's timeout. An
 * instance that is InService already (etcd restarted, e.g. after its member was removed) has no launch action
 * pending: "No active Lifecycle Action found" stops the heartbeats of this run (one log line, not an error
 * every few seconds that reads like the reason of a later failure). Returns Infinity once stopped.
 */
async function beat(
  cfg: AgentConfig,
  deps: AgentDeps,
  groupName: string,
  instanceId: string,
  last: number,
): Promise<number> {
  if (!cfg.launchHookName || deps.now() - last < cfg.heartbeatSeconds * 1000) return last;
  try {
    await deps.heartbeat(groupName, cfg.launchHookName, instanceId);
  } catch (err) {
    const message = (err as Error).message;
    if (isNoActiveLifecycleAction(err)) {
      deps.log('no launch lifecycle action pending (the instance is in service): heartbeats stopped', {
        error: message,
      });
      return Infinity;
    }
    deps.log('heartbeat failed', { error: message });
  }
  return deps.now();
}

/**
 * The join, behind the restore gate (lambda/agent/restore.ts): the seed of a restore starts a one-member
 * cluster from the snapshot; an instance with data of an older cluster wipes it first. The data dir is then
 * marked with the newest restore generation, so a later reboot keeps it.
 */
export async function runJoin(cfg: AgentConfig, deps: AgentDeps): Promise<JoinResult> {
  if (!deps.restore) return runPlainJoin(cfg, deps);
  const { self } = await resolveSelf(cfg, deps);
  const restore = deps.restore;
  // S3 must answer: without the newest restore record, old data could rejoin an old cluster. Retried, then
  // the join fails (etcd-member.service restarts it).
  const gate = await restoreGate(cfg, self, {
    ...restore,
    latestRestore: () => retrying('restore record (S3)', deps, () => restore.latestRestore()),
  });
  if (gate.role.kind === 'seed') {
    return {
      step: {
        kind: 'bootstrap-new',
        reason: gate.role.reason,
        initialCluster: [{ name: self.name, peerURL: self.peerURL }],
        token: gate.record!.clusterToken,
      },
      steps: 0,
      settings: settingsFor(
        cfg,
        self,
        renderInitialCluster([{ name: self.name, peerURL: self.peerURL }]),
        'new',
        gate.record!.clusterToken,
      ),
    };
  }
  // The bootstrap guard (lambda/core/join.ts): after a restore the group's cluster is the restored one, and a
  // complete snapshot proves an earlier cluster: never bootstrap an empty one beside them (unless allowed
  // explicitly). Read only when the plan gets there (no member reachable, empty data dir), once per run.
  let view: Promise<BackupView> | undefined;
  const backups = () =>
    (view ??= retrying('newest snapshot (S3)', deps, () => restore.newestSnapshot()).then(
      (newestSnapshot) => ({
        newestSnapshot,
        restoreGeneration: gate.generation,
        emptyStartAllowed: cfg.emptyStartBesideBackups === true,
        restorePolicy: cfg.restorePolicy,
      }),
    ));
  const result = await runPlainJoin(cfg, deps, backups);
  writeGeneration(cfg.dataDir, gate.generation);
  return result;
}

async function runPlainJoin(
  cfg: AgentConfig,
  deps: AgentDeps,
  backupsOf?: () => Promise<BackupView>,
): Promise<JoinResult> {
  const deadline = deps.now() + cfg.deadlineSeconds * 1000;
  const { self, groupName } = await resolveSelf(cfg, deps);
  deps.log('identity', { instanceId: self.instanceId, ip: self.privateIp, group: groupName });
  let addedId: string | undefined;
  let delay = cfg.retryDelayMs;
  let steps = 0;
  let lastWait = '';
  let lastBeat = deps.now();
  let awaitingLogged = false;
  try {
    for (;;) {
      lastBeat = await beat(cfg, deps, groupName, self.instanceId, lastBeat);
      if (deps.now() > deadline) {
        throw new AgentError(
          `deadline of ${cfg.deadlineSeconds} s passed while waiting: ${lastWait || 'no progress'}`,
        );
      }
      const obs = await observe(cfg, deps, self, groupName);
      const dataDir = dataDirState(cfg.dataDir);
      // Only a plan without a member list and with an empty data dir can bootstrap: only then is S3 asked.
      const backups =
        backupsOf && !obs.list && dataDir === DataDirState.EMPTY ? await backupsOf() : undefined;
      const input: JoinInput = {
        members: obs.list ? obs.list.members : null,
        health: obs.health,
        instances: obs.group.instances,
        desiredCapacity: obs.group.desiredCapacity,
        self,
        strategy: cfg.strategy,
        // The cap is the group's desired capacity, never above the configured maximum.
        sizeCap: Math.min(cfg.sizeCap, obs.group.desiredCapacity),
        dataDir,
        peerPort: cfg.peerPort,
        clientPort: cfg.clientPort,
        scheme: cfg.scheme,
        groupName,
        ...(backups && { backups }),
      };
      const step = planJoin(input);
      steps++;
      deps.log('plan', {
        step: step.kind,
        reason: step.reason,
        members: input.members?.length ?? null,
        dataDir: input.dataDir,
      });
      switch (step.kind) {
        case 'bootstrap-new':
          return {
            step,
            steps,
            settings: settingsFor(cfg, self, renderInitialCluster(step.initialCluster), 'new', step.token),
          };
        case 'start-existing':
          return {
            step,
            steps,
            settings: settingsFor(
              cfg,
              self,
              renderInitialCluster([{ name: self.name, peerURL: self.peerURL }]),
              'existing',
            ),
          };
        case 'reuse-unstarted':
          addedId = undefined; // from here on the entry is ours to start, not to clean up
          return {
            step,
            steps,
            settings: settingsFor(cfg, self, renderInitialCluster(step.initialCluster), 'existing'),
          };
        case 'refuse':
          throw new AgentError(`refused: ${step.reason}`);
        case 'wipe-data':
          wipe(cfg.dataDir);
          delay = cfg.retryDelayMs;
          continue;
        case 'await-restore':
          if (!awaitingLogged) {
            // One line that says what the group waits for (the plan lines repeat it at every observation).
            deps.log('total loss: waiting for a restore, never bootstrapping an empty cluster', {
              reason: step.reason,
              restorePolicy: cfg.restorePolicy ?? 'manual',
            });
            awaitingLogged = true;
          }
          lastWait = step.reason;
          await deps.sleep(delay + Math.floor(Math.random() * delay));
          delay = Math.min(delay * 2, cfg.retryDelayMs * 8);
          continue;
        case 'wait':
          lastWait = step.reason;
          await deps.sleep(delay + Math.floor(Math.random() * delay));
          delay = Math.min(delay * 2, cfg.retryDelayMs * 8);
          continue;
        case 'remove':
        case 'add-learner': {
          const endpoints = obs.voterEndpoints;
          if (endpoints.length === 0) {
            lastWait = 'no healthy voter to send the membership change to';
            await deps.sleep(delay);
            continue;
          }
          try {
            await deps.withLock(endpoints, async () => {
              // Plan again under the lock: another instance may have changed the membership meanwhile.
              const fresh = await deps.memberList(endpoints);
              if (!fresh) throw new Error('member list unavailable under the lock');
              const health = await deps.healthOf(fresh.members);
              const again = planJoin({ ...input, members: fresh.members, health });
              if (
                again.kind !== step.kind ||
                (again.kind === 'remove' && step.kind === 'remove' && again.memberId !== step.memberId)
              ) {
                deps.log('plan changed under the lock, observing again', { was: step.kind, now: again.kind });
                return;
              }
              if (step.kind === 'remove') {
                await deps.remove(endpoints, step.memberId);
                deps.log('removed member', { memberId: step.memberId, reason: step.reason });
              } else {
                const added = await deps.addLearner(endpoints, step.peerURL);
                addedId = added.id;
                deps.log('added as learner', { memberId: added.id, peerURL: step.peerURL });
                if (deps.loseAddReply) throw new Error('simulated: member add reply lost');
              }
            });
            delay = cfg.retryDelayMs;
          } catch (err) {
            const e = err as Error;
            const known = isUnhealthyCluster(e) || isTooManyLearners(e);
            lastWait = e.message;
            deps.log(
              known ? 'etcd refused the change, backing off' : 'membership change failed, observing again',
              { error: e.message },
            );
            await deps.sleep(delay + Math.floor(Math.random() * delay));
            delay = Math.min(delay * 2, cfg.retryDelayMs * 8);
          }
          continue;
        }
      }
    }
  } catch (err) {
    // A failure after adding ourselves must not leave a stray unstarted member behind.
    if (addedId) {
      try {
        const list = await deps.memberList(
          (await deps.describeGroup(groupName)).instances
            .filter((i) => i.privateIp && i.instanceId !== self.instanceId)
            .map((i) => url(cfg.scheme, i.privateIp!, cfg.clientPort)),
        );
        const own = list?.members.find((m) => m.id === addedId && m.name === '');
        if (own && list) {
          await deps.remove([list.endpoint], own.id);
          deps.log('removed own unstarted entry before exiting', { memberId: own.id });
        }
      } catch (cleanupErr) {
        deps.log('could not remove own unstarted entry', { error: (cleanupErr as Error).message });
      }
    }
    throw err;
  }
}

function settingsFor(
  cfg: AgentConfig,
  self: Self,
  initialCluster: string,
  state: 'new' | 'existing',
  token?: string,
): EtcdSettings {
  return {
    name: self.name,
    dataDir: cfg.dataDir,
    initialCluster,
    initialClusterState: state,
    initialClusterToken: token,
    peerURL: self.peerURL,
    clientURL: self.clientURL,
  };
}

export function writeSettings(cfg: AgentConfig, settings: EtcdSettings): void {
  fs.mkdirSync(path.dirname(cfg.envFile), { recursive: true });
  const tmp = `${cfg.envFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, renderSettings(settings, cfg.output), { mode: 0o644 });
  fs.renameSync(tmp, cfg.envFile);
}

/** Promote attempts in a row while the learner is not yet in sync, before the agent observes again. */
const PROMOTE_RETRIES = 50;

/** After etcd started: promote this learner once it is in sync, then complete the launch lifecycle action. */
export async function runPromote(cfg: AgentConfig, deps: AgentDeps): Promise<{ memberId: string }> {
  const deadline = deps.now() + cfg.deadlineSeconds * 1000;
  const { self, groupName } = await resolveSelf(cfg, deps);
  let lastBeat = deps.now();
  const delay = Math.min(cfg.retryDelayMs, 250);
  let lastWait = '';
  for (;;) {
    if (deps.now() > deadline)
      throw new AgentError(`deadline of ${cfg.deadlineSeconds} s passed before promotion: ${lastWait}`);
    lastBeat = await beat(cfg, deps, groupName, self.instanceId, lastBeat);
    const group = await retrying('DescribeAutoScalingGroups', deps, () => deps.describeGroup(groupName));
    const endpoints = group.instances
      .filter((i) => i.privateIp)
      .map((i) => url(cfg.scheme, i.privateIp!, cfg.clientPort))
      // own endpoint last: it may be a learner, which answers few RPCs
      .sort((a, b) => Number(a === self.clientURL) - Number(b === self.clientURL));
    const list = await deps.memberList(endpoints);
    if (!list) {
      lastWait = 'no member list from any endpoint';
      await deps.sleep(delay);
      continue;
    }
    const health = await deps.healthOf(list.members);
    const step = planPromote({ members: list.members, health, self });
    if (step.kind === 'refuse') throw new AgentError(`refused: ${step.reason}`);
    if (step.kind === 'wait') {
      lastWait = step.reason;
      await deps.sleep(delay);
      continue;
    }
    if (step.kind === 'promote') {
      const voters = list.members
        .filter((m) => !m.isLearner && m.clientURLs.length > 0 && health[m.id])
        .map((m) => m.clientURLs[0]);
      // While the learner catches up, etcd answers "not in sync": re-send only the promote (100 ms apart,
      // at most PROMOTE_RETRIES times) instead of observing the group, the member list and every member's
      // health again before each try, so the promote follows the learner as closely as the runbook does.
      for (let attempt = 1; ; attempt++) {
        try {
          await deps.promote(voters, step.memberId);
          deps.log('promoted to voter', { memberId: step.memberId, attempts: attempt });
          break;
        } catch (err) {
          lastWait = (err as Error).message;
          if (!isNotInSync(err)) {
            deps.log('promote failed, observing again', { error: lastWait });
            await deps.sleep(delay);
            break;
          }
          if (attempt >= PROMOTE_RETRIES || deps.now() > deadline) break;
          await deps.sleep(100);
        }
      }
      continue;
    }
    // done: a started, healthy voter
    if (cfg.launchHookName) {
      try {
        await retrying(
          'CompleteLifecycleAction',
          deps,
          () => deps.completeLifecycleAction(groupName, cfg.launchHookName, self.instanceId, 'CONTINUE'),
          3,
        );
        deps.log('launch lifecycle action completed', { result: 'CONTINUE' });
      } catch (err) {
        // No pending action (already completed, timed out, or the group has no hook): nothing to do.
        deps.log('launch lifecycle action not completed', { error: (err as Error).message });
      }
    }
    return { memberId: step.memberId };
  }
}
