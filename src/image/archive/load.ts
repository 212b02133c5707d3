// `ccrun load`: images from a docker-archive (manifest.json + config json +
// layer tars, as `docker save` and `skopeo copy ... docker-archive:` write)
// or an OCI archive (oci-layout + index.json + blobs/, as `skopeo copy ...
// oci-archive:` and `ccrun save --format oci-archive` write), plain or
// compressed. Every blob enters the store through putBlob (digest and size
// verified); layers are unpacked (diff ids verified) before the image record
// is written, so a bad archive leaves no image behind.
import { createHash } from 'crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync, statSync } from 'fs';
import { pipeline } from 'stream/promises';
import { ImageError } from '../errors';
import { MEDIA, isIndexType } from '../media-types';
import { hostPlatform, normalizePlatform, selectManifest, type IndexEntry, type Platform } from '../platform';
import { parseReference, repositoryName, storeName } from '../reference';
import type { ImageRecord, ImageStore, LayerRecord } from '../store';
import { sniffCompression } from '../unpack/decompress';
import { unpackLayer } from '../unpack';
import { extractArchive, type ArchiveFiles } from './tar-io';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface LoadedImage {
  /** Normalised names ("docker.io/library/busybox:latest"); empty when the archive names none. */
  names: string[];
  record: ImageRecord;
}

export interface LoadResult {
  format: ArchiveFormat;
  images: LoadedImage[];
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

interface OciManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}

