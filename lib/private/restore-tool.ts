/*
 * The etcd image's own binaries on a member (synth time, pure): the snapshot restore tool and etcd itself,
 * copied out of the configured image at boot by etcd-join.service's ExecStartPre (lib/ignition.ts renders
 * it), and the argv the agent config names for them. Re-exported by lib/ignition.ts.
 */

/**
 * Host directory holding the snapshot restore tool copied out of the configured etcd image at boot, mounted
 * read-only at the same path in the agent's container. Not the host's /usr/bin: Flatcar's own etcdutl is a
 * PIE binary that needs glibc's loader (the agent's Alpine image has none) and is always Flatcar's 3.5.x.
 * The etcd images' binaries are static and match the etcd the cluster runs.
 */
export const RESTORE_TOOL_DIR = '/opt/etcd-restore';
/** Where the binaries live in the etcd images (quay.io/coreos/etcd, and mirrors of it). */
export const ETCD_IMAGE_BIN_DIR = '/usr/local/bin';

/**
 * The restore tool in the etcd image: `etcdutl` from 3.5 on, `etcdctl` in 3.4 images (no etcdutl there).
 * From `etcdVersion` (the release the construct resolved) when given; else judged from the image's tag
 * (`:v3.4.x` or `:3.4.x`), any other image (a token too) taken as 3.5+.
 */
export function restoreToolName(etcdImage: string, etcdVersion?: string): string {
  if (etcdVersion !== undefined) return /^3\.4\./.test(etcdVersion) ? 'etcdctl' : 'etcdutl';
  return /:v?3\.4\.[0-9]+[^:/@]*(@sha256:[0-9a-f]+)?$/.test(etcdImage) ? 'etcdctl' : 'etcdutl';
}

/** The agent's `restoreCommand`: the tool copied out of the etcd image (see {@link restoreToolCopy}). */
export function restoreCommand(etcdImage: string, etcdVersion?: string): string[] {
  return [`${RESTORE_TOOL_DIR}/${restoreToolName(etcdImage, etcdVersion)}`];
}

/**
 * The agent's `etcdCommand`: the image's etcd, copied beside the restore tool (see {@link restoreToolCopy}); a
 * restore replays the incremental log into a scratch etcd started from it, so versions match.
 */
export function etcdCommand(): string[] {
  return [`${RESTORE_TOOL_DIR}/etcd`];
}

/**
 * ExecStartPre of etcd-join.service with backups: copies the restore tool and etcd itself out of the etcd
 * image (`docker create` pulls the image if needed, `docker cp` the static binaries, `docker rm`), once per
 * instance. A failure fails the join: an image without them would break the disaster recovery, and that is
 * found at the first boot instead of during a restore. `$$` is a literal `$` for systemd.
 */
export function restoreToolCopy(etcdImage: string, etcdVersion?: string): string {
  const tool = restoreToolName(etcdImage, etcdVersion);
  const dest = `${RESTORE_TOOL_DIR}/${tool}`;
  const etcd = `${RESTORE_TOOL_DIR}/etcd`;
  const script = [
    `test -x ${dest} && test -x ${etcd} && exit 0`,
    `mkdir -p ${RESTORE_TOOL_DIR}`,
    `c=$$(/usr/bin/docker create --entrypoint ${ETCD_IMAGE_BIN_DIR}/etcd ${etcdImage}) || exit 1`,
    `/usr/bin/docker cp $$c:${ETCD_IMAGE_BIN_DIR}/${tool} ${dest}.tmp && /usr/bin/docker cp $$c:${ETCD_IMAGE_BIN_DIR}/etcd ${etcd}.tmp; r=$$?`,
    `/usr/bin/docker rm $$c >/dev/null`,
    `test $$r = 0 || { rm -f ${dest}.tmp ${etcd}.tmp; exit 1; }`,
    `chmod 0755 ${dest}.tmp ${etcd}.tmp && mv ${dest}.tmp ${dest} && mv ${etcd}.tmp ${etcd}`,
  ].join('; ');
  return `/bin/sh -c '${script}'`;
}
