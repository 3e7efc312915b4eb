/*
 * The agent's join phase (before etcd starts): observe, plan (pure core), execute one step, repeat; then the
 * settings etcd starts with. Behind the restore gate when backups are configured (lambda/agent/restore.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { GroupView } from '../adapters/aws';
import { Backoff } from '../adapters/backoff';
import type { MemberListResult } from '../adapters/etcd';
import { isTooManyLearners, isUnhealthyCluster } from '../adapters/etcd';
import { planJoin, renderInitialCluster } from '../core';
import { BackupView, DataDirState, JoinInput, JoinStep, Self } from '../core/types';
import { AgentConfig } from './config';
import { CompactionMode } from './config';
import { DataDir, localDataDir } from './data-dir';
import {
  AgentDeps,
  AgentError,
  beat,
  groupEndpoints,
  healthyVoterEndpoints,
  resolveSelf,
  retrying,
} from './deps';
import { EtcdSettings, renderSettings } from './output';
import { restoreGate } from './restore';
import { signalRollout } from './signal';
import { abandonLaunch, skewGate, SkewState } from './skew';

export interface JoinResult {
  readonly step: JoinStep;
  readonly settings: EtcdSettings;
  readonly steps: number;
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
  const list = await deps.memberList(groupEndpoints(cfg, group, self.instanceId));
  const health = list ? await deps.healthOf(list.members) : {};
  const voterEndpoints = list ? healthyVoterEndpoints(list.members, health) : [];
  return { group, list, health, voterEndpoints };
}

/**
 * The join, behind the restore gate (lambda/agent/restore.ts): the seed of a restore starts a one-member
 * cluster from the snapshot; an instance with data of an older cluster wipes it first. The data dir is then
 * marked with the newest restore generation, so a later reboot keeps it.
 */
export async function runJoin(cfg: AgentConfig, deps: AgentDeps): Promise<JoinResult> {
  const dataDir = localDataDir(cfg.dataDir);
  if (!deps.restore) return runPlainJoin(cfg, deps, dataDir);
  const { self } = await resolveSelf(cfg, deps);
  const restore = deps.restore;
  // S3 must answer: without the newest restore record, old data could rejoin an old cluster. Retried, then
  // the join fails (etcd-member.service restarts it).
  const gate = await restoreGate(
    cfg,
    self,
    { ...restore, latestRestore: () => retrying('restore record (S3)', deps, () => restore.latestRestore()) },
    dataDir,
  );
  if (gate.role.kind === 'seed-survivor') {
    // etcd 3.4 with a WAL in the data dir ignores the initial-cluster settings and, with force-new-cluster,
    // restarts as a standalone node (etcdserver/raft.go restartAsStandaloneNode: uncommitted entries
    // discarded, every other member removed by conf-change entries written to the WAL before it starts).
    const source = gate.record!.source;
    const step: JoinStep = {
      kind: 'start-existing',
      memberId: source?.kind === 'survivor' ? source.memberId : '',
      reason: gate.role.reason,
    };
    return {
      step,
      steps: 0,
      settings: {
        ...settingsFor(
          cfg,
          self,
          renderInitialCluster([{ name: self.name, peerURL: self.peerURL }]),
          'existing',
        ),
        forceNewCluster: true,
      },
    };
  }
  if (gate.role.kind === 'seed') {
    const initialCluster = [{ name: self.name, peerURL: self.peerURL }];
    return {
      step: {
        kind: 'bootstrap-new',
        reason: gate.role.reason,
        initialCluster,
        token: gate.record!.clusterToken,
      },
      steps: 0,
      settings: settingsFor(
        cfg,
        self,
        renderInitialCluster(initialCluster),
        'new',
        gate.record!.clusterToken,
      ),
    };
  }
  // The bootstrap guard (lambda/core/bootstrap.ts): after a restore the group's cluster is the restored one,
  // and a complete snapshot proves an earlier cluster: never bootstrap an empty one beside them (unless
  // allowed explicitly). Read only when the plan gets there (no member reachable, empty data dir), once per run.
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
  const result = await runPlainJoin(cfg, deps, dataDir, backups);
  dataDir.writeGeneration(gate.generation);
  return result;
}

