/* The chaos run's command line (node:util parseArgs, as every bench script). */
import * as path from 'path';
import { intOption, parseOptions } from '../lib/args';
import type { ChaosOptions } from './types';

export const USAGE =
  'usage: npm run chaos -- --rounds N --seed S [--dir DIR] [--report FILE] [--grace S] ' +
  '[--converge-timeout S] [--max-minutes M] [--slow S] [--plan-only] [--quiet]';

/** The options, or undefined after printing the usage for --help. */
export function chaosOptions(argv: string[]): ChaosOptions | undefined {
  const v = parseOptions(argv, {
    rounds: { type: 'string', default: '20' },
    seed: { type: 'string', default: '42' },
    dir: { type: 'string', default: '' },
    report: { type: 'string', default: path.join(__dirname, '..', 'chaos-report.json') },
    grace: { type: 'string', default: '3' },
    'converge-timeout': { type: 'string', default: '120' },
    'max-minutes': { type: 'string', default: '0' },
    slow: { type: 'string', default: '30' },
    'plan-only': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    console.log(USAGE);
    return undefined;
  }
  const o: ChaosOptions = {
    rounds: intOption(v.rounds, 'rounds', 1),
    seed: intOption(v.seed, 'seed', 0) >>> 0,
    dir: v.dir ? path.resolve(String(v.dir)) : '',
    report: path.resolve(String(v.report)),
    grace: Number(v.grace),
    convergeTimeout: intOption(v['converge-timeout'], 'converge-timeout', 10),
    maxMinutes: Number(v['max-minutes']),
    slow: Number(v.slow),
    planOnly: v['plan-only'] as boolean,
    quiet: v.quiet as boolean,
  };
  if (!(o.grace > 0)) throw new Error('--grace must be > 0');
  if (!(o.maxMinutes >= 0)) throw new Error('--max-minutes must be >= 0');
  return o;
}
