/*
 * The members' OS update policy (synth time only, rendered into the Ignition config by lib/ignition.ts): no
 * in-place updates and no reboots by Flatcar's own update machinery. A new OS reaches the members as a new
 * Flatcar AMI, one gated replacement at a time (the group's rolling update waits for each new member's
 * signal). Why not locksmithd: its `etcd-lock` strategy takes its lock through etcd's v2 keys API
 * (lock/etcd.go: go.etcd.io/etcd/client, KeysAPI, flatcar/locksmith 5b2275e) and fails against etcd 3.4/3.5
 * (flatcar/Flatcar#1442), and its `reboot` strategy (the default when REBOOT_STRATEGY is empty:
 * locksmithctl/daemon.go, runDaemon) reboots each machine on its own, so two members may reboot at once.
 *
 * Checked in Flatcar's own sources:
 * - unit names: update-engine.service (flatcar/update_engine 7382641, systemd/update-engine.service) and
 *   locksmithd.service (flatcar/locksmith 5b2275e, systemd/locksmithd.service), both enabled in
 *   multi-user.target by their ebuilds (flatcar/scripts ab6d76d, sdk_container/src/third_party/coreos-overlay/
 *   coreos-base/update_engine/update_engine-9999.ebuild and app-admin/locksmith/locksmith-9999.ebuild). A
 *   mask (a link to /dev/null in /etc/systemd/system, which Ignition's `mask: true` makes) wins over both.
 * - /etc/flatcar/update.conf: update_engine reads SERVER and GROUP from it before /usr/share/flatcar/update.conf
 *   (src/update_engine/omaha_request_params.cc, GetConfValue; lines without '=' are skipped by
 *   simple_key_value_store.cc); locksmithd.service reads REBOOT_STRATEGY from it as an EnvironmentFile, and
 *   `off` makes locksmithd exit at once (daemon.go, StrategyOff). `SERVER=disabled` is how Flatcar's docs
 *   (flatcar/flatcar-docs, docs/setup/releases/update-strategies.md, "Disable Automatic Updates") turn
 *   updates off for good: even an update-engine that someone unmasks then stages nothing, so an accidental
 *   reboot never boots an OS the rollout did not gate.
 * - The docs advise against masking update-engine because a manually applied in-place update needs it to
 *   mark the new partition successful. Here no update is ever applied in place: every member boots the
 *   AMI's USR-A, which the image build marks successful (flatcar/scripts build_library/disk_util:
 *   `cgpt add -S1 -P 1` for the partition with the "prioritize" feature, USR-A in disk_layout.json).
 */

/** Flatcar's units that update and reboot the OS in place; masked on every member. */
export const MASKED_OS_UNITS: readonly string[] = ['update-engine.service', 'locksmithd.service'];

/** The update configuration both update_engine and locksmithd read. */
export const FLATCAR_UPDATE_CONF = '/etc/flatcar/update.conf';

/** Its contents: no update server (nothing is staged), no reboot strategy (locksmithd exits). */
export function flatcarUpdateConf(): string {
  return [
    '# cdk-elastic-etcd: the OS is updated by replacing members with a new Flatcar AMI, one gated',
    '# replacement at a time, never in place (update-engine.service and locksmithd.service are masked).',
    'SERVER=disabled',
    'REBOOT_STRATEGY=off',
    '',
  ].join('\n');
}
