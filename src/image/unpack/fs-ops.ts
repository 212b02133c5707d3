// The few filesystem calls Node lacks (mknod, extended attributes), behind
// one small interface. They come from the native addon
// (build/Release/ccrun_native.node); until an addon that has them is built,
// a slow stop-gap spawns mknod(1)/mkfifo(1) and python3's os.*xattr so the
// image pipeline keeps working (correct, only slower per call).
import { execFileSync } from 'child_process';
import { lutimesSync } from 'fs';
import { join } from 'path';
import { HostError } from '../../runtime/errors';

interface NativeFsOps {
  mknod(path: string, mode: number, dev: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
}

export const S_IFMT = 0o170000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** Linux's makedev for the 32-bit dev_t the kernel's mknod takes. */
export function makedev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12)) >>> 0;
}

let native: Partial<NativeFsOps> | null | undefined;

function loadNative(): Partial<NativeFsOps> | null {
  if (native !== undefined) return native;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    native = require(join(__dirname, '..', '..', '..', 'build', 'Release', 'ccrun_native.node')) as Partial<NativeFsOps>;
  } catch {
    native = null;
  }
  return native;
}

/** The error keeps the errno's code (EPERM, ...) so callers can tell what the host refused. */
function fail(what: string, path: string, e: unknown): never {
  const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
  const detail = err.stderr?.length ? err.stderr.toString().trim().split('\n').pop() : err.message;
  throw Object.assign(new HostError(`${what} ${path}: ${detail}`), { code: err.code });
}

// Python one-liners for the stop-gap: paths and names go in argv, values in hex.
const PY_SET = 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)';
const PY_GET =
  'import os,sys\ntry: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())\nexcept OSError as e:\n  if e.errno != 61: raise\n  sys.stdout.write("-")';
const PY_LIST = 'import os,sys; sys.stdout.write("\\0".join(os.listxattr(sys.argv[1], follow_symlinks=False)))';

function py(code: string, args: string[]): string {
  return execFileSync('python3', ['-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** mknod(2): mode carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  const n = loadNative();
  if (n?.mknod) {
    try {
      n.mknod(path, mode, makedev(major, minor));
    } catch (e) {
      fail('mknod', path, e);
    }
    return;
  }
  const type = mode & S_IFMT;
  const perm = (mode & 0o7777).toString(8);
  try {
    if (type === S_IFIFO) execFileSync('mkfifo', ['-m', perm, '--', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    else {
      const t = type === S_IFBLK ? 'b' : type === S_IFCHR ? 'c' : '';
      if (!t) throw new Error(`unsupported file type ${type.toString(8)}`);
      execFileSync('mknod', ['-m', perm, '--', path, t, String(major), String(minor)], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  } catch (e) {
    fail('mknod', path, e);
  }
}

/** lsetxattr(2): never follows a symlink. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  const n = loadNative();
  try {
    if (n?.lsetxattr) n.lsetxattr(path, name, value);
    else py(PY_SET, [path, name, value.toString('hex')]);
  } catch (e) {
    fail(`setting xattr ${name} on`, path, e);
  }
}

/** lgetxattr(2): null when the attribute is not set. */
export function lgetxattr(path: string, name: string): Buffer | null {
  const n = loadNative();
  try {
    if (n?.lgetxattr) return n.lgetxattr(path, name);
    const out = py(PY_GET, [path, name]);
    return out === '-' ? null : Buffer.from(out, 'hex');
  } catch (e) {
    fail(`reading xattr ${name} of`, path, e);
  }
}

/** llistxattr(2): the names of all extended attributes, not following a symlink. */
export function llistxattr(path: string): string[] {
  const n = loadNative();
  try {
    if (n?.llistxattr) return n.llistxattr(path);
    const out = py(PY_LIST, [path]);
    return out === '' ? [] : out.split('\0');
  } catch (e) {
    fail('listing xattrs of', path, e);
  }
}

/** Sets atime/mtime (seconds, fractional allowed) without following a symlink. */
export function lutimes(path: string, atime: number, mtime: number): void {
  lutimesSync(path, atime, mtime);
}
