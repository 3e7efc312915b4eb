/*
 * The contract between synth time and run time: what the construct writes (the agent's config file, the
 * lifecycle Lambda's environment) and what the agent and the Lambda read, with the enums, names and
 * defaults both sides share. Dependency-free and pure (no I/O): the construct, the run-time bundles
 * (lambda/, bundled by esbuild) and the local fleet all import it. Not part of the public (jsii) API, except
 * the two enums lib/index.ts re-exports.
 */
export * from './agent-config';
export * from './defaults';
export * from './enums';
export * from './errors';
export * from './lifecycle-env';
export * from './names';
