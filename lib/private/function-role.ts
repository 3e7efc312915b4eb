/* The role of a Lambda function of this library that runs in a VPC. Synth time only. */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * A function role that writes its own log group only (instead of the managed AWSLambdaBasicExecutionRole,
 * which allows every log group), with the managed AWSLambdaVPCAccessExecutionRole that a function in a
 * VPC needs (lambda.Function adds it only to a role it creates itself). The caller adds what the
 * function itself does.
 */
export function vpcFunctionRole(
  scope: Construct,
  id: string,
  description: string,
  logGroup: logs.ILogGroup,
): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description,
    // The network interfaces of a function in a VPC (the EC2 actions involved need resource "*").
    managedPolicies: [
      iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
    ],
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}
