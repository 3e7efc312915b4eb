/*
 * Baselines on plain etcd: a static cluster started by hand on loopback addresses 127.251.0.x (outside
 * the fleets' 127.20–249 blocks), and the manual replace runbook done with etcdctl. Every process is
 * tracked by pid so the bench can kill it on any exit path.
 */
'use strict';
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');

const BLOCK = '127.251.0';
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

/** Every etcd this module started and has not seen exit: pid → ChildProcess. */
const live = new Map();

function killAll() {
  for (const [pid, child] of live) {
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function etcdctl(args, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      ['--command-timeout=5s', '--dial-timeout=2s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr: stderr || (err ? err.message : '') }),
    );
  });
}

function healthy(ip, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: CLIENT_PORT, path: '/health', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && JSON.parse(body).health === 'true');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls /health of every ip every 50 ms until all are healthy at once. */
async function waitAllHealthy(ips, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await Promise.all(ips.map((ip) => healthy(ip)));
    if (ok.every(Boolean)) return;
    await sleep(50);
  }
  throw new Error(`static cluster not healthy within ${timeoutMs} ms: ${ips.join(',')}`);
}

/** etcdctl's JSON has uint64 ids: keep them exact as strings. */
const bigIdsAsStrings = (json) => json.replace(/"(ID|member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"');

const peerURL = (ip) => `http://${ip}:${PEER_PORT}`;
const clientURL = (ip) => `http://${ip}:${CLIENT_PORT}`;

class StaticCluster {
  /** @param {string} dir an empty temp dir owned by the caller */
  constructor(size, dir) {
    this.dir = dir;
    this.members = [];
    for (let i = 0; i < size; i++) this.members.push({ name: `m${i}`, ip: `${BLOCK}.${11 + i}` });
    this.gen = 0;
  }

  get ips() {
    return this.members.map((m) => m.ip);
  }

  get endpoints() {
    return this.members.map((m) => clientURL(m.ip));
  }

  spawnEtcd(m, initialCluster, state, token) {
    m.dataDir = path.join(this.dir, `${m.name}.data`);
    const out = fs.openSync(path.join(this.dir, `${m.name}.log`), 'a');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-advertise-peer-urls=${peerURL(m.ip)}`,
      `--listen-peer-urls=${peerURL(m.ip)}`,
      `--listen-client-urls=${clientURL(m.ip)}`,
      `--advertise-client-urls=${clientURL(m.ip)}`,
      '--strict-reconfig-check=true',
    ];
    if (token) args.push(`--initial-cluster-token=${token}`);
    const child = spawn('etcd', args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    live.set(child.pid, child);
    child.on('exit', () => live.delete(child.pid));
    m.proc = child;
    return child;
  }

  /** Starts every member with a static --initial-cluster; resolves when all endpoints are healthy. */
  async start() {
    const initial = this.members.map((m) => `${m.name}=${peerURL(m.ip)}`).join(',');
    const token = `bench-${process.pid}-${Date.now()}`;
    for (const m of this.members) this.spawnEtcd(m, initial, 'new', token);
    await waitAllHealthy(this.ips);
  }

  async stopMember(m) {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async stop() {
    await Promise.all(this.members.map((m) => this.stopMember(m)));
  }

  async leaderName() {
    const r = await etcdctl(['--endpoints', this.endpoints.join(','), 'endpoint', 'status', '-w', 'json']);
    if (!r.ok) throw new Error(`endpoint status: ${r.stderr}`);
    const st = JSON.parse(bigIdsAsStrings(r.stdout));
    const leader = st.find((s) => s.Status.header.member_id === s.Status.leader);
    const m = leader && this.members.find((x) => leader.Endpoint === clientURL(x.ip));
    return m ? m.name : undefined;
  }

  /**
   * The manual runbook for replacing one member (no discovery, no lock): member list, member remove,
   * stop it, member add --learner, start etcd with --initial-cluster-state existing, member promote
   * (retried every 100 ms while etcd says the learner is not in sync), then wait until every endpoint
   * is healthy. The new member reuses the victim's address (as the fleet's replacement usually does)
   * with an empty data dir. Returns per-step milliseconds.
   */
  async replace(victim) {
    const steps = {};
    let t = Date.now();
    const mark = (name) => {
      const now = Date.now();
      steps[name] = now - t;
      t = now;
    };
    const others = this.members.filter((m) => m !== victim);
    const eps = others.map((m) => clientURL(m.ip)).join(',');
    const list = await etcdctl(['--endpoints', eps, 'member', 'list', '-w', 'json']);
    if (!list.ok) throw new Error(`member list: ${list.stderr}`);
    const entry = JSON.parse(bigIdsAsStrings(list.stdout)).members.find((x) => x.name === victim.name);
    if (!entry) throw new Error(`no member ${victim.name}`);
    const victimId = BigInt(entry.ID).toString(16);
    mark('memberList');
    // As an operator would: retry while etcd's 5 s connection guard (strict reconfig check) says no.
    for (let k = 0; ; k++) {
      const rm = await etcdctl(['--endpoints', eps, 'member', 'remove', victimId]);
      if (rm.ok) break;
      if (k >= 100 || !/unhealthy cluster/.test(rm.stderr)) throw new Error(`member remove: ${rm.stderr}`);
      await sleep(100);
    }
    mark('memberRemove');
    await this.stopMember(victim);
    fs.rmSync(victim.dataDir, { recursive: true, force: true });
    mark('stopOld');
    const name = `m${this.members.length + ++this.gen}`;
    const add = await etcdctl([
      '--endpoints',
      eps,
      'member',
      'add',
      name,
      `--peer-urls=${peerURL(victim.ip)}`,
      '--learner',
    ]);
    if (!add.ok) throw new Error(`member add: ${add.stderr}`);
    const id = /Member\s+([0-9a-f]+)\s+added/.exec(add.stdout)?.[1];
    const initial = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(add.stdout)?.[1];
    if (!id || !initial) throw new Error(`member add: unexpected output ${add.stdout}`);
    mark('memberAdd');
    const fresh = { name, ip: victim.ip };
    this.members[this.members.indexOf(victim)] = fresh;
    this.spawnEtcd(fresh, initial, 'existing');
    mark('startEtcd');
    const deadline = Date.now() + 180_000;
    for (;;) {
      const pr = await etcdctl(['--endpoints', eps, 'member', 'promote', id]);
      if (pr.ok) break;
      if (Date.now() > deadline) throw new Error(`member promote: ${pr.stderr}`);
      if (
        !/in sync with leader|not in sync|not started|timed out|deadline exceeded|unhealthy/i.test(pr.stderr)
      )
        throw new Error(`member promote: ${pr.stderr}`);
      await sleep(100);
    }
    mark('promote');
    await waitAllHealthy(this.ips);
    mark('allHealthy');
    return steps;
  }
}

module.exports = { StaticCluster, killAll, waitAllHealthy, etcdctl, BLOCK };
