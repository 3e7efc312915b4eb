/*
 * etcd version rules (lambda/core/versions.ts): table tests.
 */
import { checkJoinSkew, parseEtcdVersion, unsupportedReason } from '../../lambda/core/versions';

test.each([
  ['3.4.23', { major: 3, minor: 4, patch: 23 }],
  ['v3.5.26', { major: 3, minor: 5, patch: 26 }],
  [' 3.6.0-rc.1 ', { major: 3, minor: 6, patch: 0, text: '3.6.0-rc.1' }],
  ['3.6.4+build.7', { major: 3, minor: 6, patch: 4 }],
])('parseEtcdVersion(%j)', (text, expected) => {
  expect(parseEtcdVersion(text)).toMatchObject(expected);
});

test.each(['', '3.5', 'latest', '3.5.x', 'v3', '3.5.26.1', 'quay.io/coreos/etcd:v3.5.26'])(
  'parseEtcdVersion(%j) is not a version',
  (text) => {
    expect(parseEtcdVersion(text)).toBeUndefined();
  },
);

test.each([
  ['3.4.0', undefined],
  ['3.5.26', undefined],
  ['3.6.5', undefined],
  ['3.3.27', /etcd 3\.3\.27 is not a version this project supports \(3\.4, 3\.5, 3\.6\)/],
  ['3.7.0', /not a version this project supports/],
  ['4.0.0', /not a version this project supports/],
])('unsupportedReason(%s)', (text, expected) => {
  const r = unsupportedReason(parseEtcdVersion(text)!);
  if (expected === undefined) expect(r).toBeUndefined();
  else expect(r).toMatch(expected);
});

const cases: Array<[string, string, string[], 'ok' | 'refuse', RegExp]> = [
  ['a new cluster', '3.5.26', [], 'ok', /no running member: 3\.5\.26 starts the cluster/],
  ['same version', '3.5.26', ['3.5.26', '3.5.26'], 'ok', /may run beside 3\.5$/],
  ['a patch upgrade', '3.5.27', ['3.5.21', '3.5.26'], 'ok', /beside 3\.5/],
  ['a patch downgrade within the minor', '3.5.21', ['3.5.26'], 'ok', /beside 3\.5/],
  ['one minor up', '3.5.26', ['3.4.23', '3.4.23', '3.4.23'], 'ok', /beside 3\.4$/],
  ['mid-rollout, the new minor joins', '3.5.26', ['3.4.23', '3.5.26'], 'ok', /beside 3\.4 and 3\.5/],
  [
    'mid-rollout, the old minor rejoins (a replacement of an old member)',
    '3.4.23',
    ['3.4.23', '3.5.26'],
    'ok',
    /beside 3\.4 and 3\.5/,
  ],
  ['two minors up', '3.6.5', ['3.4.23', '3.4.23'], 'refuse', /more than one minor version ahead of 3\.4\.23/],
  [
    'older than the cluster',
    '3.4.23',
    ['3.5.26', '3.5.26'],
    'refuse',
    /older than the cluster's lowest member version 3\.5\.26/,
  ],
  [
    '3.6 beside 3.5.25',
    '3.6.5',
    ['3.5.26', '3.5.25'],
    'refuse',
    /3\.5\.26 or later on every 3\.5 member; 3\.5\.25 is older/,
  ],
  ['3.6 beside two old 3.5', '3.6.5', ['3.5.0', '3.5.25', '3.5.26'], 'refuse', /3\.5\.0, 3\.5\.25 are older/],
  ['3.6 beside 3.5.26', '3.6.5', ['3.5.26', '3.5.30'], 'ok', /beside 3\.5$/],
  [
    'an old 3.5 into a cluster that has 3.6 members',
    '3.5.25',
    ['3.5.26', '3.6.5'],
    'refuse',
    /3\.5\.25 is older/,
  ],
  ['3.5.26 into a cluster that has 3.6 members', '3.5.26', ['3.5.26', '3.6.5'], 'ok', /beside 3\.5 and 3\.6/],
  ['unsupported own version', '3.3.27', ['3.4.23'], 'refuse', /not a version this project supports/],
  [
    'unreadable own version',
    'latest',
    ['3.4.23'],
    'refuse',
    /this member's etcd version "latest" cannot be read/,
  ],
  [
    'unreadable running version',
    '3.5.26',
    ['3.5.26', ''],
    'refuse',
    /a running member's etcd version "" cannot be read/,
  ],
  ['a running 2.x member', '3.4.23', ['2.3.8'], 'refuse', /runs etcd 2\.3\.8, not 3\.x/],
];

test.each(cases)('%s: %s beside %j', (_name, own, running, kind, reason) => {
  const v = checkJoinSkew(own, running);
  expect(v.kind).toBe(kind);
  expect(v.reason).toMatch(reason);
});
