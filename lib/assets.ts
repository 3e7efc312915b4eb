import * as path from 'path';

/**
 * The folder that `npm run build` bundles the run-time code into (scripts/bundle.js).
 * Built from `__dirname` so it holds both for the TypeScript sources (lib/) and the
 * compiled package (dist/): both sit one level below the package root.
 */
export const BUILD_DIR = path.join(__dirname, '..', 'build');

/** The join agent: one self-contained JavaScript file, fetched by Ignition from its S3 asset. */
export const AGENT_BUNDLE = path.join(BUILD_DIR, 'agent', 'agent.js');

/** The lifecycle/reconcile Lambda's code folder (handler `index.handler`). */
export const LAMBDA_BUNDLE_DIR = path.join(BUILD_DIR, 'lambda');

/** The TLS material custom resource's code folder (handler `index.handler`). */
export const CA_BUNDLE_DIR = path.join(BUILD_DIR, 'ca');
