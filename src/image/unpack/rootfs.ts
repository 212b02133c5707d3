// Flattening cached layers (overlay lower-dir format) into one plain
// directory: the rootfs of a bundle. Layers are applied bottom first, with
// overlayfs's rules: a whiteout (char device 0:0) deletes the name below, an
// opaque directory (its format's opaque xattr, layer-format.ts) drops the lower children, a
// non-directory replaces whatever was there and a directory over a directory
// merges. Files are copied (reflinked where the filesystem can), never
// hardlinked to the cache, so a container writing into its rootfs cannot
// change the cache; hardlinks between files of one layer stay hardlinks.
// Nothing here follows a symlink: every step uses lstat and replaces what it
// finds, so a symlink in a lower layer can never redirect an upper layer's
// write out of the target.
import {
  chmodSync,
  constants as C,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'fs';
import { ImageError } from '../errors';
import { lgetxattr, llistxattr, lsetxattr, lutimes, mknod } from './fs-ops';
import { keepsLayerXattr, ROOT_LAYERS, type LayerFormat } from './layer-format';
import { isOpaqueDir, isWhiteout } from './layer-writer';
import { lstatOrNull } from './safe-path';

export interface LayerDirs {
  layerPath(diffId: string): string;
  hasLayer(diffId: string): boolean | Promise<boolean>;
  /** How the layers were written (default: by root). */
  readonly layerFormat?: LayerFormat;
}

interface Times {
  atime: number;
  mtime: number;
  mode: number;
}

/** One merge: where directory times go, and how the layers mark what overlayfs reads. */
interface Merge {
  times: Map<string, Times>;
  format: LayerFormat;
}

/**
 * Writes the union of the cached layers `diffIds` (bottom first) into
 * `target`, which must not exist or be an empty directory.
 */
export async function buildRootfs(store: LayerDirs, diffIds: string[], target: string): Promise<void> {
  const dirs: string[] = [];
  for (const id of diffIds) {
    if (!(await store.hasLayer(id))) {
      throw new ImageError(`layer ${id} is not unpacked in the store (pull or load the image again)`);
    }
    dirs.push(store.layerPath(id));
  }
  mergeLayerDirs(dirs, target, store.layerFormat);
}

/**
 * Writes the union of the directories `dirs` (layer copies of one directory,
 * bottom first, in lower-dir format) into `target`, which must not exist or
 * be an empty directory; `target` takes the top copy's owner, mode and times.
 */
export function mergeLayerDirs(dirs: string[], target: string, format: LayerFormat = ROOT_LAYERS): void {
  const existing = lstatOrNull(target);
  if (existing) {
    if (!existing.isDirectory()) throw new ImageError(`${target} exists and is not a directory`);
    if (readdirSync(target).length > 0) throw new ImageError(`${target} is not empty`);
  } else {
    mkdirSync(target, { recursive: true, mode: 0o755 });
  }
  const times = new Map<string, Times>();
  const merge: Merge = { times, format };
  for (const dir of dirs) applyLayer(dir, target, merge);
  // The root takes the top layer's root attributes, as the merged overlay view does.
  if (dirs.length > 0) {
    const top = lstatSync(dirs[dirs.length - 1]);
    chown(target, top, format);
    times.set(target, { atime: top.atimeMs / 1000, mtime: top.mtimeMs / 1000, mode: top.mode & 0o7777 });
  }
  // Directory modes and mtimes last, children before parents (reverse of first visit).
  for (const [path, t] of [...times.entries()].reverse()) {
    const st = lstatOrNull(path);
    if (!st?.isDirectory()) continue; // removed by a later layer
    chmodSync(path, t.mode);
    lutimes(path, t.atime, t.mtime);
  }
}

function applyLayer(layerDir: string, target: string, merge: Merge): void {
  // Within one layer, names sharing an inode are hardlinks: keep them so.
  const links = new Map<number, string>();
  walk(layerDir, target, links, merge);
}

/** The layer's owner; a rootless store's files are the user's, as the copies are already. */
function chown(d: string, st: Stats, format: LayerFormat): void {
  if (!format.rootless) lchownSync(d, st.uid, st.gid);
}

function walk(src: string, dst: string, links: Map<number, string>, merge: Merge): void {
  const { times, format } = merge;
  for (const name of readdirSync(src)) {
    const s = `${src}/${name}`;
    const d = `${dst}/${name}`;
    const st = lstatSync(s);
    if (isWhiteout(st)) {
      rmSync(d, { recursive: true, force: true });
      continue;
    }
    let existing = lstatOrNull(d);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) {
        unlinkSync(d);
        existing = null;
      }
      if (!existing) mkdirSync(d, 0o700);
      else if (isOpaqueDir(s, format)) {
        for (const child of readdirSync(d)) rmSync(`${d}/${child}`, { recursive: true, force: true });
      }
      chown(d, st, format);
      copyXattrs(s, d, format);
      times.set(d, { atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000, mode: st.mode & 0o7777 });
      walk(s, d, links, merge);
      continue;
    }
    if (existing) rmSync(d, { recursive: true, force: true });
    if (st.nlink > 1) {
      const first = links.get(st.ino);
      if (first !== undefined) {
        linkSync(first, d);
        continue;
      }
      links.set(st.ino, d);
    }
    if (!createLike(s, d, st)) continue;
    chown(d, st, format);
    if (!st.isSymbolicLink()) chmodSync(d, st.mode & 0o7777); // after chown, which clears setuid
    copyXattrs(s, d, format);
    lutimes(d, st.atimeMs / 1000, st.mtimeMs / 1000);
  }
}

/** Creates `d` as a copy of `s` (not its metadata); false for kinds we skip (sockets). */
function createLike(s: string, d: string, st: Stats): boolean {
  if (st.isFile()) copyFileSync(s, d, C.COPYFILE_FICLONE | C.COPYFILE_EXCL);
  else if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
  else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const rdev = st.rdev;
    const major = (rdev >>> 8) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    mknod(d, st.mode, major, minor);
  } else return false;
  return true;
}

function copyXattrs(s: string, d: string, format: LayerFormat): void {
  for (const name of llistxattr(s)) {
    if (!keepsLayerXattr(format, name)) continue;
    const v = lgetxattr(s, name);
    if (v !== null) lsetxattr(d, name, v);
  }
}
