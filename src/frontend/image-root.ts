// The image side of `ccrun run IMAGE`: find or pull the image, make sure its
// layers are unpacked, and describe the container's root as an overlay of
// those layers (O(1) in the image's size) with the container's own upper dir.
import * as fs from 'fs';
import { join, relative } from 'path';
import type { ImageRecord, ImageStore } from '../image/store';
import type { RootOverlay } from '../runtime/plan';
import { readFileInRoot } from '../image/bundle-user';

export interface ImageLookup {
  store: ImageStore;
  ref: string;
  pull: 'missing' | 'always' | 'never';
  platform?: string;
  /**
   * Where pull progress goes (stderr: stdout belongs to the container); a
   * function, because process.stderr's stream (and the net or tty module
   * behind it) costs start-up time when the image is local.
   */
  progressOut: () => NodeJS.WritableStream;
  warn: (m: string) => void;
  debug?: (m: string) => void;
}

export async function findOrPullImage(o: ImageLookup): Promise<ImageRecord> {
  const local = o.pull === 'always' ? undefined : o.store.getImage(o.ref);
  if (local) return local;
  if (o.pull === 'never') {
    const { ImageNotFoundError } = require('../image/errors') as typeof import('../image/errors');
    throw new ImageNotFoundError(`image "${o.ref}" is not in the store ${o.store.root} and --pull never was given: pull or load it first (see ccrun images)`);
  }
  const { pullImage } = require('../image/pull') as typeof import('../image/pull');
  const { PlainProgress } = require('../image/progress') as typeof import('../image/progress');
  const out = o.progressOut();
  if (o.pull === 'missing') out.write(`Unable to find image '${o.ref}' locally\n`);
  const r = await pullImage(o.ref, {
    store: o.store,
    platform: o.platform,
    progress: new PlainProgress(out),
    warn: o.warn,
    debug: o.debug,
  });
  return r.record;
}

/**
 * Why the container's root cannot be an overlay here, or undefined when it
 * can: this kernel has no overlayfs, or (rootless) is older than Linux 5.11,
 * the first to mount one in a user namespace (with userxattr).
 */
export function overlayUnavailable(rootless: boolean): string | undefined {
  try {
    if (!/\toverlay$/m.test(fs.readFileSync('/proc/filesystems', 'utf8'))) return 'overlayfs is not available on this host';
  } catch {
    return 'overlayfs is not available on this host';
  }
  if (rootless) {
    const [major, minor] = require('os').release().split('.').map(Number) as number[];
    if (major < 5 || (major === 5 && minor < 11)) return 'an unprivileged user can mount overlayfs only from Linux 5.11 on';
  }
  return undefined;
}

/**
 * The overlay for a container whose private directory is `cdir` (under
 * <store>/containers): lower dirs are the store's cached layers, top-most
 * first, named relative to the layer directory so the mount data stays short.
 */
export function rootOverlayFor(store: ImageStore, rec: ImageRecord, cdir: string): RootOverlay {
  const layers = rec.layers.map((l) => store.layerPath(l.diffId));
  const base = layers.length ? join(layers[0], '..') : join(store.root, 'layers', 'sha256');
  return {
    base,
    lower: layers.map((p) => relative(base, p)).reverse(),
    upper: relative(base, join(cdir, 'upper')),
    work: relative(base, join(cdir, 'work')),
    ...(store.layerFormat.rootless ? { userxattr: true } : {}),
  };
}

/**
 * /etc/passwd and /etc/group as the container will see them (the top-most
 * layer that has each), copied into `dir`/etc so the image's User can be
 * resolved without mounting anything on the host.
 */
export function extractUserDb(store: ImageStore, rec: ImageRecord, dir: string): void {
  fs.mkdirSync(join(dir, 'etc'), { recursive: true, mode: 0o700 });
  const tops = rec.layers.map((l) => store.layerPath(l.diffId)).reverse();
  for (const file of ['/etc/passwd', '/etc/group']) {
    for (const layer of tops) {
      const text = readFileInRoot(layer, file);
      if (text !== null) {
        fs.writeFileSync(join(dir, file), text, { mode: 0o600 });
        break;
      }
    }
  }
}

/** Where overlayfs cannot be used: a full copy of the layers (said once, on stderr, by the caller). */
export async function copyRoot(store: ImageStore, rec: ImageRecord, target: string): Promise<void> {
  const { buildRootfs } = require('../image/unpack') as typeof import('../image/unpack');
  fs.rmdirSync(target);
  await buildRootfs(store, rec.layers.map((l) => l.diffId), target);
}

/**
 * Docker creates a missing working directory. Made in the container's upper
 * dir before it starts: directories that the image has are recreated there
 * with the image's owner and mode (overlayfs merges them), the missing rest
 * as root 0755. Where the image has something other than a directory on the
 * way (a symlink, a file, a whiteout), nothing is made: the start fails
 * saying the directory does not exist, and no link is ever followed.
 */
export function prepareWorkdir(store: ImageStore, rec: ImageRecord, cdir: string, cwd: string): void {
  const parts = cwd.split('/').filter(Boolean);
  if (parts.length === 0) return;
  const tops = rec.layers.map((l) => store.layerPath(l.diffId)).reverse();
  const plan: { rel: string; st?: fs.Stats }[] = [];
  let missing = false;
  for (let i = 0; i < parts.length; i++) {
    const rel = parts.slice(0, i + 1).join('/');
    let found: fs.Stats | undefined;
    if (!missing) {
      for (const layer of tops) {
        try {
          found = fs.lstatSync(join(layer, rel));
          break;
        } catch {
          /* not in this layer */
        }
      }
    }
    if (found && !found.isDirectory()) return;
    if (!found) missing = true;
    plan.push({ rel, st: found });
  }
  if (!missing) return;
  for (const { rel, st } of plan) {
    const p = join(cdir, 'upper', rel);
    try {
      fs.mkdirSync(p, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    if (st) {
      fs.chmodSync(p, st.mode & 0o7777);
      fs.chownSync(p, st.uid, st.gid);
      fs.utimesSync(p, st.atime, st.mtime);
    }
  }
}
