// Writes one layer's tar entries into a directory in overlayfs lower-dir
// format, so the directory can be used directly as an overlay lower layer:
//  - `.wh.NAME` becomes a character device 0:0 named NAME (an overlay whiteout),
//    or nothing below a file of this layer (the file hides what was there);
//  - `.wh..wh..opq` sets the opaque xattr (trusted.overlay.opaque=y, or
//    user.overlay.opaque in a rootless store) on its directory, wherever in
//    the layer it comes (before or after that directory's other entries);
//  - other `.wh..wh.*` names (aufs bookkeeping) are dropped;
//  - the tar's overlay xattrs are ignored (a layer must not steer overlayfs itself).
// Ownership is numeric (lchown to the tar's uid/gid), the mode is set after
// chown (chown clears setuid/setgid), directory modes and mtimes are applied
// last, deepest first, once their children exist. A rootless store keeps the
// user's ownership and has no device nodes (layer-format.ts).
//
// Hardlinks to a file of a lower layer: an isolated layer directory cannot
// link to another layer's inode. What overlayfs itself does on link(2) to a
// lower file is copy it up and link the copy; we do the same: the target is
// copied (content, owner, mode, xattrs, mtimes) from the top-most lower layer
// that has it into this layer at the target's path, and the new name is
// linked to the copy. The merged view is then what the layer's author saw.
import {
  chmodSync,
  closeSync,
  constants as C,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'fs';
import { lgetxattr, llistxattr, lsetxattr, lutimes, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from './fs-ops';
import { keepsLayerXattr, ROOT_LAYERS, type LayerFormat } from './layer-format';
import { BadLayerEntryError, LowerLayersNeededError, UnsafeLayerEntryError } from './errors';
import { cleanEntryPath, lstatOrNull, ParentGuard } from './safe-path';
import type { TarEntry, TarHandler } from './tar-reader';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = ROOT_LAYERS.opaqueXattr;

export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function isOpaqueDir(abs: string, format: LayerFormat = ROOT_LAYERS): boolean {
  const v = lgetxattr(abs, format.opaqueXattr);
  return v !== null && v.toString() === 'y';
}

/** What a rootless unpack had to leave out (reported once by the caller). */
export interface SkippedEntries {
  /** Paths of the device nodes not made. */
  devices: string[];
  /** Names of the xattrs this user may not set (security.capability, trusted.*). */
  xattrs: Set<string>;
}

interface DirMeta {
  abs: string;
  mode: number;
  atime: number;
  mtime: number;
}

export class LayerWriter implements TarHandler {
  private readonly guard: ParentGuard;
  private readonly dirs = new Map<string, DirMeta>();
  private fd = -1;
  private fileEntry?: TarEntry;
  readonly skipped: SkippedEntries = { devices: [], xattrs: new Set() };

  /**
   * @param root the (new, empty) directory to write into
   * @param lowers unpacked lower layers, top-most first (for hardlinks into them)
   * @param lowersComplete whether `lowers` is every layer below this one
   * @param format how the store writes layers (root or rootless)
   */
  constructor(
    private readonly root: string,
    private readonly lowers: string[] = [],
    private readonly lowersComplete = false,
    private readonly format: LayerFormat = ROOT_LAYERS,
  ) {
    this.guard = new ParentGuard(root);
  }

  entry(e: TarEntry): void {
    const rel = cleanEntryPath(e.path);
    if (rel === '') {
      if (e.type !== 'dir') throw new UnsafeLayerEntryError(e.path, 'the root of the layer must be a directory');
      this.dirs.set('', { abs: this.root, mode: e.mode, atime: e.atime ?? e.mtime, mtime: e.mtime });
      this.chown(this.root, e.uid, e.gid);
      return;
    }
    const slash = rel.lastIndexOf('/');
    const base = rel.slice(slash + 1);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(e, rel, slash, base);
      return;
    }
    // A hardlink's target may need copying up first, parents included.
    if (e.type === 'link' && this.linkTarget(e) === rel) return; // a link to itself: nothing to do
    this.guard.parents(rel, e.path, true, this.adoptLowerDir);
    const abs = `${this.root}/${rel}`;
    const existing = lstatOrNull(abs);
    if (existing) {
      if (existing.isDirectory() && e.type === 'dir') {
        // A directory over a directory keeps its children: only metadata changes.
        this.dirMeta(e, rel, abs);
        return;
      }
      this.remove(rel, abs, existing);
    }
    switch (e.type) {
      case 'file':
        this.fd = openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        this.fileEntry = e;
        return; // data() and entryEnd() finish it
      case 'dir':
        mkdirSync(abs, 0o700);
        this.guard.remember(rel);
        this.dirMeta(e, rel, abs);
        return;
      case 'symlink':
        // Stored as-is (absolute, relative or dangling): it is only ever read, never followed here.
        symlinkSync(e.linkname, abs);
        this.meta(e, abs, false);
        return;
      case 'link':
        this.hardlink(e, abs);
        return;
      case 'char':
      case 'block':
        // Only root may make device nodes; a container's /dev comes from the runtime anyway.
        if (this.format.rootless) {
          this.skipped.devices.push(rel);
          return;
        }
        mknod(abs, (e.type === 'char' ? S_IFCHR : S_IFBLK) | (e.mode & 0o7777), e.devmajor, e.devminor);
        this.meta(e, abs, true);
        return;
      case 'fifo':
        mknod(abs, S_IFIFO | (e.mode & 0o7777), 0, 0);
        this.meta(e, abs, true);
        return;
    }
  }

  data(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
  }

  entryEnd(): void {
    if (this.fd < 0 || !this.fileEntry) return;
    const e = this.fileEntry;
    const fd = this.fd;
    this.fd = -1;
    this.fileEntry = undefined;
    try {
      if (!this.format.rootless) fchownSync(fd, e.uid, e.gid);
      fchmodSync(fd, e.mode); // after chown: chown clears setuid/setgid
      futimesSync(fd, e.atime ?? e.mtime, e.mtime);
    } finally {
      closeSync(fd);
    }
    this.xattrs(e, `${this.root}/${cleanEntryPath(e.path)}`);
  }

  /** Directory modes and mtimes, deepest first, once all children exist. */
  finish(): void {
    const all = [...this.dirs.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [, d] of all) {
      chmodSync(d.abs, d.mode);
      lutimes(d.abs, d.atime, d.mtime);
    }
  }

  /** Closes an open file after a failure (the directory is removed by the caller). */
  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private whiteout(e: TarEntry, rel: string, slash: number, base: string): void {
    const dirRel = slash < 0 ? '' : rel.slice(0, slash);
    if (base === OPAQUE_MARKER) {
      this.guard.parents(rel, e.path, true, this.adoptLowerDir);
      const dirAbs = dirRel === '' ? this.root : `${this.root}/${dirRel}`;
      const st = lstatOrNull(dirAbs);
      if (st && !st.isDirectory()) throw new UnsafeLayerEntryError(e.path, `"${dirRel}" is not a directory`);
      if (!st) {
        mkdirSync(dirAbs, 0o755);
        this.guard.remember(dirRel);
      }
      lsetxattr(dirAbs, this.format.opaqueXattr, Buffer.from('y'));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // aufs metadata (.wh..wh.plnk, ...)
    const name = base.slice(WHITEOUT_PREFIX.length);
    const targetRel = dirRel === '' ? name : `${dirRel}/${name}`;
    cleanEntryPath(targetRel, e.path);
    if (name === '.' || name === '..') throw new UnsafeLayerEntryError(e.path, 'whiteout of "." or ".."');
    // A directory this layer turned into a file: the file hides everything of
    // the old directory already, so whiteouts for its children (umoci's repack
    // writes them) are no-ops, as umoci and podman treat them.
    if (this.belowFileOfThisLayer(targetRel)) return;
    this.guard.parents(targetRel, e.path, true, this.adoptLowerDir);
    const abs = `${this.root}/${targetRel}`;
    const existing = lstatOrNull(abs);
    if (existing) this.remove(targetRel, abs, existing);
    mknod(abs, S_IFCHR, 0, 0);
    this.chown(abs, e.uid, e.gid);
    lutimes(abs, e.atime ?? e.mtime, e.mtime); // the tar's time, so unpacking is reproducible
  }

  /**
   * Whether a parent of `rel` is, in this layer, neither a directory nor a
   * symlink (a whiteout through a symlink stays refused, by the guard).
   */
  private belowFileOfThisLayer(rel: string): boolean {
    for (let at = rel.indexOf('/'); at > 0; at = rel.indexOf('/', at + 1)) {
      const st = lstatOrNull(`${this.root}/${rel.slice(0, at)}`);
      if (!st) return false;
      if (!st.isDirectory()) return !st.isSymbolicLink();
    }
    return false;
  }

  /** The hardlink target's path in this layer, copied up from a lower layer if need be. */
  private linkTarget(e: TarEntry): string {
    const targetRel = cleanEntryPath(e.linkname, e.path);
    if (targetRel === '') throw new UnsafeLayerEntryError(e.path, 'hardlink to the root directory');
    let st: Stats | null = null;
    if (this.guard.parents(targetRel, e.path, false)) st = lstatOrNull(`${this.root}/${targetRel}`);
    if (!st) st = this.copyUp(e, targetRel);
    if (st.isDirectory()) throw new BadLayerEntryError(e.path, `hardlink to directory "${e.linkname}"`);
    return targetRel;
  }

  private hardlink(e: TarEntry, abs: string): void {
    linkSync(`${this.root}/${this.linkTarget(e)}`, abs);
  }

  /**
   * A directory this layer needs but does not list takes the attributes of
   * the same directory in the layers below (when known), so the merged view
   * keeps them; otherwise it stays 0755 root:root, as Docker makes it.
   */
  private readonly adoptLowerDir = (dirRel: string): void => {
    for (const layer of this.lowers) {
      const lower = lstatOrNull(`${layer}/${dirRel}`);
      if (!lower) continue;
      if (!lower.isDirectory()) return;
      const dAbs = `${this.root}/${dirRel}`;
      this.chown(dAbs, lower.uid, lower.gid);
      this.dirs.set(dirRel, { abs: dAbs, mode: lower.mode & 0o7777, atime: lower.atimeMs / 1000, mtime: lower.mtimeMs / 1000 });
      return;
    }
  };

  /** Copies a lower layer's file into this layer (see the header comment). */
  private copyUp(e: TarEntry, targetRel: string): Stats {
    const found = findInLowers(this.lowers, targetRel, this.format);
    if (!found) {
      if (!this.lowersComplete) {
        throw new LowerLayersNeededError(
          e.path,
          `hardlink target "${e.linkname}" is not in this layer (and no lower layers were given): unpack the layers below first`,
        );
      }
      throw new BadLayerEntryError(e.path, `hardlink target "${e.linkname}" is not in this layer or the layers below it`);
    }
    const { path: src, stat: st } = found;
    this.guard.parents(targetRel, e.path, true, this.adoptLowerDir);
    const dst = `${this.root}/${targetRel}`;
    if (st.isFile()) copyFileSync(src, dst, C.COPYFILE_FICLONE | C.COPYFILE_EXCL);
    else throw new BadLayerEntryError(e.path, `hardlink target "${e.linkname}" in a lower layer is not a regular file`);
    this.chown(dst, st.uid, st.gid);
    chmodSync(dst, st.mode & 0o7777);
    for (const name of llistxattr(src)) {
      const v = lgetxattr(src, name);
      if (v !== null) lsetxattr(dst, name, v);
    }
    lutimes(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
    return st;
  }

  /** The tar's owner; in a rootless store the user's own, which the file has already. */
  private chown(abs: string, uid: number, gid: number): void {
    if (!this.format.rootless) lchownSync(abs, uid, gid);
  }

  private dirMeta(e: TarEntry, rel: string, abs: string): void {
    this.chown(abs, e.uid, e.gid);
    this.xattrs(e, abs);
    this.dirs.set(rel, { abs, mode: e.mode, atime: e.atime ?? e.mtime, mtime: e.mtime });
  }

  private meta(e: TarEntry, abs: string, chmod: boolean): void {
    this.chown(abs, e.uid, e.gid);
    if (chmod) chmodSync(abs, e.mode);
    this.xattrs(e, abs);
    lutimes(abs, e.atime ?? e.mtime, e.mtime);
  }

  private xattrs(e: TarEntry, abs: string): void {
    for (const [name, value] of e.xattrs) {
      if (!keepsLayerXattr(this.format, name)) continue;
      try {
        lsetxattr(abs, name, value);
      } catch (err) {
        // An unprivileged user may not set security.capability or trusted.*: left out, and said.
        const code = (err as NodeJS.ErrnoException).code;
        if (!this.format.rootless || (code !== 'EPERM' && code !== 'ENOTSUP')) throw err;
        this.skipped.xattrs.add(name);
      }
    }
  }

  private remove(rel: string, abs: string, st: Stats): void {
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true, force: true });
      this.guard.forget(rel);
      const prefix = rel + '/';
      for (const k of this.dirs.keys()) if (k === rel || k.startsWith(prefix)) this.dirs.delete(k);
    } else {
      unlinkSync(abs);
    }
  }
}

