/* The agent's data-dir access, on a temporary dir: what it holds, wiping, the restore-generation marker. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GENERATION_FILE, localDataDir } from '../../lambda/agent/data-dir';
import { DataDirState } from '../../lambda/core/types';

let dir: string;
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'data-dir-')), 'data');
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

test('missing or empty is EMPTY, a member dir is HAS_DATA, a .removed mark is REMOVED_MEMBER', () => {
  const d = localDataDir(dir);
  expect(d.state()).toBe(DataDirState.EMPTY);
  fs.mkdirSync(path.join(dir, 'member', 'wal'), { recursive: true });
  expect(d.hasMember()).toBe(true);
  expect(d.state()).toBe(DataDirState.HAS_DATA);
  fs.writeFileSync(path.join(dir, '.removed'), '');
  expect(d.state()).toBe(DataDirState.REMOVED_MEMBER);
});

test('wipe removes every entry but the one kept, and creates a missing dir', () => {
  const d = localDataDir(dir);
  d.wipe();
  expect(fs.readdirSync(dir)).toEqual([]);
  fs.mkdirSync(path.join(dir, 'member', 'snap'), { recursive: true });
  fs.mkdirSync(path.join(dir, '.restore-work'));
  fs.writeFileSync(path.join(dir, '.removed'), '');
  d.wipe('.restore-work');
  expect(fs.readdirSync(dir)).toEqual(['.restore-work']);
  d.wipe();
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('the restore generation reads back what was written; 0 writes nothing; junk reads as 0', () => {
  const d = localDataDir(dir);
  expect(d.generation()).toBe(0);
  d.writeGeneration(0);
  expect(fs.existsSync(path.join(dir, GENERATION_FILE))).toBe(false);
  d.writeGeneration(7);
  expect(fs.readFileSync(path.join(dir, GENERATION_FILE), 'utf8')).toBe('7\n');
  expect(d.generation()).toBe(7);
  fs.writeFileSync(path.join(dir, GENERATION_FILE), 'seven');
  expect(d.generation()).toBe(0);
});

test('adoptMember moves a restored member dir into place', () => {
  const d = localDataDir(dir);
  const work = path.join(dir, '.restore-work', 'data');
  fs.mkdirSync(path.join(work, 'member', 'wal'), { recursive: true });
  d.adoptMember(work);
  expect(fs.existsSync(path.join(dir, 'member', 'wal'))).toBe(true);
  expect(fs.existsSync(path.join(work, 'member'))).toBe(false);
});