interface ConfigJson {
  architecture?: string;
  os?: string;
  variant?: string;
  rootfs?: { diff_ids?: string[] };
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function parseJson<T>(text: Buffer, what: string): T {
  try {
    return JSON.parse(text.toString('utf8')) as T;
  } catch (e) {
    throw new ImageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function need(files: ArchiveFiles, name: string, why: string): string {
  const p = files.path(name);
  if (!p) throw new ImageError(`the archive has no ${name} (${why})`);
  return p;
}

/** A name from the archive, normalised; undefined if it does not parse as a reference with a repository. */
function normaliseName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  try {
    const r = parseReference(name);
    return storeName(r) || undefined;
  } catch {
    return undefined;
  }
}

function platformOf(config: ConfigJson): Platform {
  return normalizePlatform({ os: config.os ?? 'linux', architecture: config.architecture ?? 'unknown', variant: config.variant });
}

/** Loads every image in `archive` into the store. */
export async function loadArchive(store: ImageStore, archive: string): Promise<LoadResult> {
  if (!existsSync(archive)) throw new ImageError(`${archive} does not exist`);
  const scratch = store.tmpName('load');
  try {
    const files = await extractArchive(archive, scratch);
    if (files.path('oci-layout') && files.path('index.json')) {
      return { format: 'oci-archive', images: await loadOci(store, files) };
    }
    if (files.path('manifest.json')) return { format: 'docker-archive', images: await loadDocker(store, files) };
    throw new ImageError(`${archive} is neither a docker-archive (no manifest.json) nor an OCI archive (no oci-layout and index.json)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Loads from a stream (standard input): spooled to the store's scratch space first, since the format is found by looking. */
export async function loadArchiveStream(store: ImageStore, input: NodeJS.ReadableStream): Promise<LoadResult> {
  const spool = store.tmpName('spool');
  try {
    await pipeline(input, createWriteStream(spool, { flags: 'wx', mode: 0o600 }));
    if (statSync(spool).size === 0) throw new ImageError('no archive on standard input (use -i FILE, or pipe an archive in)');
    return await loadArchive(store, spool);
  } finally {
    rmSync(spool, { force: true });
  }
}

async function putFile(store: ImageStore, path: string, expected?: { digest?: string; size?: number }): Promise<string> {
  return store.putBlob(createReadStream(path, { highWaterMark: 1 << 20 }), expected);
}

/** Unpacks the layers bottom first, each with the layers below it. */
async function unpackAll(store: ImageStore, layers: LayerRecord[]): Promise<void> {
  const below: string[] = [];
  for (const l of layers) {
    await unpackLayer(store, l, { lowerDiffIds: [...below] });
    below.push(l.diffId);
  }
}

// ---- OCI archive ----

async function loadOci(store: ImageStore, files: ArchiveFiles): Promise<LoadedImage[]> {
  const layout = parseJson<{ imageLayoutVersion?: string }>(readFileSync(need(files, 'oci-layout', 'OCI layout')), 'oci-layout');
  if (!layout.imageLayoutVersion?.startsWith('1.')) throw new ImageError(`unsupported OCI layout version "${layout.imageLayoutVersion}"`);
  const index = parseJson<{ manifests?: Descriptor[] }>(readFileSync(need(files, 'index.json', 'OCI layout')), 'index.json');
  const blob = async (d: Descriptor, what: string): Promise<Buffer> => {
    const p = need(files, `blobs/${d.digest.replace(':', '/')}`, `${what} ${d.digest}`);
    // Blobs in the store were verified when they went in: no need to copy them again.
    if (!store.hasBlob(d.digest)) await putFile(store, p, { digest: d.digest, size: d.size });
    return what === 'layer' ? Buffer.alloc(0) : store.readBlob(d.digest);
  };
  const out: LoadedImage[] = [];
  const host = hostPlatform();
  // Several platforms of one image side by side in index.json: keep this host's.
  const groups = new Map<string, Descriptor[]>();
  for (const d of index.manifests ?? []) {
    const key = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'] ?? '';
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const chosen: Descriptor[] = [];
  for (const group of groups.values()) {
    const platformed = group.length > 1 && group.every((d) => d.platform && !isIndexType(d.mediaType ?? ''));
    if (platformed) chosen.push(selectManifest(group as IndexEntry[], host, 'the archive') as Descriptor);
    else chosen.push(...group);
  }
  for (const desc of chosen) {
    // containerd and Docker put the full name in io.containerd.image.name and
    // only the tag in ref.name; skopeo puts "name:tag" in ref.name. A bare
    // ref.name ("latest") names no repository, so it is not a name here.
    const refName = desc.annotations?.['org.opencontainers.image.ref.name'];
    const names = [desc.annotations?.['io.containerd.image.name'], refName && /[:/]/.test(refName) ? refName : undefined]
      .map(normaliseName)
      .filter((n): n is string => n !== undefined)
      .slice(0, 1);
    let manifestDesc = desc;
    let indexDigest: string | undefined;
    let bytes = await blob(desc, 'manifest');
    let manifest = parseJson<OciManifest>(bytes, `manifest ${desc.digest}`);
    if (isIndexType(desc.mediaType ?? manifest.mediaType ?? '') || manifest.manifests) {
      indexDigest = desc.digest;
      manifestDesc = selectManifest((manifest.manifests ?? []) as IndexEntry[], host, `image index ${desc.digest}`) as Descriptor;
      bytes = await blob(manifestDesc, 'manifest');
      manifest = parseJson<OciManifest>(bytes, `manifest ${manifestDesc.digest}`);
    }
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new ImageError(`manifest ${manifestDesc.digest} is not an image manifest`);
    const config = parseJson<ConfigJson>(await blob(manifest.config, 'config'), `config ${manifest.config.digest}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new ImageError(`config ${manifest.config.digest} has ${diffIds.length} diff ids for ${manifest.layers.length} layers`);
    }
    const layers: LayerRecord[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      await blob(l, 'layer');
      layers.push({ digest: l.digest, mediaType: l.mediaType ?? MEDIA.ociLayerGzip, size: l.size, diffId: diffIds[i] });
    }
    await unpackAll(store, layers);
    const record = makeRecord(names[0] ?? '', manifestDesc.digest, indexDigest, manifest.config.digest, layers, config);
    store.putImage(record);
    out.push({ names, record });
  }
  if (out.length === 0) throw new ImageError('the OCI archive lists no images in index.json');
  return out;
}

function makeRecord(
  name: string,
  manifestDigest: string,
  indexDigest: string | undefined,
  configDigest: string,
  layers: LayerRecord[],
  config: ConfigJson,
): ImageRecord {
  const rec: ImageRecord = {
    name,
    manifestDigest,
    configDigest,
    layers,
    platform: platformOf(config),
    created: new Date().toISOString(),
  };
  if (name) rec.repository = repositoryName(parseReference(name));
  if (indexDigest) rec.indexDigest = indexDigest;
  return rec;
}

// ---- docker-archive ----

const LAYER_TYPE = { none: MEDIA.ociLayer, gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd } as const;

async function loadDocker(store: ImageStore, files: ArchiveFiles): Promise<LoadedImage[]> {
  const entries = parseJson<DockerManifestEntry[]>(readFileSync(need(files, 'manifest.json', 'docker-archive')), 'manifest.json');
  if (!Array.isArray(entries) || entries.length === 0) throw new ImageError('manifest.json lists no images');
  const out: LoadedImage[] = [];
  for (const entry of entries) {
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw new ImageError('manifest.json entry without Config or Layers');
    const configPath = need(files, entry.Config, 'image config named in manifest.json');
    const configBytes = readFileSync(configPath);
    const configDigest = await store.putBlobBytes(configBytes);
    const config = parseJson<ConfigJson>(configBytes, `config ${entry.Config}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new ImageError(`config ${entry.Config} has ${diffIds.length} diff ids for ${entry.Layers.length} layers in manifest.json`);
    }
    const layers: LayerRecord[] = [];
    for (const [i, name] of entry.Layers.entries()) {
      const p = need(files, name, 'layer named in manifest.json');
      const digest = await putFile(store, p);
      const compression = sniffCompression(p);
      layers.push({ digest, mediaType: LAYER_TYPE[compression], size: statSync(store.blobPath(digest)).size, diffId: diffIds[i] });
    }
    await unpackAll(store, layers);
    // docker-archives carry no manifest: make the OCI manifest a registry would serve.
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
    const manifestDigest = await store.putBlobBytes(manifest, { digest: sha256(manifest) });
    const names = (entry.RepoTags ?? []).map(normaliseName).filter((n): n is string => n !== undefined);
    let record = makeRecord('', manifestDigest, undefined, configDigest, layers, config);
    if (names.length === 0) store.putImage(record);
    for (const n of names) {
      record = makeRecord(n, manifestDigest, undefined, configDigest, layers, config);
      store.putImage(record);
    }
    out.push({ names, record });
  }
  return out;
}
