/*
 * EtcdAdapter.memberList asks every endpoint at once. A peer that accepts connections but answers nothing
 * (a member of a new cluster without quorum yet, or a frozen one) must not delay the answer of a live one.
 * Real etcd on 127.0.78.1; a silent TCP listener on 127.0.78.2 that accepts and never replies.
 */
import * as net from 'net';
import { EtcdAdapter } from '../../lambda/adapters/etcd';
import { CLIENT_PORT, EtcdCluster } from '../lifecycle/etcd-cluster';

const SILENT = `http://127.0.78.2:${CLIENT_PORT}`;

describe('EtcdAdapter.memberList against a silent peer and a live one', () => {
  let cluster: EtcdCluster;
  let silent: net.Server;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    silent = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      silent.once('error', reject);
      silent.listen(CLIENT_PORT, '127.0.78.2', resolve);
    });
    cluster = new EtcdCluster([{ name: 'm1', ip: '127.0.78.1' }]);
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  it('answers from the live endpoint although the silent one is listed first', async () => {
    // Deadlines far beyond the test timeout: asked in turn, the silent peer alone would time the test out.
    const adapter = new EtcdAdapter({ callTimeoutMs: 60_000, probeTimeoutMs: 60_000 });
    const res = await adapter.memberList([SILENT, cluster.clientURLs[0]]);
    expect(res).not.toBeNull();
    expect(res!.endpoint).toBe(cluster.clientURLs[0]);
    expect(res!.members.map((m) => m.name)).toEqual(['m1']);
    expect(res!.clusterId).toMatch(/^[0-9a-f]+$/);
    expect(res!.leaderId).toBe(''); // not asked for: no extra status round trip
    const withLeader = await adapter.memberList([SILENT, cluster.clientURLs[0]], { withLeader: true });
    expect(withLeader!.leaderId).toBe(withLeader!.members[0].id); // a one-member cluster leads itself
  }, 15_000);

  it('returns null when no endpoint answers within the probe deadline', async () => {
    const adapter = new EtcdAdapter({ callTimeoutMs: 60_000, probeTimeoutMs: 300 });
    await expect(adapter.memberList([SILENT])).resolves.toBeNull();
    await expect(adapter.memberList([])).resolves.toBeNull();
  }, 15_000);
});
