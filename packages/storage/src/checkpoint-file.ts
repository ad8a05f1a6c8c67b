/**
 * Small text checkpoint files written atomically, after Kafka's CheckpointFile:
 *
 *   <version>\n<entry count>\n<entry>\n...
 *
 * Atomic write: write `<name>.tmp`, fsync it, rename over `<name>`, fsync the
 * directory (so the rename itself survives a power loss). A reader therefore
 * sees either the old or the new file, never a mix; a leftover `.tmp` is garbage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TMP_FILE_SUFFIX } from './file-names.js';

export const CHECKPOINT_VERSION = 0;
/** Bound on what we read back: checkpoints here are a few lines (STYLE.md H.2). */
export const MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024;

export type CheckpointRead =
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string }
  | { kind: 'ok'; entries: string[] };

/** fsync a directory so that creations, renames and unlinks in it are durable. */
export function fsyncDir(dir: string, durable: boolean): void {
  if (!durable) return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `durable: false` skips every fsync (etcd's --unsafe-no-fsync): only for tests
 * and benchmarks that simulate process crashes, where the page cache survives.
 */
export function writeCheckpointFile(dir: string, name: string, entries: readonly string[], durable: boolean): void {
  const finalPath = path.join(dir, name);
  const tmpPath = finalPath + TMP_FILE_SUFFIX;
  const body = `${CHECKPOINT_VERSION}\n${entries.length}\n${entries.map((e) => e + '\n').join('')}`;
  const fd = fs.openSync(tmpPath, 'w');
  try {
    fs.writeFileSync(fd, body);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmpPath, finalPath);
  fsyncDir(dir, durable);
}

export function readCheckpointFile(filePath: string): CheckpointRead {
  let text: string;
  try {
    const st = fs.statSync(filePath);
    if (st.size > MAX_CHECKPOINT_BYTES) return { kind: 'corrupt', reason: `file is ${st.size} bytes` };
    text = fs.readFileSync(filePath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') return { kind: 'corrupt', reason: 'no trailing newline' };
  lines.pop();
  if (lines.length < 2) return { kind: 'corrupt', reason: 'missing version or count line' };
  if (lines[0] !== String(CHECKPOINT_VERSION)) return { kind: 'corrupt', reason: `unknown version ${lines[0]}` };
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) {
    return { kind: 'corrupt', reason: `count line says ${lines[1]}, ${lines.length - 2} entries follow` };
  }
  return { kind: 'ok', entries: lines.slice(2) };
}
