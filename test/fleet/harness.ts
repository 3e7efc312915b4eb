/*
 * Test harness over the etcd-fleet CLI contract, shared with the chaos run and the bench (bench/): the
 * fleet driver (./harness/fleet), free loopback blocks (./harness/blocks), clients (./harness/client), the
 * steady writer (./harness/writer), the samplers (./harness/samplers), the read-backs
 * (./harness/readback), jest assertions (./harness/assert), the overwrite load (./harness/overwrite),
 * etcdctl as a judge (./harness/etcdctl) and the Lambda's decision lines (./harness/decisions).
 */
export * from './harness/assert';
export * from './harness/blocks';
export * from './harness/client';
export * from './harness/fleet';
export * from './harness/readback';
export * from './harness/samplers';
export * from './harness/writer';
export * from './harness/decisions';
export * from './harness/etcdctl';
export * from './harness/overwrite';
export * from './harness/s3';
export * from './harness/total-loss';
