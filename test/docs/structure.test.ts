/*
 * scripts/check-structure.js (`npm run check:structure`, run by CI) finds what it is for: a file over the
 * line limit and files that import each other in a cycle (import, import type, require, export from,
 * a folder's index), in a throwaway tree; and it passes a tree without either.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const { check } = require('../../scripts/check-structure.js') as {
  check: (
    maxLines: number,
    root: string,
  ) => { files: number; long: { file: string; lines: number }[]; cycles: string[][] };
};

let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'structure-'));
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

test('a tree without long files or cycles passes', () => {
  write('lib/a.ts', "import { b } from './b';\nexport const a = b;\n");
  write('lib/b.ts', "import * as fs from 'fs';\nexport const b = fs.constants.F_OK;\n");
  write('test/a.test.ts', "import { a } from '../lib/a';\ntest('a', () => expect(a).toBe(0));\n");
  expect(check(400, root)).toEqual({ files: 3, maxLines: 400, long: [], cycles: [] });
});

test('a file over the limit is named with its line count; one at the limit is not', () => {
  write('lib/long.ts', 'export const x = 1;\n'.repeat(401));
  write('lib/edge.ts', 'export const y = 1;\n'.repeat(400));
  expect(check(400, root).long).toEqual([{ file: path.join('lib', 'long.ts'), lines: 401 }]);
});

test('cycles through import type, require, export-from and a folder index are found, each once', () => {
  write('fleet/sup.ts', "import type { T } from './tls';\nexport const s: T = 1;\n");
  write('fleet/tls.ts', "const s = require('./sup');\nexport type T = number;\nexport const t = s;\n");
  write('lib/x/index.ts', "export { y } from '../y';\n");
  write('lib/y.ts', "import { z } from './x';\nexport const y = z;\n");
  write('lib/self.js', "const me = require('./self.js');\nmodule.exports = me;\n");
  write('lib/free.ts', "import { y } from './y';\nexport const f = y;\n");
  const cycles = check(400, root)
    .cycles.map((c) => c.join(' '))
    .sort();
  expect(cycles).toEqual([
    `${path.join('fleet', 'sup.ts')} ${path.join('fleet', 'tls.ts')}`,
    path.join('lib', 'self.js'),
    `${path.join('lib', 'x', 'index.ts')} ${path.join('lib', 'y.ts')}`,
  ]);
});
