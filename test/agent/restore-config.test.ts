/* Backup settings of the agent config and of the lifecycle function's environment: defaults and errors naming the field. */
import { parseConfig } from '../../lambda/agent/config';
import { RestorePolicy } from '../../lambda/core/restore';
import { readConfig } from '../../lambda/lifecycle/config';
import { VALID_AGENT_CONFIG } from './fixtures';

const agent = VALID_AGENT_CONFIG;

describe('agent config: restore gate', () => {
  it('defaults: no bucket (no gate), no restore command', () => {
    const c = parseConfig(JSON.stringify(agent));
    expect(c.backupBucketFile).toBeUndefined();
    expect(c.restoreCommand).toBeUndefined();
  });
  it('a bucket needs the restore command (no default: the construct writes the etcd image tool)', () => {
    expect(() => parseConfig(JSON.stringify({ ...agent, backupBucketFile: '/etc/b' }))).toThrow(
      /restoreCommand: must be a non-empty array of strings with a backup bucket \(got undefined\)/,
    );
    const c = parseConfig(
      JSON.stringify({ ...agent, backupBucketFile: '/etc/b', restoreCommand: ['/x/etcdutl'] }),
    );
    expect(c.restoreCommand).toEqual(['/x/etcdutl']);
  });
  it.each([
    [{ restoreCommand: [] }, /restoreCommand: must be a non-empty array of strings/],
    [{ restoreCommand: 'etcdutl' }, /restoreCommand: must be a non-empty array of strings/],
    [{ restoreCommand: ['etcdutl', ''] }, /restoreCommand/],
    [{ backupBucketFile: 'relative' }, /backupBucketFile: must be an absolute path/],
    [{ backupPrefix: null }, /backupPrefix: must be a string/],
  ])('rejects %j', (extra, message) => {
    expect(() => parseConfig(JSON.stringify({ ...agent, ...extra }))).toThrow(message);
  });
});

describe('lifecycle function environment: backups', () => {
  const env = { GROUP_NAME: 'g', AWS_REGION: 'us-east-1', STRATEGY: 'replace' };
  it('no BACKUP_BUCKET: no backups', () => {
    expect(readConfig(env).backup).toBeUndefined();
  });
  it("defaults with a bucket: manual, 600 s (backup.restoreAfter's default), snapshot before removal", () => {
    expect(readConfig({ ...env, BACKUP_BUCKET: 'b' }).backup).toEqual({
      bucket: 'b',
      prefix: '',
      restorePolicy: RestorePolicy.MANUAL,
      restoreAfterSeconds: 600,
      snapshotBeforeRemoval: true,
    });
  });
  it.each([
    [{ RESTORE_POLICY: 'sometimes' }, /RESTORE_POLICY: must be one of manual, automatic/],
    [{ RESTORE_AFTER_SECONDS: '-1' }, /RESTORE_AFTER_SECONDS: must be an integer/],
    [{ SNAPSHOT_BEFORE_REMOVAL: 'yes' }, /SNAPSHOT_BEFORE_REMOVAL: must be true or false/],
  ])('rejects %j', (extra, message) => {
    expect(() => readConfig({ ...env, BACKUP_BUCKET: 'b', ...extra })).toThrow(message);
  });
});
