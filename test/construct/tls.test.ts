/* TLS at synth time: the secrets, the KMS key, the custom resource, IAM scoping, tls: false, a brought CA. */
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { EtcdCluster } from '../../lib';
import { ACCOUNT, ignitionOf, makeCluster, rawUserData, REGION, TEST_AMI } from './helpers';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function only(template: Template, type: string, prefix: string): [string, Json] {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0] as [string, Json];
}

function statementsOf(template: Template, policyPrefix: string): Json[] {
  return only(template, 'AWS::IAM::Policy', policyPrefix)[1].Properties.PolicyDocument.Statement;
}

const viaSecretsManager = { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } };

describe('TLS on (the default)', () => {
  const { stack, cluster, template } = makeCluster();
  const [keyId, key] = only(template, 'AWS::KMS::Key', 'EtcdTlsKey');
  const [caId] = only(template, 'AWS::SecretsManager::Secret', 'EtcdTlsCaSecret');
  const [clientId] = only(template, 'AWS::SecretsManager::Secret', 'EtcdTlsClientSecret');

  test('a customer managed KMS key with yearly rotation encrypts both secrets', () => {
    expect(key.Properties.EnableKeyRotation).toBe(true);
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    for (const id of [caId, clientId]) {
      template.hasResource('AWS::SecretsManager::Secret', {
        Properties: Match.objectLike({ KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } }),
      });
      expect(template.toJSON().Resources[id].Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
    expect(cluster.tlsEnabled).toBe(true);
    expect(stack.resolve(cluster.caSecret!.secretArn)).toEqual({ Ref: caId });
    expect(stack.resolve(cluster.clientSecret!.secretArn)).toEqual({ Ref: clientId });
  });

  test('the custom resource gets the two secret ARNs (no values) and the group waits for it', () => {
    const [crId, cr] = only(template, 'Custom::EtcdTlsMaterial', 'EtcdTlsMaterial');
    const [fnId, fn] = only(template, 'AWS::Lambda::Function', 'EtcdTlsFunction');
    expect(cr.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
      CaSecretId: { Ref: caId },
      ClientSecretId: { Ref: clientId },
      GenerateCa: 'true',
    });
    expect(fn.Properties.Environment).toBeUndefined();
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    const [, group] = only(template, 'AWS::AutoScaling::AutoScalingGroup', 'EtcdGroup');
    expect(group.DependsOn).toEqual(expect.arrayContaining([crId]));
  });

  test('the custom resource role: its log group, the two secrets, the key through Secrets Manager; only the VPC managed policy', () => {
    const [, role] = only(template, 'AWS::IAM::Role', 'EtcdTlsFunctionRole');
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('AWSLambdaVPCAccessExecutionRole');
    expect(statementsOf(template, 'EtcdTlsFunctionRoleDefaultPolicy')).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EtcdTlsFunctionLogs/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        Resource: [{ Ref: clientId }, { Ref: caId }],
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        Condition: viaSecretsManager,
      },
    ]);
  });

  test('no secret material in the user data or any function environment; the CA secret is read by ARN', () => {
    const raw = rawUserData(template);
    expect(raw).not.toMatch(/BEGIN|PRIVATE KEY/);
    const env = JSON.stringify(
      Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment),
    );
    expect(env).not.toMatch(/BEGIN|PRIVATE KEY/);
    const config = ignitionOf(template).storage.files.find(
      (f: Json) => f.path === '/etc/etcd-agent/config.json',
    );
    expect(decodeURIComponent(config.contents.source.slice('data:,'.length))).toContain(
      `"caSecretId":"REF-${caId}"`,
    );
  });

  test('grantClientAccess: read of the client identity secret only (and decrypt through Secrets Manager)', () => {
    // a stack of its own: makeCluster's stack is synthesized already
    const app = new App();
    const own = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
    const c = new EtcdCluster(own, 'Etcd', {
      vpc: new ec2.Vpc(own, 'Vpc', { maxAzs: 3, natGateways: 1 }),
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: TEST_AMI }),
    });
    const consumer = new iam.Role(own, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    c.grantClientAccess(consumer);
    const t = Template.fromStack(own);
    expect(statementsOf(t, 'ConsumerDefaultPolicy')).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: { Ref: clientId },
      },
    ]);
    // decrypt is granted in the key's policy, only through Secrets Manager
    const [, ownKey] = only(t, 'AWS::KMS::Key', 'EtcdTlsKey');
    expect(ownKey.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Principal: { AWS: { 'Fn::GetAtt': [expect.stringMatching(/^Consumer/), 'Arn'] } },
          Condition: viaSecretsManager,
        }),
      ]),
    );
  });

  test('an alarm when a certificate has fewer than 30 days left (the reconcile measures them)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkElasticEtcd',
      MetricName: 'CertificateDaysLeft',
      Dimensions: [{ Name: 'AutoScalingGroupName', Value: cluster.autoScalingGroupName }],
      Statistic: 'Minimum',
      Period: 3600,
      Threshold: 30,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 1,
    });
    expect(cluster.certificateExpiryAlarm).toBeDefined();
  });

  test('security groups stay closed to the world: no ingress from 0.0.0.0/0 or ::/0', () => {
    const text = JSON.stringify([
      ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')),
      ...Object.values(template.findResources('AWS::EC2::SecurityGroup')).map(
        (g) => g.Properties.SecurityGroupIngress,
      ),
    ]);
    expect(text).not.toMatch(/0\.0\.0\.0\/0|::\/0/);
  });
});

