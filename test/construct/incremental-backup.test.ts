/*
 * The incremental backup log in the construct (issue 16): backup.incremental (default on) and
 * backup.incrementalInterval (default 10 s, whole seconds 1-300): the agent config and the Lambda's
 * environment, the shipper's unit on the members, the etcd binary copied beside the restore tool, the
 * instance role's write access (chunks and snapshots under the prefix, nothing more), the validation.
 */
import { Duration, Token } from 'aws-cdk-lib';
import {
  agentConfigOf,
  instanceStatements,
  kmsViaS3,
  lifecycleFunctionOf,
  makeCluster,
  s3Writes,
  unitOf,
} from './helpers';

describe('defaults: the log is on, every 10 s', () => {
  const { template } = makeCluster({ backup: { prefix: 'etcd/' } });

  test('agent config and Lambda environment carry the 10 s bound; etcd is copied beside the restore tool', () => {
    expect(agentConfigOf(template)).toMatchObject({
      incrementalBackupSeconds: 10,
      etcdCommand: ['/opt/etcd-restore/etcd'],
    });
    expect(lifecycleFunctionOf(template).Environment.Variables.INCREMENTAL_BACKUP_SECONDS).toBe('10');
    const copy = unitOf(template, 'etcd-join.service').contents as string;
    expect(copy).toContain('docker cp $$c:/usr/local/bin/etcd /opt/etcd-restore/etcd.tmp');
  });

  test('etcd-backup-log.service runs `agent.js ship` after etcd and its promotion, restarted always, without the data dir', () => {
    const u = unitOf(template, 'etcd-backup-log.service');
    expect(u.enabled).toBe(true);
    const text = u.contents as string;
    expect(text).toMatch(/^Requires=etcd-member\.service docker\.service$/m);
    // Ordered after the promote oneshot (not Requires=: a failed promote does not keep the log down).
    expect(text).toMatch(
      /^After=etcd-member\.service etcd-promote\.service docker\.service network-online\.target$/m,
    );
    expect(text).not.toMatch(/^(Requires|Wants|BindsTo)=.*etcd-promote/m);
    expect(text).toMatch(/^Restart=always$/m);
    expect(text).toMatch(/^ExecStartPre=-\/usr\/bin\/docker rm -f etcd-agent-ship$/m);
    const exec = /^ExecStart=(.*)$/m.exec(text)![1];
    expect(exec).toMatch(/--init --name etcd-agent-ship /);
    expect(exec).toMatch(/node \/opt\/etcd-agent\/agent\.js ship --config \/etc\/etcd-agent\/config\.json$/);
    expect(exec).not.toContain('/var/lib/etcd');
    expect(exec).not.toContain('/run/etcd');
    expect(exec).toContain('-v /etc/etcd-tls:/etc/etcd-tls:ro');
  });

  test('instance role: s3:PutObject on <prefix>incremental/* and <prefix>snapshots/* (and the drills), abort on snapshots/*, no delete', () => {
    const writes = s3Writes(instanceStatements(template));
    expect(writes).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: [
          expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn\/etcd\/incremental\/\*$/),
          expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn\/etcd\/snapshots\/\*$/),
        ],
      },
      {
        Effect: 'Allow',
        Action: 's3:AbortMultipartUpload',
        Resource: expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn\/etcd\/snapshots\/\*$/),
      },
      // The restore drills' results (on by default: test/construct/restore-drills.test.ts).
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: expect.stringMatching(/^GETATT-EtcdBackupBucket[0-9A-F]{8}\.Arn\/etcd\/drills\/\*$/),
      },
    ]);
    expect(kmsViaS3(instanceStatements(template))).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });
});

test('incrementalInterval reaches the agent and the Lambda', () => {
  const { template } = makeCluster({ backup: { incrementalInterval: Duration.seconds(3) } });
  expect(agentConfigOf(template).incrementalBackupSeconds).toBe(3);
  expect(lifecycleFunctionOf(template).Environment.Variables.INCREMENTAL_BACKUP_SECONDS).toBe('3');
});

test('incremental: false (and no drills): no unit, no bound, no write access for the instances (etcd still copied)', () => {
  const { template } = makeCluster({ backup: { incremental: false, restoreDrills: false } });
  const config = agentConfigOf(template);
  expect(config.incrementalBackupSeconds).toBeUndefined();
  expect(config.etcdCommand).toEqual(['/opt/etcd-restore/etcd']);
  expect(Object.keys(lifecycleFunctionOf(template).Environment.Variables)).not.toContain(
    'INCREMENTAL_BACKUP_SECONDS',
  );
  expect(unitOf(template, 'etcd-backup-log.service')).toBeUndefined();
  expect(s3Writes(instanceStatements(template))).toEqual([]);
  expect(kmsViaS3(instanceStatements(template))).toEqual(['kms:Decrypt']);
});

test('backups off: no unit', () => {
  const { template } = makeCluster({ backup: { enabled: false } });
  expect(unitOf(template, 'etcd-backup-log.service')).toBeUndefined();
});

describe('validation names the prop', () => {
  test.each([
    [
      Duration.millis(1500),
      /backup\.incrementalInterval: must be a whole number of seconds from 1 to 300 \(got 1 second 500 millis\)/,
    ],
    [Duration.millis(500), /backup\.incrementalInterval: must be a whole number of seconds from 1 to 300/],
    [
      Duration.seconds(301),
      /backup\.incrementalInterval: must be a whole number of seconds from 1 to 300 \(got 5 minutes 1 second\)/,
    ],
    [Duration.seconds(0), /backup\.incrementalInterval: must be a whole number of seconds from 1 to 300/],
  ])('%s', (d, message) => {
    expect(() => makeCluster({ backup: { incrementalInterval: d } })).toThrow(message);
  });

  test('a token is refused with a message that names the prop', () => {
    expect(() =>
      makeCluster({ backup: { incrementalInterval: Duration.seconds(Token.asNumber({ Ref: 'Interval' })) } }),
    ).toThrow(/backup\.incrementalInterval: must be known at synth time, not a token/);
  });

  test('an interval with the log off is refused', () => {
    expect(() =>
      makeCluster({ backup: { incremental: false, incrementalInterval: Duration.seconds(5) } }),
    ).toThrow(/backup\.incrementalInterval: only with backup\.incremental on/);
  });

  test('the edges are accepted', () => {
    expect(() => makeCluster({ backup: { incrementalInterval: Duration.seconds(1) } })).not.toThrow();
    expect(() => makeCluster({ backup: { incrementalInterval: Duration.minutes(5) } })).not.toThrow();
  });
});
