// `ccrun save`: images from the store as a docker-archive (what `docker
// load` reads: manifest.json, <config>.json, uncompressed <diffid>.tar
// layers, repositories) or an OCI archive (oci-layout, index.json, blobs/
// exactly as stored, so a load gives back the same manifest digests).
// The archive is written to a temporary file beside FILE and renamed into
// place when complete; a failure leaves no partial archive.
import { createHash } from 'crypto';
import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from 'fs';
import { basename, dirname, join } from 'path';
import type { Writable } from 'stream';
import { ImageError, ImageNotFoundError } from '../errors';
import { MEDIA } from '../media-types';
import { familiarRepository, parseReference } from '../reference';
import type { ImageRecord, ImageStore } from '../store';
import { openLayerStream } from '../unpack/decompress';
import { TarWriter } from './tar-io';
import type { ArchiveFormat } from './load';

export interface SaveOptions {
  format?: ArchiveFormat;
}

function resolveImages(store: ImageStore, refs: string[]): ImageRecord[] {
  return refs.map((ref) => {
    const rec = store.getImage(ref);
    if (!rec) throw new ImageNotFoundError(`image "${ref}" is not in the store ${store.root} (see ccrun images)`);
    for (const d of [rec.manifestDigest, rec.configDigest, ...rec.layers.map((l) => l.digest)]) {
      if (!store.hasBlob(d)) throw new ImageError(`blob ${d} of image "${ref}" is missing from the store: pull the image again`);
    }
    return rec;
  });
}

/** Writes the archive to `file` (atomically), or to `out` when file is undefined. */
export async function saveImages(store: ImageStore, refs: string[], file: string | undefined, opts: SaveOptions = {}, out?: Writable): Promise<ArchiveFormat> {
  const format = opts.format ?? 'docker-archive';
  if (format !== 'docker-archive' && format !== 'oci-archive') throw new ImageError(`unknown archive format "${format}" (use docker-archive or oci-archive)`);
  const images = resolveImages(store, refs);
  if (file === undefined) {
    if (!out) throw new ImageError('no output given');
    await writeArchive(store, images, format, out);
    return format;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const stream = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
  try {
    await writeArchive(store, images, format, stream);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    stream.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
  return format;
}

async function writeArchive(store: ImageStore, images: ImageRecord[], format: ArchiveFormat, out: Writable): Promise<void> {
  const tar = new TarWriter(out);
  if (format === 'oci-archive') await writeOci(store, images, tar);
  else await writeDocker(store, images, tar);
  await tar.finish();
}

const blobName = (digest: string): string => `blobs/sha256/${digest.slice(7)}`;

async function writeOci(store: ImageStore, images: ImageRecord[], tar: TarWriter): Promise<void> {
  await tar.bytes('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  await tar.dir('blobs');
  await tar.dir('blobs/sha256');
  const written = new Set<string>();
  const manifests = [];
  for (const rec of images) {
    const manifest = store.readBlob(rec.manifestDigest);
    const mediaType = (JSON.parse(manifest.toString('utf8')) as { mediaType?: string }).mediaType ?? MEDIA.ociManifest;
    for (const d of [rec.manifestDigest, rec.configDigest, ...rec.layers.map((l) => l.digest)]) {
      if (written.has(d)) continue;
      written.add(d);
      await tar.file(blobName(d), store.blobPath(d));
    }
    const annotations: Record<string, string> = {};
    if (rec.name) {
      annotations['io.containerd.image.name'] = rec.name;
      annotations['org.opencontainers.image.ref.name'] = parseReference(rec.name).tag ?? 'latest';
    }
    manifests.push({
      mediaType,
      digest: rec.manifestDigest,
      size: manifest.length,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      platform: rec.platform,
    });
  }
  await tar.bytes('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })));
}

/** Docker's short form for RepoTags: "busybox:latest", "user/app:v1", "host:5000/x:y". */
function repoTag(name: string): string | undefined {
  if (!name) return undefined;
  const r = parseReference(name);
  return `${familiarRepository(r)}:${r.tag ?? 'latest'}`;
}

async function writeDocker(store: ImageStore, images: ImageRecord[], tar: TarWriter): Promise<void> {
  const written = new Set<string>();
  const manifest = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const rec of images) {
    const configName = `${rec.configDigest.slice(7)}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      await tar.file(configName, store.blobPath(rec.configDigest));
    }
    const layerNames: string[] = [];
    for (const l of rec.layers) {
      const name = `${l.diffId.slice(7)}.tar`;
      layerNames.push(name);
      if (written.has(name)) continue;
      written.add(name);
      await writeUncompressedLayer(store, l, name, tar);
    }
    const tag = repoTag(rec.name);
    manifest.push({ Config: configName, RepoTags: tag ? [tag] : null, Layers: layerNames });
    if (tag && rec.layers.length) {
      const colon = tag.lastIndexOf(':');
      (repositories[tag.slice(0, colon)] ??= {})[tag.slice(colon + 1)] = rec.layers[rec.layers.length - 1].diffId.slice(7);
    }
  }
  await tar.bytes('manifest.json', Buffer.from(JSON.stringify(manifest)));
  await tar.bytes('repositories', Buffer.from(JSON.stringify(repositories)));
}

/**
 * docker load wants layer tars whose sha256 is the diff id: decompress into a
 * scratch file first (a tar header needs the size), checking the diff id.
 */
async function writeUncompressedLayer(store: ImageStore, l: ImageRecord['layers'][number], name: string, tar: TarWriter): Promise<void> {
  const input = openLayerStream(store.blobPath(l.digest), l.mediaType);
  if (input.compression === 'none') {
    input.cancel();
    await tar.file(name, store.blobPath(l.digest));
    return;
  }
  const tmp = store.tmpName('save');
  try {
    const hash = createHash('sha256');
    const w = createWriteStream(tmp, { flags: 'wx' });
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()));
    }
    await input.done;
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.end(() => resolve());
    });
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== l.diffId) throw new ImageError(`layer ${l.digest} in the store does not decompress to its diff id ${l.diffId} (got ${got})`);
    await tar.file(name, tmp);
  } finally {
    input.cancel();
    rmSync(tmp, { force: true });
  }
}
