// Removing a tree of the store (a layer, a container's upper dir) as its
// unprivileged owner. Root removes anything, but a user cannot unlink in a
// directory it may not write, and images have such directories (Fedora's
// /usr/bin is 0555; overlayfs leaves its work/work at 0000). The user owns
// every file of its own store, so it may make the directories writable first.
import * as fs from 'fs';
import { join } from 'path';
import { removeDirectory } from '../runtime/remove-dir';

export function removeTree(path: string, opts: { maxRetries?: number } = {}): void {
  try {
    if ((process.geteuid?.() ?? 0) === 0) removeDirectory(path);
    else fs.rmSync(path, { recursive: true, force: true, ...opts });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Root is refused only by what chmod cannot fix (immutable files): say that as it is.
    if ((code !== 'EACCES' && code !== 'EPERM') || (process.geteuid?.() ?? 0) === 0) throw e;
  }
  makeDirectoriesWritable(path);
  fs.rmSync(path, { recursive: true, force: true, ...opts });
}

function makeDirectoriesWritable(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isDirectory()) return; // never a symlink: lstat
  if ((st.mode & 0o700) !== 0o700) fs.chmodSync(path, (st.mode & 0o7777) | 0o700);
  for (const name of fs.readdirSync(path)) makeDirectoriesWritable(join(path, name));
}
