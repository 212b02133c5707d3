// Removing a small directory tree (a container's state, its record
// directory) without fs.rmSync({ recursive }): Node implements that in
// JavaScript (internal/fs/rimraf, with an lstat per entry and retries), and
// loading and running it cost ~3 ms of every `run --rm`. Symlinks are
// unlinked, never followed (readdir's types come from the directory entry).
import * as fs from 'fs';
import { join } from 'path';

/** unlink, absent being fine (fs.rmSync would load Node's rimraf even for a file). */
export function removeFile(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Removes path and everything below it; absent is fine. Anything unusual goes to fs.rmSync. */
export function removeDirectory(path: string): void {
  try {
    removeBelow(path);
  } catch {
    fs.rmSync(path, { recursive: true, force: true, maxRetries: 3 });
  }
}

function removeBelow(path: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') return fs.unlinkSync(path);
    throw e;
  }
  for (const e of entries) {
    const child = join(path, e.name);
    if (e.isDirectory()) removeBelow(child);
    else fs.unlinkSync(child);
  }
  fs.rmdirSync(path);
}
