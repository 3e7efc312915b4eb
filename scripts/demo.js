#!/usr/bin/env node
/*
 * The newcomer's demo (README quick start): a local fleet of real etcd processes on loopback addresses,
 * driven by the same agent and Lambda bundles the construct ships, then `cdk synth` of the example app.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, '.fleet-demo');
const fleetBin = path.join(root, 'bin', 'etcd-fleet.js');

function say(text) {
  console.log(`\n\x1b[1m==> ${text}\x1b[0m`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  }
  return r.stdout;
}

function fleet(...args) {
  return run(process.execPath, [fleetBin, ...args, '--dir', dir], { capture: args.includes('--json') });
}

function main() {
  if (
    spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim() === '' &&
    !process.env.ETCD_BIN
  ) {
    console.error('etcd is not installed: apt-get install -y etcd-server etcd-client (or set ETCD_BIN)');
    process.exit(2);
  }
  if (
    !fs.existsSync(path.join(root, 'build', 'fleet', 'cli.js')) ||
    !fs.existsSync(path.join(root, 'dist'))
  ) {
    say('Building: type-check, compile lib/, bundle the join agent, the lifecycle Lambda and the fleet');
    run('npm', ['run', 'build']);
  }
  fleet('down');
  try {
    say('Starting a fleet of 3 "instances" (loopback addresses). Each runs the join agent, then etcd,');
    console.log('    then the agent promotes it and completes the launch lifecycle action. The three see an');
    console.log('    empty group at full size and bootstrap one cluster from the same static list.');
    fleet('up', '--size', '3');

    say('Scaling out to 5: the new instances find the cluster, join one at a time as learners, get promoted');
    fleet('scale', '5');

    const status = JSON.parse(fleet('status', '--json'));
    const victim = status.instances.find((i) => !i.leader) || status.instances[0];
    say(`Killing the etcd of ${victim.id} (${victim.ip}) with its data, as if the instance died`);
    fleet('kill', victim.id, '--wipe');
    console.log('    The group health check notices, terminates it through the lifecycle hook (the Lambda');
    console.log('    removes its member), and launches a replacement that joins as a learner.');
    fleet('wait', '--timeout', '180');

    say('Scaling back in to 3: each terminating instance leaves the member list before it goes');
    fleet('scale', '3');
    fleet('status');
  } finally {
    say('Tearing the fleet down: every process it started is stopped and its directory removed');
    fleet('down');
  }

  say('Synthesizing the example CDK app (offline: the Flatcar AMI comes from the documented fallback map)');
  run('npx', ['cdk', 'synth', '--quiet']);
  const tpl = JSON.parse(
    fs.readFileSync(path.join(root, 'cdk.out', 'EtcdExampleStack.template.json'), 'utf8'),
  );
  const counts = {};
  for (const r of Object.values(tpl.Resources)) counts[r.Type] = (counts[r.Type] || 0) + 1;
  console.log(`    cdk.out/EtcdExampleStack.template.json: ${Object.keys(tpl.Resources).length} resources`);
  for (const [type, n] of Object.entries(counts).sort()) console.log(`      ${n} x ${type}`);
  say('Done.');
}

try {
  main();
} catch (err) {
  console.error(`demo failed: ${err.message}`);
  process.exit(1);
}
