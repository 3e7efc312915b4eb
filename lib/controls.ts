/*
 * What organizations' account policies check at deploy (AWS Control Tower proactive controls), synth time
 * only: the cluster's KMS key policies (the data key of the backup bucket and log groups, and the TLS key of
 * lib/tls.ts) and the namespace of the acknowledged controls. Not part of the public (jsii) API.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * Namespace of AWS Control Tower findings in CDK's Validations API: the name of the policy validation plugin
 * @cdklabs/cdk-validator-cfnguard. Acknowledge with `${CFN_GUARD}::<guard rule name>`.
 */
export const CFN_GUARD = 'cdk-validator-cfnguard';

/**
 * Denies kms:CreateGrant to everyone unless the grant is for an AWS resource or the caller is an AWS
 * service (AWS Control Tower CT.KMS.PR.3). Nothing in the cluster creates grants: Secrets Manager, S3 and
 * CloudWatch Logs use the key directly.
 */
export function denyGrantsExceptForAwsServices(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}

/**
 * Lets CloudWatch Logs encrypt and decrypt the log groups of this account and region with `key` (a log
 * group with a KMS key needs this in the key policy; an identity policy cannot grant it).
 */
export function allowLogGroups(key: kms.IKey): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsOfThisAccountAndRegion',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
}

/**
 * The cluster's data key: encrypts the backup bucket the construct creates and the Lambda functions' log
 * groups. Rotated yearly. Kept as long as the bucket it encrypts (retained by default).
 */
export function createDataKey(
  scope: Construct,
  id: string,
  description: string,
  removalPolicy: RemovalPolicy,
) {
  const key = new kms.Key(scope, id, {
    description: `${description}: encrypts the backup bucket and the log groups`,
    enableKeyRotation: true,
    removalPolicy,
    pendingWindow: Duration.days(30),
  });
  denyGrantsExceptForAwsServices(key);
  allowLogGroups(key);
  return key;
}