function depth(rel: string): number {
  if (rel === '') return 0;
  let n = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}

/**
 * The top-most lower layer's copy of `rel`, honouring whiteouts, opaque
 * directories and non-directories that hide what is below them.
 */
export function findInLowers(lowers: string[], rel: string, format: LayerFormat = ROOT_LAYERS): { path: string; stat: Stats; layer: string } | null {
  const parts = rel.split('/');
  for (const layer of lowers) {
    let cur = layer;
    let hidden = false;
    for (let i = 0; i < parts.length; i++) {
      cur = `${cur}/${parts[i]}`;
      const st = lstatOrNull(cur);
      if (!st) {
        // Absent here; an opaque directory on the way hides all lower layers.
        hidden = anyOpaque(layer, parts.slice(0, i), format);
        break;
      }
      if (isWhiteout(st)) return null;
      if (i === parts.length - 1) return { path: cur, stat: st, layer };
      if (!st.isDirectory()) return null; // a file or symlink here hides everything below
    }
    if (hidden) return null;
  }
  return null;
}

/** Is the layer's root, or any of the directories `parts` walks through, opaque? */
function anyOpaque(layer: string, parts: string[], format: LayerFormat): boolean {
  let cur = layer;
  if (isOpaqueDir(cur, format)) return true;
  for (const p of parts) {
    cur = `${cur}/${p}`;
    if (isOpaqueDir(cur, format)) return true;
  }
  return false;
}
