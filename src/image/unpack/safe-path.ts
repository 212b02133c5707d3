// Turning an archive's entry names into paths inside a target directory.
//
// The rule (chosen over containerd's resolve-symlinks-in-root, because it is
// simpler to get right and no layer built from a filesystem diff needs more):
//  - the name is cleaned; absolute names and names that climb out with `..`
//    are refused;
//  - every parent component that already exists in the target is checked
//    with lstat: a symlink there is refused (a layer never has to write
//    *through* one of its own symlinks: diffs record real paths), and so is a
//    non-directory; missing parents are created as 0755 root:root
//    directories, as Docker does.
// Nothing ever follows a symlink while writing, so nothing lands outside the
// target whatever the layer's symlinks point at.
import { lstatSync, mkdirSync, type Stats } from 'fs';
import { posix } from 'path';
import { UnsafeLayerEntryError } from './errors';

/**
 * The entry name as a clean relative path ('' for the root itself), or an
 * error naming the entry.
 */
export function cleanEntryPath(raw: string, what = raw): string {
  if (raw.includes('\0')) throw new UnsafeLayerEntryError(what, 'the name contains a NUL byte');
  if (raw.startsWith('/')) {
    throw new UnsafeLayerEntryError(what, 'absolute path (layer entries must be relative to the root)');
  }
  const clean = posix.normalize(raw === '' ? '.' : raw).replace(/\/+$/, '');
  if (clean === '..' || clean.startsWith('../')) {
    throw new UnsafeLayerEntryError(what, 'the path climbs out of the root with ".."');
  }
  return clean === '.' ? '' : clean;
}

export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * Checks (and, with create, makes) the parent directories of `rel` under
 * `root`, remembering the ones already known to be real directories.
 */
export class ParentGuard {
  private readonly known = new Set<string>();

  constructor(private readonly root: string) {}

  /** Forget what we know below (and at) `rel`: it is being replaced. */
  forget(rel: string): void {
    if (this.known.size === 0) return;
    const prefix = rel + '/';
    for (const k of this.known) if (k === rel || k.startsWith(prefix)) this.known.delete(k);
  }

  /** Records that `rel` is now a real directory made by us. */
  remember(rel: string): void {
    this.known.add(rel);
  }

  /**
   * Ensures every parent of `rel` is a real directory inside the root.
   * `onCreate` sees each directory this call makes (relative path).
   */
  parents(rel: string, entry: string, create: boolean, onCreate?: (dirRel: string) => void): boolean {
    const end = rel.lastIndexOf('/');
    if (end <= 0) return true;
    const dir = rel.slice(0, end);
    if (this.known.has(dir)) return true;
    const parts = dir.split('/');
    let cur = '';
    for (const part of parts) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.known.has(cur)) continue;
      const abs = `${this.root}/${cur}`;
      const st = lstatOrNull(abs);
      if (st === null) {
        if (!create) return false;
        mkdirSync(abs, 0o755);
        onCreate?.(cur);
      } else if (st.isSymbolicLink()) {
        throw new UnsafeLayerEntryError(entry, `its parent "${cur}" is a symlink (writing through symlinks is refused)`);
      } else if (!st.isDirectory()) {
        throw new UnsafeLayerEntryError(entry, `its parent "${cur}" is not a directory`);
      }
      this.known.add(cur);
    }
    return true;
  }
}