describe('TLS off', () => {
  const { cluster, stack, template } = makeCluster({ tls: false });

  test('plain http, a warning to acknowledge, no secrets, TLS key or custom resource', () => {
    Annotations.fromStack(stack).hasWarning('/TestStack/Etcd', Match.stringLikeRegexp('tls is false'));
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    // Only the data key (backup bucket, log groups).
    expect(Object.keys(template.findResources('AWS::KMS::Key'))).toEqual([
      expect.stringMatching(/^EtcdKey[0-9A-F]{8}$/),
    ]);
    template.resourceCountIs('Custom::EtcdTlsMaterial', 0);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'CertificateDaysLeft' }, 0);
    const [, fn] = only(template, 'AWS::Lambda::Function', 'EtcdLifecycleFunction');
    expect(fn.Properties.Environment.Variables.SCHEME).toBe('http');
    expect(fn.Properties.Environment.Variables.TLS_CLIENT_SECRET_ID).toBeUndefined();
    const config = ignitionOf(template).storage.files.find(
      (f: Json) => f.path === '/etc/etcd-agent/config.json',
    );
    const parsed = JSON.parse(decodeURIComponent(config.contents.source.slice('data:,'.length)));
    expect(parsed.scheme).toBe('http');
    expect(parsed.tls).toBeUndefined();
    expect(cluster.clientSecret).toBeUndefined();
    expect(() =>
      cluster.grantClientAccess(new iam.Role(stack, 'C', { assumedBy: new iam.AccountRootPrincipal() })),
    ).toThrow(/runs without TLS/);
  });

  test('caSecret without TLS is an error naming the prop', () => {
    expect(() =>
      makeCluster({
        tls: false,
        caSecret: secretsmanager.Secret.fromSecretCompleteArn(
          new Stack(),
          'S',
          'arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf',
        ),
      }),
    ).toThrow(/caSecret: only with tls enabled/);
  });
});

describe('a brought CA', () => {
  test('no CA secret is generated; members and the custom resource read the brought one, decrypting with its key', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:my-ca-AbCdEf';
    const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const holder = new Stack();
    const caSecret = secretsmanager.Secret.fromSecretAttributes(holder, 'Ca', {
      secretCompleteArn: arn,
      encryptionKey: kms.Key.fromKeyArn(holder, 'K', keyArn),
    });
    const { template } = makeCluster({ caSecret });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1); // the client identity only
    const [, cr] = only(template, 'Custom::EtcdTlsMaterial', 'EtcdTlsMaterial');
    expect(cr.Properties.CaSecretId).toBe(arn);
    expect(cr.Properties.GenerateCa).toBe('false');
    const instance = statementsOf(template, 'EtcdInstanceRoleDefaultPolicy');
    expect(instance).toEqual(
      expect.arrayContaining([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: viaSecretsManager },
      ]),
    );
    const fnStatements = statementsOf(template, 'EtcdTlsFunctionRoleDefaultPolicy');
    expect(fnStatements).toEqual(
      expect.arrayContaining([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: viaSecretsManager },
      ]),
    );
    // the brought CA is never written
    expect(
      JSON.stringify(fnStatements.filter((s) => JSON.stringify(s.Action).includes('PutSecretValue'))),
    ).not.toContain(arn);
  });
});
