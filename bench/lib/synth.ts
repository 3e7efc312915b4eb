/* cdk synth of the example app against a minimal one-ASG app written to a temp dir at bench time. */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { log, r2, rmTemp, ROOT, tempDir } from './util';
import { compare } from './compare';

const BASELINE_APP = `
import { App, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
const app = new App();
const stack = new Stack(app, 'BaselineAsgStack');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 1 });
new autoscaling.AutoScalingGroup(stack, 'Asg', {
  vpc,
  instanceType: new ec2.InstanceType('t3.small'),
  machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-00000000000000000', 'eu-west-1': 'ami-00000000000000000' }),
  minCapacity: 3,
  maxCapacity: 3,
});
app.synth();
`;

/** Seconds a command took; rejects with its stderr when it fails. */
function timedCmd(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20, ...opts },
      (err, _so, se) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${se || err.message}`));
        else resolve(Number(process.hrtime.bigint() - t) / 1e9);
      },
    );
  });
}

function baselineApp(): string {
  const base = tempDir('synth-baseline');
  fs.writeFileSync(path.join(base, 'app.ts'), BASELINE_APP);
  // The repo's compiler options (ts-node --transpile-only reads them as it does for bin/app.ts).
  const compilerOptions = {
    target: 'ES2022',
    module: 'commonjs',
    moduleResolution: 'node',
    lib: ['ES2022'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
  };
  fs.writeFileSync(path.join(base, 'tsconfig.json'), JSON.stringify({ compilerOptions }));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'));
  return base;
}

export async function benchSynth(reps: number) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_DISABLE_VERSION_CHECK: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  delete env.CDK_DEFAULT_ACCOUNT;
  delete env.CDK_DEFAULT_REGION;
  const base = baselineApp();
  const synth = ['cdk', 'synth', '--quiet', '--no-notices'];
  const example: number[] = [];
  const baseline: number[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const o1 = tempDir('synth-out');
      const o2 = tempDir('synth-out');
      try {
        example.push(await timedCmd('npx', [...synth, '-o', o1], { cwd: ROOT, env }));
        const app = 'npx ts-node --transpile-only app.ts';
        baseline.push(await timedCmd('npx', [...synth, '-a', app, '-o', o2], { cwd: base, env }));
        if (!fs.readdirSync(o1).some((f) => f.endsWith('.template.json')))
          throw new Error('example synth wrote no template');
        if (!fs.existsSync(path.join(o2, 'BaselineAsgStack.template.json')))
          throw new Error('baseline synth wrote no template');
      } finally {
        rmTemp(o1);
        rmTemp(o2);
      }
      log(`synth ${i + 1}: example ${example[i].toFixed(1)} s, baseline ${baseline[i].toFixed(1)} s`);
    }
  } finally {
    rmTemp(base);
  }
  const c = compare(example, baseline, r2);
  return {
    seconds: c.seconds,
    baselineSeconds: c.floorSeconds,
    ratio: c.ratio,
    runs: c.runs,
    baselineRuns: c.floorRuns,
  };
}
