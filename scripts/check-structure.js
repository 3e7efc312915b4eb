#!/usr/bin/env node
/*
 * `npm run check:structure`: fails (exit 1) when a source file is longer than MAX_LINES or when files
 * import each other in a cycle. Run by CI (.ci/run) before the tests.
 *
 * Source files: .ts/.js/.mjs/.cjs under the folders below (tests, fleet and bench included; bundles,
 * compiled output and dependencies excluded). Imports: relative `import`/`export ... from`, `import type`,
 * `require()` and `import()` with a string literal, read by TypeScript's own pre-processor and resolved
 * the way Node/TypeScript do (file, .ts, .js, folder index). A cycle is a strongly connected group of
 * two or more files, or a file that imports itself.
 *
 * `--max-lines N` overrides the limit (for a trial); `--json` prints the findings as JSON.
 */
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const ts = require('typescript');

const ROOT = path.resolve(__dirname, '..');
const FOLDERS = ['lib', 'lambda', 'fleet', 'bench', 'bin', 'scripts', 'test', 'examples'];
const EXTENSIONS = ['.ts', '.js', '.mjs', '.cjs'];
const SKIP = new Set(['node_modules', 'dist', 'build', 'cdk.out', 'dist-jsii']);

function sourceFiles(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP.has(e.name)) sourceFiles(p, out);
    } else if (EXTENSIONS.includes(path.extname(e.name)) && !e.name.endsWith('.d.ts')) {
      out.push(p);
    }
  }
  return out;
}

function resolveImport(from, spec, known) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  const candidates = [
    base,
    ...EXTENSIONS.map((x) => base + x),
    // TypeScript lets `./x.js` name `./x.ts`.
    ...(base.endsWith('.js') ? [base.slice(0, -3) + '.ts'] : []),
    ...EXTENSIONS.map((x) => path.join(base, 'index' + x)),
  ];
  return candidates.find((c) => known.has(c));
}

/** Tarjan's strongly connected components; returns the groups that are cycles. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const group = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || graph.get(v).has(v)) found.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

function check(maxLines, root = ROOT) {
  const files = FOLDERS.flatMap((f) => sourceFiles(path.join(root, f))).sort();
  const known = new Set(files);
  const graph = new Map();
  const long = [];
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > maxLines) long.push({ file: path.relative(root, f), lines });
    const pre = ts.preProcessFile(text, true, true);
    const deps = new Set();
    for (const imp of pre.importedFiles) {
      const target = resolveImport(f, imp.fileName, known);
      if (target) deps.add(target);
    }
    graph.set(f, deps);
  }
  const rel = (f) => path.relative(root, f);
  return {
    files: files.length,
    maxLines,
    long: long.sort((a, b) => b.lines - a.lines),
    cycles: cycles(graph).map((g) => g.map(rel)),
  };
}

function main() {
  const { values } = parseArgs({
    options: { 'max-lines': { type: 'string', default: '400' }, json: { type: 'boolean', default: false } },
  });
  const maxLines = Number(values['max-lines']);
  if (!Number.isInteger(maxLines) || maxLines < 1) {
    console.error(`--max-lines must be a positive integer, got ${JSON.stringify(values['max-lines'])}`);
    process.exit(2);
  }
  const r = check(maxLines);
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
  } else {
    for (const l of r.long) console.log(`too long: ${l.file} has ${l.lines} lines (limit ${maxLines})`);
    for (const c of r.cycles) console.log(`import cycle: ${c.join(' <-> ')}`);
    console.log(
      `${r.files} source files: ${r.long.length} over ${maxLines} lines, ${r.cycles.length} import cycle(s)`,
    );
  }
  process.exit(r.long.length > 0 || r.cycles.length > 0 ? 1 : 0);
}

if (require.main === module) main();
module.exports = { check, cycles };
