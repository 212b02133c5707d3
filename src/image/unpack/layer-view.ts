// One directory of an image, read from its cached layers (lower-dir format)
// as the container's merged overlay will show it, without mounting anything:
// the image front end needs it before the container's root exists (the
// overlay is mounted by the container's init, in its own mount namespace).
//
// Paths are resolved as the init resolves mount destinations, openat2 with
// RESOLVE_IN_ROOT on the merged root: symlinks are followed inside the image
// (an absolute target starts again at the image's root, ".." stops there),
// so no link can lead to a host file.
import { readlinkSync } from 'fs';
import { ImageError } from '../errors';
import { ROOT_LAYERS, type LayerFormat } from './layer-format';
import { findInLowers, isOpaqueDir, isWhiteout } from './layer-writer';
import { mergeLayerDirs } from './rootfs';
import { lstatOrNull } from './safe-path';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS); more is ELOOP. */
const MAX_SYMLINKS = 40;

export interface ResolvedImagePath {
  /**
   * The path inside the image with every symlink resolved ('' for the root);
   * for 'missing', the directory that mkdir -p in the root would make.
   */
  rel: string;
  kind: 'directory' | 'missing' | 'not-a-directory';
}

/**
 * `path` (absolute, in the image) resolved in the merged view of `topFirst`
 * (layer directories, top-most first, written in `format`). A missing name is
 * taken as the directory mkdir -p would make (a later ".." may lead back to what exists).
 */
export function resolveInLayers(topFirst: string[], path: string, format: LayerFormat = ROOT_LAYERS): ResolvedImagePath {
  const pending = path.split('/');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const rel = [...resolved, part].join('/');
    const found = findInLowers(topFirst, rel, format);
    if (found?.stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new ImageError(`the image's ${path} goes through more than ${MAX_SYMLINKS} symlinks (a loop?)`);
      const target = readlinkSync(found.path);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    if (found && !found.stat.isDirectory()) return { rel, kind: 'not-a-directory' };
    resolved.push(part);
  }
  const rel = resolved.join('/');
  return { rel, kind: rel === '' || findInLowers(topFirst, rel, format) ? 'directory' : 'missing' };
}

/**
 * The layers' copies of directory `rel` whose union the merged view shows,
 * top-most first: it stops at a whiteout, a non-directory, or an opaque
 * directory on the way (each hides every layer below).
 */
function directoryCopies(topFirst: string[], rel: string, format: LayerFormat): string[] {
  const parts = rel === '' ? [] : rel.split('/');
  const copies: string[] = [];
  for (const layer of topFirst) {
    let cur = layer;
    let opaque = isOpaqueDir(cur, format);
    let present = true;
    for (const part of parts) {
      cur = `${cur}/${part}`;
      const st = lstatOrNull(cur);
      if (st === null) {
        present = false;
        break;
      }
      if (isWhiteout(st) || !st.isDirectory()) return copies;
      opaque ||= isOpaqueDir(cur, format);
    }
    if (present) copies.push(cur);
    if (opaque) return copies;
  }
  return copies;
}

/**
 * Copies the merged view of directory `rel` (resolved: see resolveInLayers)
 * of the layers `topFirst` into `target` (absent or empty): types, modes,
 * owners, times, xattrs and symlinks as they are; `target` takes the
 * directory's own owner and mode.
 */
export function copyMergedDirectory(topFirst: string[], rel: string, target: string, format: LayerFormat = ROOT_LAYERS): void {
  mergeLayerDirs(directoryCopies(topFirst, rel, format).reverse(), target, format);
}
