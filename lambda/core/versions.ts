/*
 * etcd version rules for joins and rollouts (issue 15). Pure.
 *
 * etcd's own rules, as this project applies them to an Auto Scaling group where members are replaced one at
 * a time (a rollout leaves old and new members side by side for a while):
 * - one minor version step at a time: a member may run the lowest running minor version or the next one,
 *   never older than the lowest (the cluster version is the lowest member version; etcd refuses members
 *   older than it) and never two minors ahead;
 * - before any member runs 3.6, every 3.5 member must run at least 3.5.26 (etcd's fix for members left
 *   behind by replacements);
 * - only 3.4, 3.5 and 3.6 are versions the project reasons about.
 */

export interface EtcdVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The text it was read from, for messages. */
  readonly text: string;
}

/** The minor versions of etcd the project supports (3.x). */
export const SUPPORTED_MINORS: readonly number[] = [4, 5, 6];
/** The lowest 3.5 patch release that may run beside 3.6 members. */
export const MIN_35_PATCH_BESIDE_36 = 26;

/** Parses `3.5.26`, `v3.5.26`, `3.6.0-rc.1` (the pre-release suffix is kept in `text` only); undefined if not a version. */
export function parseEtcdVersion(text: string): EtcdVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: text.trim() };
}

/** Why the project cannot run this version, or undefined when it can. */
export function unsupportedReason(v: EtcdVersion): string | undefined {
  if (v.major !== 3 || !SUPPORTED_MINORS.includes(v.minor)) {
    return `etcd ${v.text} is not a version this project supports (3.${SUPPORTED_MINORS.join(', 3.')})`;
  }
  return undefined;
}

export type SkewVerdict =
  { readonly kind: 'ok'; readonly reason: string } | { readonly kind: 'refuse'; readonly reason: string };

/**
 * May a member running `own` join (or restart into) a cluster whose started members run `running`
 * (their server versions, as Maintenance.Status reports them)? An empty `running` (a new cluster) is ok.
 * A running version that cannot be read refuses: the agent cannot prove the step safe.
 */
export function checkJoinSkew(own: string, running: readonly string[]): SkewVerdict {
  const me = parseEtcdVersion(own);
  if (!me)
    return { kind: 'refuse', reason: `this member's etcd version ${JSON.stringify(own)} cannot be read` };
  const unsupported = unsupportedReason(me);
  if (unsupported) return { kind: 'refuse', reason: unsupported };
  if (running.length === 0) return { kind: 'ok', reason: `no running member: ${me.text} starts the cluster` };
  const others: EtcdVersion[] = [];
  for (const r of running) {
    const v = parseEtcdVersion(r);
    if (!v)
      return {
        kind: 'refuse',
        reason: `a running member's etcd version ${JSON.stringify(r)} cannot be read`,
      };
    if (v.major !== 3) return { kind: 'refuse', reason: `a running member runs etcd ${v.text}, not 3.x` };
    others.push(v);
  }
  const lowest = others.reduce((a, b) => (b.minor < a.minor ? b : a));
  const highest = others.reduce((a, b) => (b.minor > a.minor ? b : a));
  if (me.minor < lowest.minor) {
    return {
      kind: 'refuse',
      reason: `${me.text} is older than the cluster's lowest member version ${lowest.text}: etcd does not let an older member join`,
    };
  }
  if (me.minor > lowest.minor + 1) {
    return {
      kind: 'refuse',
      reason: `${me.text} is more than one minor version ahead of ${lowest.text} (a running member): upgrade one minor version at a time`,
    };
  }
  if (me.minor === 6 || highest.minor === 6) {
    const behind = others.filter((v) => v.minor === 5 && v.patch < MIN_35_PATCH_BESIDE_36);
    if (me.minor === 5 && me.patch < MIN_35_PATCH_BESIDE_36) behind.push(me);
    if (behind.length > 0) {
      return {
        kind: 'refuse',
        reason:
          `3.6 beside 3.5 needs 3.5.${MIN_35_PATCH_BESIDE_36} or later on every 3.5 member; ` +
          `${behind.map((v) => v.text).join(', ')} ${behind.length === 1 ? 'is' : 'are'} older`,
      };
    }
  }
  const set = [...new Set(others.map((v) => `3.${v.minor}`))].sort().join(' and ');
  return { kind: 'ok', reason: `${me.text} may run beside ${set}` };
}
