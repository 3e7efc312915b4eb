/*
 * The agent's only access to etcd's data dir: what it holds (nothing, a member, a member the cluster removed),
 * wiping it, and its marker files: `.removed` marks the data of a member the cluster removed for good (the
 * plan wipes it), `.restore-generation` the restore generation the data belongs to (lambda/agent/restore.ts).
 * One implementation, on the local file system; tests give it a temporary dir.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataDirState } from '../core/types';

export const GENERATION_FILE = '.restore-generation';
const REMOVED_FILE = '.removed';
const MEMBER_DIR = 'member';

export interface DataDir {
  readonly path: string;
  /** What the data dir holds, as the join plan reads it. */
  state(): DataDirState;
  /** Whether it holds a member's data (the `member` dir). */
  hasMember(): boolean;
  /** Removes everything in it (but `keep`, an entry name), creating it when missing. */
  wipe(keep?: string): void;
  /** The restore generation the data belongs to; 0 when unmarked or unreadable. */
  generation(): number;
  /** Marks the data with a restore generation (nothing for 0: no restore yet). */
  writeGeneration(generation: number): void;
  /** Moves a restored `member` dir (from `from`, a dir inside the data dir) into place. */
  adoptMember(from: string): void;
}

export function localDataDir(dir: string): DataDir {
  return {
    path: dir,
    state() {
      if (fs.existsSync(path.join(dir, REMOVED_FILE))) return DataDirState.REMOVED_MEMBER;
      return this.hasMember() ? DataDirState.HAS_DATA : DataDirState.EMPTY;
    },
    hasMember: () => fs.existsSync(path.join(dir, MEMBER_DIR)),
    wipe(keep) {
      fs.mkdirSync(dir, { recursive: true });
      for (const entry of fs.readdirSync(dir)) {
        if (entry !== keep) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
      }
    },
    generation() {
      try {
        const n = Number(fs.readFileSync(path.join(dir, GENERATION_FILE), 'utf8').trim());
        return Number.isSafeInteger(n) && n >= 0 ? n : 0;
      } catch {
        return 0;
      }
    },
    writeGeneration(generation) {
      if (generation <= 0) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, GENERATION_FILE), `${generation}\n`);
    },
    adoptMember(from) {
      fs.renameSync(path.join(from, MEMBER_DIR), path.join(dir, MEMBER_DIR));
    },
  };
}
