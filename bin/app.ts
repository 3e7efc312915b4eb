#!/usr/bin/env node
/*
 * The example app (cdk.json runs it): one stack with a VPC and a 3-member etcd cluster, checked by cdk-nag and
 * by AWS Control Tower's proactive controls (cfn-guard rules of @cdklabs/cdk-validator-cfnguard).
 */
import { App, Validations } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EtcdExampleStack } from './example-stack';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new EtcdExampleStack(app, 'EtcdExampleStack', {
  env: account && region ? { account, region } : undefined,
  vpcId: app.node.tryGetContext('vpcId'),
  description: 'cdk-elastic-etcd example: a self-healing 3-member etcd cluster on Flatcar',
});
// cdk-nag 3 is a policy-validation plugin (not an Aspect): findings are reported at the end of synth.
if (String(app.node.tryGetContext('nag')) !== 'false') {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
// The controls an account with AWS Control Tower may enforce at deploy (docs/CONSTRUCT.md); -c controlTower=false skips.
if (String(app.node.tryGetContext('controlTower')) !== 'false') {
  Validations.of(app).addPlugins(new CfnGuardValidator());
}
app.synth();
