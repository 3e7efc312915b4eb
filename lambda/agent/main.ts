/* Join agent entry (placeholder until the agent lands). */
import { Etcd3 } from 'etcd3';
export const etcdClientClass = Etcd3;
if (require.main === module) {
  console.error('etcd-agent: not implemented yet');
  process.exit(2);
}
