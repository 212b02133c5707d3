// The image's Volumes under `ccrun run IMAGE`, as Docker treats them: each
// path gets an anonymous volume, a directory of the container's own
// (<store>/containers/<id>/volumes/<name>) bind-mounted on that path and
// filled once, at create, with what the image has there. `ccrun start` runs
// on it again; `ccrun rm` and --rm remove it with the container's directory
// (ContainerRecords.remove). A -v or --tmpfs on the same path replaces it.
import * as fs from 'fs';
import { join } from 'path';
import type { Mount, Spec } from '../runtime/config/types';
import type { ImageRecord, ImageStore } from '../image/store';
import { ImageError } from '../image/errors';

/**
 * imageConfigToSpec (src/image/bundle.ts) gives each image volume a bind
 * mount from "volumes/<name>", relative to the bundle: the only relative
 * sources a spec here has (-v must name an absolute host path).
 */
const VOLUMES_DIR = 'volumes';

function isImageVolume(m: Mount): boolean {
  return m.type === 'bind' && m.source !== undefined && m.source.startsWith(`${VOLUMES_DIR}/`);
}

function samePath(a: string, b: string): boolean {
  return (a.replace(/\/+$/, '') || '/') === (b.replace(/\/+$/, '') || '/');
}

/**
 * The image-volume mounts of `imageSpecMounts` that no user mount (-v,
 * --tmpfs) replaces, writable even under --read-only, as Docker's are.
 */
export function imageVolumeMounts(imageSpecMounts: Mount[], userMounts: Mount[]): Mount[] {
  return imageSpecMounts
    .filter((m) => isImageVolume(m) && !userMounts.some((u) => samePath(u.destination, m.destination)))
    .map((m) => ({ ...m, options: ['rbind', 'rprivate'] }));
}

/**
 * Makes and fills the directory of each image volume `spec` mounts, in the
 * container's directory `cdir`, and points the mount at it (absolute).
 *
 * The image's content is read from the store's cached layers, top-most
 * first, honouring whiteouts and opaque directories: the container's merged
 * overlay is not mounted on the host at create (its init mounts it in the
 * container's own mount namespace), and the layers are the one source that
 * is there in both the overlay and the full-copy (copyRoot) cases. Symlinks
 * on the way are resolved inside the image, as the init resolves the mount
 * destination, so the copy is of what the mount will cover, never a host file
 * (Docker resolves an image volume's path in the container's root likewise).
 */
export function makeImageVolumes(store: ImageStore, rec: ImageRecord, cdir: string, spec: Spec): void {
  const volumes = (spec.mounts ?? []).filter(isImageVolume);
  if (volumes.length === 0) return;
  const { resolveInLayers, copyMergedDirectory } = require('../image/unpack/layer-view') as typeof import('../image/unpack/layer-view');
  const topFirst = rec.layers.map((l) => store.layerPath(l.diffId)).reverse();
  fs.mkdirSync(join(cdir, VOLUMES_DIR), { mode: 0o700 });
  for (const m of volumes) {
    const where = resolveInLayers(topFirst, m.destination, store.layerFormat);
    if (where.kind === 'not-a-directory') {
      throw new ImageError(
        `the image declares a volume at ${m.destination}, but /${where.rel} is not a directory in the image: a volume cannot cover it (mount a file there with -v HOST-FILE:${m.destination}, or fix the image's Volumes)`,
      );
    }
    if (where.rel === '') {
      throw new ImageError(`the image declares a volume at ${m.destination}, which is the container's root (/) once its symlinks are followed: fix the image's Volumes`);
    }
    const dir = join(cdir, m.source!);
    if (where.kind === 'directory') {
      copyMergedDirectory(topFirst, where.rel, dir, store.layerFormat);
    } else {
      // Not in the image: an empty volume, as Docker's local driver makes it.
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.chmodSync(dir, 0o755);
    }
    m.source = dir;
    // Mounted where its content came from. The init would resolve the path
    // the same way, but cannot make a directory through a dangling symlink.
    m.destination = `/${where.rel}`;
  }
  // Resolved paths may nest (/conf -> /etc, /etc/app): parents first, as Docker sorts mounts.
  const slots = (spec.mounts ?? []).flatMap((m, i) => (volumes.includes(m) ? [i] : []));
  const byDepth = [...volumes].sort((a, b) => a.destination.split('/').length - b.destination.split('/').length);
  slots.forEach((slot, k) => (spec.mounts![slot] = byDepth[k]));
}
