import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EtcdCluster } from 'cdk-elastic-etcd';

const app = new App();
const stack = new Stack(app, 'EtcdStack', {
  // The account and region of your credentials: the construct looks up the newest Flatcar AMI there.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
const cluster = new EtcdCluster(stack, 'Etcd', { vpc, size: 3 });

// An etcd client: its security group reaches the client port, its role reads the client certificate.
const clientSecurityGroup = new ec2.SecurityGroup(stack, 'ClientSecurityGroup', { vpc });
const clientRole = new iam.Role(stack, 'ClientRole', {
  assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
});
cluster.connections.allowDefaultPortFrom(clientSecurityGroup);
cluster.grantClientAccess(clientRole);
