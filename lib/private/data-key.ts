/* The cluster's data key: the backup bucket the construct creates and the functions' log groups (synth time). */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EtcdClusterProps } from '../etcd-cluster-props';
import { allowLogGroups, createDataKey } from '../controls';

/**
 * `encryptionKey` when given (its policy gets the CloudWatch Logs statement, a no-op for an imported key),
 * else a new key, kept as long as the bucket it encrypts.
 */
export function clusterDataKey(cluster: Construct, props: EtcdClusterProps): kms.IKey {
  const createsBucket = props.backup?.enabled !== false && !props.backup?.bucket;
  const encryptionKey =
    props.encryptionKey ??
    createDataKey(
      cluster,
      'Key',
      `cdk-elastic-etcd ${cluster.node.path}`,
      createsBucket ? (props.backup?.removalPolicy ?? RemovalPolicy.RETAIN) : RemovalPolicy.DESTROY,
    );
  // A no-op for an imported key (its policy is not ours to change).
  if (props.encryptionKey) allowLogGroups(props.encryptionKey);
  return encryptionKey;
}
