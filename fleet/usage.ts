/* The etcd-fleet CLI's usage text (fleet/cli.ts prints it): every command and option. */
export const USAGE = `usage: etcd-fleet <command> [options]
  up [--size N] [--dir DIR] [--strategy S] [--etcd PATH]   start the stand-in and N instances; return when converged
  status [--json] [--dir DIR]                              the member table (or one JSON object)
  scale N [--dir DIR]                                      set desired capacity; return when converged
  terminate ID [--dir DIR]                                 terminate through the lifecycle hook; return when converged
  kill ID [--wipe] [--dir DIR]                             SIGKILL its etcd (--wipe: delete its data)
  freeze ID | thaw ID [--dir DIR]                          SIGSTOP / SIGCONT its etcd
  reboot ID [--dir DIR]                                    agent then etcd again, same IP and data dir
  wait [--timeout S] [--dir DIR]                           until converged
  down [--dir DIR]                                         stop every process it started, remove DIR
  fault lose-add-reply [--dir DIR]                         the next launched instance's member add loses its reply
  fault drop-terminate-event [--dir DIR]                   the next terminate lifecycle event is never delivered
  backup [--dir DIR]                                       take a snapshot now through the same code path; return when stored
  restore [--dir DIR]                                      the manual restore trigger (restores only after quorum loss)
  maintenance on|off|run [--dir DIR]                       scheduled maintenance events on / off; run: one run now,
                                                           its result as JSON (exit 1 when it is not ok)
  drill [ID] [--dir DIR]                                   one restore drill run on instance ID (default: the first
                                                           running one), as etcd-backup-drill.timer runs it: its lines
                                                           as JSON (exit 1 when the drill failed or could not run)
  roll [--etcd PATH] [--etcd-version V] [--signal-timeout S] [--dir DIR]
                                                           rolling update gated on signals (CloudFormation's
                                                           MaxBatchSize 1, MinInstancesInService size-1,
                                                           WaitOnResourceSignals): launches take the new template
                                                           (--etcd: its etcd binary, --etcd-version: the release
                                                           its agent config claims); each older instance, oldest
                                                           first and only while converged, is terminated through
                                                           the hook and its replacement's SignalResource awaited.
                                                           SUCCESS: next. FAILURE or none within --signal-timeout
                                                           (default 60): rollback to the previous template, exit 1
                                                           with one line naming the instance, status and reason.
                                                           Prints a JSON summary (replaced, steps, totalSeconds)
options: --timeout S (waiting commands, default 180), --reconcile-interval S (up, default 5),
         --launch-timeout S / --terminate-timeout S (up: lifecycle hook timeouts, defaults 60 / 30),
         --no-handler (up: no lifecycle Lambda; terminations complete by the hook's default result),
         --break-boot N (up: the first N instances never boot),
         --restore manual|automatic (up: restore policy, default manual),
         --backup-interval S (up: seconds between scheduled backups, default 0 = none),
         --incremental-seconds N (up: the incremental backup log: every instance runs agent.js ship,
           chunks at most N s old, 1-300; default 0 = off; status shows the instance that ships),
         --restore-after S (up: automatic policy: seconds of quorum loss before restoring, default 20),
         --empty-start-beside-backups (up: a total loss may bootstrap an EMPTY cluster although the bucket
           holds snapshots; the construct's backup.startEmptyBesideBackups; default off),
         --tls (up: https on client and peer ports with client-certificate auth; status --json adds
                "tls": {"ca", "cert", "key"}, a client identity for etcdctl --cacert/--cert/--key),
         --quota-mb N (up: etcd's backend quota of N MiB, and the short maintenance settings such a small
           quota needs: auto-compaction periodic with 5 s retention, defragmentation of a member once 15 %
           and N/16 MiB of its backend are reclaimable, a maintenance run of at most 30 s; default: the
           construct's defaults, 8 GiB, compaction keeping 1 h, 25 % and 64 MiB, 90 s),
         --maintenance-interval S (up: seconds between the {"kind":"maintenance"} events sent to the Lambda,
           default: the reconcile interval; 0 = none; never two runs at once),
         --no-maintenance (up: start with the maintenance events off; etcd-fleet maintenance on starts them),
         --no-leader-handoff (up: the lifecycle Lambda removes a leading member without moving leadership
           first, and a reboot stops etcd without the agent's handoff; for the bench's comparison),
         --etcd-version V (up: the release the agent configs claim; default: what the etcd binary says)
signals: every agent config names the fleet stack's rollout signal target; up takes the agents' SignalResource
calls until converged (and every instance signalled, at most 10 s more), roll while it runs; at any other time
the stand-in refuses them with CloudFormation's ValidationError, which the agent only logs
status shows each member's db size, size in use and active alarms ('-': the member did not answer);
status --json has them as dbSize, dbSizeInUse (bytes, null: no answer) and alarms (names, null: no alarm list)`;

/** A misused command line: printed with the usage, exit 2. */
export class UsageError extends Error {}
