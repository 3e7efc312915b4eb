/*
 * The lifecycle Lambda's bundle size and cold start: fresh node processes that take process.hrtime first,
 * require build/lambda/index.js and answer a foreign event (no AWS or etcd call).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { median, r2, ROOT } from './util';

function node(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 30_000 }, (err, so) =>
      err ? reject(err) : resolve(so),
    ),
  );
}

export async function benchLambda(reps: number) {
  const bundle = path.join(ROOT, 'build', 'lambda', 'index.js');
  const bundleBytes = fs.statSync(bundle).size;
  const child = `
    const t0 = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle)});
    const t1 = process.hrtime.bigint();
    mod.handler({ source: 'bench.foreign', 'detail-type': 'not a lifecycle action', detail: {} }).then((r) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.stdout.write('\\nBENCH ' + JSON.stringify({ ms, requireMs: Number(t1 - t0) / 1e6, processMs: performance.now(), outcome: r && r.outcome }) + '\\n');
    });`;
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    GROUP_NAME: 'bench-group',
    STRATEGY: 'replace',
  };
  const runs: { ms: number; requireMs: number; processMs: number; outcome?: string }[] = [];
  for (let i = 0; i < reps; i++) {
    const out = await node(child, env);
    const line = out.split('\n').find((l) => l.startsWith('BENCH '));
    if (!line) throw new Error(`lambda child gave no answer: ${out.slice(0, 500)}`);
    runs.push(JSON.parse(line.slice(6)));
  }
  const empty: number[] = [];
  for (let i = 0; i < reps; i++)
    empty.push(Number(await node('process.stdout.write(String(performance.now()))', env)));
  if (runs.some((r) => r.outcome !== 'ignored'))
    throw new Error(`lambda: unexpected outcome ${JSON.stringify(runs)}`);
  return {
    bundleBytes,
    initMs: r2(median(runs.map((r) => r.ms))),
    requireMs: r2(median(runs.map((r) => r.requireMs))),
    processMs: r2(median(runs.map((r) => r.processMs))),
    // Same-run reference for the machine's load: a cold node that requires nothing (process start → script).
    emptyProcessMs: r2(median(empty)),
    n: runs.length,
  };
}
