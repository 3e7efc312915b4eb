#!/usr/bin/env node
/*
 * Bundles the run-time code (lambda/) with esbuild into build/:
 *   build/agent/agent.js      the join agent: one self-contained file (Ignition fetches exactly this file)
 *   build/lambda/index.js     the lifecycle/reconcile Lambda handler (asset folder = build/lambda)
 *   build/ca/index.js         the TLS material custom resource (CA and client identity; asset folder = build/ca)
 *   build/fleet/*.js          the local fleet's CLI and supervisor (bin/etcd-fleet.js loads the CLI), and
 *                             the agent fault preload (fleet/faults/lose-add-reply.ts)
 *
 * etcd3 loads its .proto files from disk at module load (`${__dirname}/../proto/rpc.proto`), which fails
 * inside a bundle. The plugin below parses the protos at bundle time with protobufjs and replaces that
 * loadSync call with proto-loader's fromJSON on the inlined descriptor, so each bundle is one file.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build');

function etcd3ProtoPlugin() {
  return {
    name: 'etcd3-inline-protos',
    setup(build) {
      build.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
        const protobuf = require(
          require.resolve('protobufjs', {
            paths: [
              path.dirname(require.resolve('@grpc/proto-loader', { paths: [path.dirname(args.path)] })),
            ],
          }),
        );
        const protoDir = path.join(path.dirname(args.path), '..', 'proto');
        const rootNs = new protobuf.Root();
        rootNs.resolvePath = (_origin, target) =>
          path.isAbsolute(target) ? target : path.join(protoDir, target);
        rootNs.loadSync(path.join(protoDir, 'rpc.proto'), { keepCase: true });
        const json = JSON.stringify(rootNs.toJSON());
        const src = await fs.promises.readFile(args.path, 'utf8');
        const needle = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/;
        if (!needle.test(src)) {
          throw new Error(
            'etcd3 connection-pool.js no longer loads rpc.proto the expected way: update scripts/bundle.js',
          );
        }
        const contents = src.replace(needle, `(0, proto_loader_1.fromJSON)(${json}, {`);
        return { contents, loader: 'js' };
      });
    },
  };
}

async function bundle(entry, outfile) {
  const result = await esbuild.build({
    entryPoints: [path.join(root, entry)],
    outfile: path.join(out, outfile),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [etcd3ProtoPlugin()],
    // ES module builds first: the AWS SDK's dist-es can be tree-shaken, its dist-cjs cannot. This cut the
    // Lambda bundle from 2.23 MB to 1.49 MB and its load time by about 40% (bench/README.md, lambda init).
    mainFields: ['module', 'main'],
  });
  const bytes = fs.statSync(path.join(out, outfile)).size;
  return { outfile: path.join('build', outfile), bytes, inputs: Object.keys(result.metafile.inputs).length };
}

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  const results = await Promise.all([
    bundle('lambda/agent/main.ts', 'agent/agent.js'),
    bundle('lambda/lifecycle/index.ts', 'lambda/index.js'),
    bundle('lambda/ca/index.ts', 'ca/index.js'),
    bundle('fleet/cli-main.ts', 'fleet/cli.js'),
    bundle('fleet/supervisor-main.ts', 'fleet/supervisor-main.js'),
    // the fault preload the fleet starts an agent with (fleet/faults/index.ts); never part of the agent bundle
    bundle('fleet/faults/lose-add-reply.ts', 'fleet/lose-add-reply.js'),
  ]);
  for (const r of results) console.log(`bundled ${r.outfile}: ${r.bytes} bytes from ${r.inputs} inputs`);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