async function runPlainJoin(
  cfg: AgentConfig,
  deps: AgentDeps,
  dataDir: DataDir,
  backupsOf?: () => Promise<BackupView>,
): Promise<JoinResult> {
  const deadline = deps.now() + cfg.deadlineSeconds * 1000;
  const { self, groupName } = await resolveSelf(cfg, deps);
  deps.log('identity', { instanceId: self.instanceId, ip: self.privateIp, group: groupName });
  let addedId: string | undefined;
  // Waits between observations: retryDelayMs doubling to 8x, jittered; back to the first after progress.
  const backoff = new Backoff({ firstMs: cfg.retryDelayMs, capMs: cfg.retryDelayMs * 8, jitter: true });
  let steps = 0;
  let lastWait = '';
  let lastBeat = deps.now();
  let awaitingLogged = false;
  const skew: SkewState = { uncheckedLogged: false };
  try {
    for (;;) {
      lastBeat = await beat(cfg, deps, groupName, self.instanceId, lastBeat);
      if (deps.now() > deadline) {
        throw new AgentError(
          `deadline of ${cfg.deadlineSeconds} s passed while waiting: ${lastWait || 'no progress'}`,
        );
      }
      const obs = await observe(cfg, deps, self, groupName);
      const state = dataDir.state();
      // Only a plan without a member list and with an empty data dir can bootstrap: only then is S3 asked.
      const backups = backupsOf && !obs.list && state === DataDirState.EMPTY ? await backupsOf() : undefined;
      const input: JoinInput = {
        members: obs.list ? obs.list.members : null,
        health: obs.health,
        instances: obs.group.instances,
        desiredCapacity: obs.group.desiredCapacity,
        self,
        strategy: cfg.strategy,
        // The cap is the group's desired capacity, never above the configured maximum.
        sizeCap: Math.min(cfg.sizeCap, obs.group.desiredCapacity),
        dataDir: state,
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
          dataDir.wipe();
          backoff.reset();
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
          await deps.sleep(backoff.next());
          continue;
        case 'wait':
          lastWait = step.reason;
          await deps.sleep(backoff.next());
          continue;
        case 'remove':
        case 'add-learner': {
          const endpoints = obs.voterEndpoints;
          if (endpoints.length === 0) {
            lastWait = 'no healthy voter to send the membership change to';
            deps.log('no healthy voter to send the membership change to: observing again', {
              step: step.kind,
              delayMs: backoff.delayMs,
            });
            await deps.sleep(backoff.delayMs);
            continue;
          }
          if (step.kind === 'add-learner') {
            // The version-skew gate (./skew.ts): never add a member whose version the cluster cannot run beside.
            const gate = await skewGate(cfg, deps, obs.list!.members, skew);
            if (gate.kind === 'refuse') {
              if (await abandonLaunch(cfg, deps, groupName, self.instanceId, gate.reason))
                await signalRollout(
                  cfg,
                  deps,
                  self.instanceId,
                  'FAILURE',
                  `unsafe etcd version skew: ${gate.reason}`,
                );
              throw new AgentError(`refused: unsafe etcd version skew: ${gate.reason}`);
            }
            if (gate.kind === 'wait') {
              lastWait = gate.reason;
              await deps.sleep(backoff.next());
              continue;
            }
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
              }
            });
            backoff.reset();
          } catch (err) {
            const e = err as Error;
            const known = isUnhealthyCluster(e) || isTooManyLearners(e);
            const delayMs = backoff.next();
            lastWait = e.message;
            deps.log(
              known ? 'etcd refused the change, backing off' : 'membership change failed, observing again',
              { error: e.message, delayMs },
            );
            await deps.sleep(delayMs);
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
          groupEndpoints(cfg, await deps.describeGroup(groupName), self.instanceId),
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

/**
 * Writes the settings etcd starts with (the env file etcd-member.service reads), atomically. With the
 * incremental backup log etcd does not auto-compact: the lifecycle Lambda compacts behind the log with the
 * same retention (lambda/lifecycle/log-compaction.ts), so no revision is discarded before it is shipped.
 */
export function writeSettings(cfg: AgentConfig, settings: EtcdSettings): void {
  fs.mkdirSync(path.dirname(cfg.envFile), { recursive: true });
  const tmp = `${cfg.envFile}.tmp-${process.pid}`;
  const backend =
    cfg.incrementalBackupSeconds !== undefined
      ? { ...cfg.backend, compactionMode: CompactionMode.NONE }
      : cfg.backend;
  fs.writeFileSync(tmp, renderSettings({ ...settings, backend }, cfg.output), { mode: 0o644 });
  fs.renameSync(tmp, cfg.envFile);
}
