/* The bench scripts' command lines: node:util parseArgs, every value option a string, numbers checked. */
import { parseArgs } from 'util';

type Spec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string }>;

/** Parses `argv` strictly (an unknown option throws) against `spec`. */
export function parseOptions(argv: string[], spec: Spec): Record<string, string | boolean | undefined> {
  return parseArgs({ args: argv, strict: true, options: spec }).values as Record<
    string,
    string | boolean | undefined
  >;
}

/** An integer option's value, at least `min`. */
export function intOption(v: string | boolean | undefined, name: string, min: number): number {
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}
