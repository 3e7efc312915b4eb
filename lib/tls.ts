/*
 * The cluster's TLS material at deploy time: a KMS key, the CA secret (generated, or brought by the
 * user), the client identity secret and the custom resource (lambda/ca, bundled to build/ca) that fills
 * them. Synth-time only. Not part of the public (jsii) API except through EtcdCluster's props and members.
 */
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CA_BUNDLE_DIR } from './assets';
import { denyGrantsExceptForAwsServices } from './controls';
import { vpcFunctionRole } from './private/function-role';

export interface ClusterTlsProps {
  /** A CA brought by the user: SecretString JSON {caCert, caKey} (PEM; ECDSA P-256 key, PKCS#8). */
  readonly caSecret?: secretsmanager.ISecret;
  readonly description: string;
  /** Where the function runs: the cluster's VPC and subnets (it needs HTTPS to Secrets Manager and S3). */
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /** Retention and KMS key of the function's log group. */
  readonly logRetention: logs.RetentionDays;
  readonly logKey: kms.IKey;
}

/** kms:Decrypt of secrets encrypted with `key`, only through Secrets Manager in this region. */
export function decryptViaSecretsManager(key: kms.IKey, region: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['kms:Decrypt'],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
  });
}

export class ClusterTls extends Construct {
  /** The key that encrypts the generated secrets (customer managed, rotated yearly). */
  readonly key: kms.Key;
  /** The CA: {caCert, caKey}. Read by the members (their agent signs the member certificate). */
  readonly caSecret: secretsmanager.ISecret;
  /** A client identity {ca, cert, key}: for the lifecycle Lambda and consumers (grantClientAccess). */
  readonly clientSecret: secretsmanager.Secret;
  /** The custom resource; depend on it to start members only once the CA exists. */
  readonly material: CustomResource;

  constructor(scope: Construct, id: string, props: ClusterTlsProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.key = new kms.Key(this, 'Key', {
      description: `${props.description}: encrypts the cluster CA and client identity secrets`,
      enableKeyRotation: true,
      // It encrypts only this cluster's two secrets, which are deleted with the stack too.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    denyGrantsExceptForAwsServices(this.key);
    const generate = !props.caSecret;
    this.caSecret =
      props.caSecret ??
      new secretsmanager.Secret(this, 'CaSecret', {
        description: `${props.description}: cluster CA {caCert, caKey} (written by the TLS material custom resource)`,
        encryptionKey: this.key,
      });
    this.clientSecret = new secretsmanager.Secret(this, 'ClientSecret', {
      description: `${props.description}: etcd client identity {ca, cert, key} (written by the TLS material custom resource)`,
      encryptionKey: this.key,
    });

    // A role of its own with exactly what the function does (no managed policy): write its log group,
    // read/write the two secrets, and the key operations Secrets Manager makes on its behalf.
    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: props.logRetention,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = vpcFunctionRole(
      this,
      'FunctionRole',
      `${props.description}: TLS material custom resource`,
      logGroup,
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        resources: [this.clientSecret.secretArn, ...(generate ? [this.caSecret.secretArn] : [])],
      }),
    );
    if (!generate) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.caSecret.secretArn],
        }),
      );
      if (this.caSecret.encryptionKey)
        role.addToPrincipalPolicy(decryptViaSecretsManager(this.caSecret.encryptionKey, region));
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
    // In the cluster's subnets, like the lifecycle Lambda (AWS Control Tower CT.LAMBDA.PR.3): it needs the
    // same egress (HTTPS to Secrets Manager, and to S3 for CloudFormation's pre-signed response URL) through
    // the subnets' NAT or VPC endpoints. CDK orders the function after the subnets' default routes, so the
    // routes also outlive it on delete, when CloudFormation invokes it once more.
    const sg = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc: props.vpc,
      description: 'cdk-elastic-etcd TLS material function: HTTPS to AWS APIs only',
      allowAllOutbound: false,
    });
    sg.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS: Secrets Manager, S3 (CloudFormation response)',
    );
    const fn = new lambda.Function(this, 'Function', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [sg],
      description: `${props.description}: TLS material (cluster CA and client identity)`,
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(CA_BUNDLE_DIR),
      handler: 'index.handler',
      timeout: Duration.minutes(2),
      memorySize: 256,
      role,
      logGroup,
    });
    // CloudFormation invokes the function directly (no provider framework): the function answers on the
    // pre-signed response URL itself. Properties are ARNs only.
    this.material = new CustomResource(this, 'Material', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::EtcdTlsMaterial',
      properties: {
        CaSecretId: this.caSecret.secretArn,
        ClientSecretId: this.clientSecret.secretArn,
        GenerateCa: String(generate),
      },
    });
    this.material.node.addDependency(role);

    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason:
        'The AWS managed policy that lets Lambda create the network interfaces of a function in a VPC (the function ' +
        'runs in the cluster subnets).',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to Node.js 22, the runtime the TLS material bundle is built and tested for (supported until 2027); ' +
        'raised deliberately with the bundle target.',
    });
    const rotationReason =
      'Not rotated by a Secrets Manager rotation function: the CA is long-lived (10 years) and replacing it means ' +
      're-issuing every member certificate (a rolling replacement, see README "Certificate rotation"); the client ' +
      'identity is renewed by the custom resource on deployment when fewer than 90 days remain.';
    if (generate)
      Validations.of(this.caSecret).acknowledge({ id: 'AwsSolutions-SMG4', reason: rotationReason });
    Validations.of(this.clientSecret).acknowledge({ id: 'AwsSolutions-SMG4', reason: rotationReason });
  }
}
