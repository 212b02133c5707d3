// Layer unpacking into the store's layer cache, and flattening cached layers
// into a rootfs. A layer is unpacked once per diff id into
// <store>/layers/sha256/<hex>, in overlayfs lower-dir format (see
// layer-writer.ts), so a layer shared by several images is unpacked once and
// containers can mount the cache directly as overlay lower layers.
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, renameSync } from 'fs';
import { dirname } from 'path';
import { DigestMismatchError, ImageError } from '../errors';
import { removeTree } from '../remove-tree';
import { openLayerStream, wrapDecompressError } from './decompress';
import { ROOT_LAYERS, type LayerFormat } from './layer-format';
import { LayerWriter, type SkippedEntries } from './layer-writer';
import { TarReader } from './tar-reader';

export { buildRootfs } from './rootfs';
export { imageLayerUnpacker } from './image-layers';
export { BadLayerEntryError, LowerLayersNeededError, UnsafeLayerEntryError } from './errors';

/** What unpacking needs of the image store (src/image/store.ts's ImageStore has it). */
export interface LayerCache {
  blobPath(digest: string): string;
  layerPath(diffId: string): string;
  hasLayer(diffId: string): boolean | Promise<boolean>;
  /**
   * A fresh scratch path on the store's filesystem (so a rename into place is
   * atomic), named so the store can clean it up once this process is gone.
   */
  tmpName(kind: string): string;
  /** An exclusive lock across processes; when present, one unpack of a layer runs at a time. */
  withLock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** How layers are written (layer-format.ts); default: as root writes them. */
  readonly layerFormat?: LayerFormat;
}

export interface LayerRef {
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  mediaType: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
}

export interface UnpackOptions {
  /**
   * Diff ids of the layers below this one, bottom first (as in the config's
   * rootfs.diff_ids). Needed only when the layer hardlinks to a file of a
   * lower layer; those layers must be unpacked already.
   */
  lowerDiffIds?: string[];
  /** Where to say (once per process) what a rootless unpack left out; default stderr. */
  warn?: (msg: string) => void;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/**
 * Unpacks a verified blob into the layer cache and returns its directory.
 * The uncompressed stream is checked against diffId as it is read; the
 * directory appears (by rename) only when complete and verified. A no-op when
 * the layer is cached already. Safe to call concurrently for one diff id:
 * each call unpacks into its own scratch directory and the first rename wins.
 */
export async function unpackLayer(store: LayerCache, layer: LayerRef, opts: UnpackOptions = {}): Promise<string> {
  if (!DIGEST_RE.test(layer.diffId)) throw new ImageError(`layer ${layer.digest}: diff id "${layer.diffId}" is not a sha256 digest`);
  if (await store.hasLayer(layer.diffId)) return store.layerPath(layer.diffId);
  // Two pulls sharing a layer: the second waits for the first rather than unpacking it again.
  if (store.withLock) return store.withLock(`unpack-${layer.diffId.slice(7)}`, () => unpackUnlocked(store, layer, opts));
  return unpackUnlocked(store, layer, opts);
}

async function unpackUnlocked(store: LayerCache, layer: LayerRef, opts: UnpackOptions): Promise<string> {
  const dest = store.layerPath(layer.diffId);
  if (await store.hasLayer(layer.diffId)) return dest;
  if (!existsSync(store.blobPath(layer.digest))) {
    throw new ImageError(`layer ${layer.digest} is not in the store: pull or load the image again`);
  }
  // Lower layers are used only when all are in: with one missing, a hardlink
  // target found further down could be an older version of the file.
  let lowers: string[] = [];
  let lowersComplete = opts.lowerDiffIds !== undefined;
  for (const id of [...(opts.lowerDiffIds ?? [])].reverse()) {
    if (await store.hasLayer(id)) lowers.push(store.layerPath(id));
    else lowersComplete = false;
  }
  if (!lowersComplete) lowers = [];
  const format = store.layerFormat ?? ROOT_LAYERS;
  if (format.rootless && (process.geteuid?.() ?? 0) === 0) {
    // Root would leave root-owned files that the store's user cannot use or remove.
    throw new ImageError(`layer ${layer.digest}: this store belongs to an unprivileged user (rootless layers): pull as that user, or give root its own --store`);
  }
  const scratch = store.tmpName('layer');
  mkdirSync(scratch, 0o755);
  chmodSync(scratch, 0o755); // the layer root: 0755 unless the tar says otherwise
  const writer = new LayerWriter(scratch, lowers, lowersComplete, format);
  let input: ReturnType<typeof openLayerStream> | undefined;
  try {
    input = openLayerStream(store.blobPath(layer.digest), layer.mediaType);
    const reader = new TarReader(writer);
    const hash = createHash('sha256');
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (!reader.finished) reader.feed(chunk);
    }
    await input.done;
    reader.end();
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== layer.diffId) {
      throw new DigestMismatchError(
        `layer ${layer.digest}: its uncompressed content has digest ${actual}, but the image config says ${layer.diffId} (corrupt or tampered layer)`,
        layer.diffId,
        actual,
      );
    }
    writer.finish();
    reportSkipped(writer.skipped, opts.warn);
  } catch (e) {
    writer.abort();
    input?.cancel();
    removeTree(scratch);
    throw withLayer(input ? wrapDecompressError(input.compression, e as Error) : e, layer.digest);
  }
  mkdirSync(dirname(dest), { recursive: true });
  try {
    renameSync(scratch, dest);
  } catch (e) {
    removeTree(scratch);
    const code = (e as NodeJS.ErrnoException).code;
    // Another unpack of the same layer got there first: its result is as good as ours.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
  return dest;
}

const reported = new Set<'devices' | 'xattrs'>();

/** What a rootless unpack left out, said once per process: it is the same for every layer. */
function reportSkipped(skipped: SkippedEntries, warn = (m: string): void => void process.stderr.write(`ccrun: ${m}\n`)): void {
  if (skipped.devices.length > 0 && !reported.has('devices')) {
    reported.add('devices');
    warn(`rootless: device nodes in image layers are not created (only root may make them; a container's /dev comes from ccrun), e.g. /${skipped.devices[0]}`);
  }
  if (skipped.xattrs.size > 0 && !reported.has('xattrs')) {
    reported.add('xattrs');
    warn(`rootless: extended attributes an unprivileged user may not set are left out of image layers: ${[...skipped.xattrs].sort().join(', ')}`);
  }
}

function withLayer(e: unknown, digest: string): Error {
  if (e instanceof DigestMismatchError) return e;
  const err = e as Error;
  const msg = `unpacking layer ${digest}: ${err.message}`;
  if (e instanceof ImageError) {
    err.message = msg;
    return err;
  }
  return new ImageError(msg);
}
