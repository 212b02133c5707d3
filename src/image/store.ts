// The local image store: content-addressed blobs, unpacked layers cached by
// diff id, and images.json naming the images. Every write is atomic (temp
// file in <root>/tmp, fsync, rename), so a crash or an interrupted pull
// leaves only complete, verified content behind.
//
// Layout:
//   <root>/blobs/sha256/<hex>    manifests, indexes, configs, compressed layers
//   <root>/layers/sha256/<hex>   unpacked layer trees, by diff id (complete ones only)
//   <root>/tmp/                  work files; same filesystem, so rename is atomic
//   <root>/locks/<name>.lock     exclusive locks (src/image/lock.ts: pid inside; stale ones are broken)
//   <root>/images.json           { version: 1, images: ImageRecord[] }
import * as fs from 'fs';
import type * as Crypto from 'crypto';
import { join } from 'path';
import { DigestMismatchError, ImageError, ImageNotFoundError } from './errors';
import { parseReference, repositoryName, storeName } from './reference';
import type * as Lock from './lock';
import type * as RemoveTree from './remove-tree';
import type * as LayerFormats from './unpack/layer-format';
import type { LayerFormat } from './unpack/layer-format';

export { MEDIA } from './media-types';

export interface LayerRecord {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
}

export interface ImageRecord {
  /** Normalised reference without digest ("docker.io/library/busybox:latest"); "" when pulled by digest only. */
  name: string;
  /** Repository of the image ("docker.io/library/busybox"), also for digest-only pulls. */
  repository?: string;
  /** sha256 of the platform manifest. */
  manifestDigest: string;
  /** The index or manifest list the manifest was chosen from. */
  indexDigest?: string;
  configDigest: string;
  layers: LayerRecord[];
  platform: { os: string; architecture: string; variant?: string };
  /** When the record was stored (ISO time). */
  created: string;
}

interface ImagesFile {
  version: 1;
  images: ImageRecord[];
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const ID_PREFIX_RE = /^(?:sha256:)?([0-9a-f]{4,64})$/;
// crypto costs milliseconds to load; a warm pull or `images` never needs it.
const crypto = (): typeof Crypto => require('crypto') as typeof Crypto;
// Loaded when first used: `pull` of an image already present (a HEAD and a
// look at images.json) and the commands that only read the store need none.
const lock = (): typeof Lock => require('./lock') as typeof Lock;
const removeTree = (dir: string): void => (require('./remove-tree') as typeof RemoveTree).removeTree(dir);
export function validateDigest(digest: string): void {
  if (!DIGEST_RE.test(digest)) {
    if (/^[a-z0-9+._-]+:/.test(digest) && !digest.startsWith('sha256:')) {
      throw new ImageError(`unsupported digest algorithm in "${digest}" (only sha256 is supported)`);
    }
    throw new ImageError(`invalid digest "${digest}" (expected sha256:<64 lowercase hex digits>)`);
  }
}

/** The image ID Docker shows: the config digest. */
export function imageId(rec: ImageRecord): string {
  return rec.configDigest;
}

export class ImageStore {
  readonly root: string;
  private laidOut = false;

  /** root: /var/lib/ccrun; other users: $XDG_DATA_HOME/ccrun (~/.local/share/ccrun). */
  static defaultRoot(): string {
    if (process.getuid && process.getuid() === 0) return '/var/lib/ccrun';
    const data = process.env.XDG_DATA_HOME || join(process.env.HOME || require('os').homedir(), '.local', 'share');
    return join(data, 'ccrun');
  }

  /**
   * The blob and layer directories, joined once: a warm pull checks every
   * blob and layer of the image, and path.join's normalization of the whole
   * path each time was ~40 us a check (3-4 ms for 40 layers).
   */
  private readonly blobDir: string;
  private readonly layerDir: string;

  constructor(root?: string) {
    this.root = root ?? ImageStore.defaultRoot();
    this.blobDir = join(this.root, 'blobs', 'sha256');
    this.layerDir = join(this.root, 'layers', 'sha256');
  }

  private ensureLayout(): void {
    if (this.laidOut) return;
    // 0700: unpacked layers hold setuid binaries that other users must not reach.
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    for (const d of ['blobs/sha256', 'layers/sha256', 'tmp', 'locks']) {
      fs.mkdirSync(join(this.root, d), { recursive: true, mode: 0o700 });
    }
    this.laidOut = true;
    this.cleanTmp();
  }

  /** Removes work files of dead processes: names "<kind>-<pid>-..." in tmp/. */
  private cleanTmp(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.tmpDir());
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^[a-z]+-(\d+)-/.exec(n);
      if (m && !lock().pidAlive(Number(m[1]))) removeTree(join(this.tmpDir(), n));
    }
  }

  // ---- blobs ----

  blobPath(digest: string): string {
    validateDigest(digest); // sha256: and 64 hex digits, so the name needs no normalizing
    return `${this.blobDir}/${digest.slice(7)}`;
  }

  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  readBlob(digest: string): Buffer {
    try {
      return fs.readFileSync(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(`blob ${digest} is not in the store ${this.root}`);
      throw e;
    }
  }

  /** A unique name in tmp/ ("<kind>-<pid>-<random>"), cleaned up once the process is gone. */
  tmpName(kind: string): string {
    this.ensureLayout();
    return join(this.tmpDir(), `${kind}-${process.pid}-${crypto().randomBytes(8).toString('hex')}`);
  }

  /**
   * Streams `source` into the store, verifying sha256 and size while streaming;
   * atomic (tmp file, fsync, rename). Returns the digest. On a mismatch throws
   * DigestMismatchError naming the blob, and nothing enters the store.
   */
  async putBlob(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream,
    expected?: { digest?: string; size?: number },
    onProgress?: (bytes: number) => void,
  ): Promise<string> {
    const w = await this.blobWriter(expected);
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        await w.write(chunk);
        onProgress?.(chunk.length);
      }
      return await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /**
   * A blob being written piece by piece (a download that may resume with a
   * Range request after a dropped connection): hashed and size-checked as it
   * goes, entering the store only through commit(), which verifies it.
   */
  async blobWriter(expected?: { digest?: string; size?: number }): Promise<BlobWriter> {
    if (expected?.digest) validateDigest(expected.digest);
    const tmp = this.tmpName('blob');
    const fh = await fs.promises.open(tmp, 'wx', 0o644);
    return new BlobWriter(this, tmp, fh, expected ?? {});
  }

  putBlobBytes(bytes: Buffer, expected?: { digest?: string; size?: number }): Promise<string> {
    return this.putBlob([bytes], expected);
  }

  // ---- unpacked layers (filled by src/image/unpack) ----

  tmpDir(): string {
    return join(this.root, 'tmp');
  }

  layerPath(diffId: string): string {
    validateDigest(diffId);
    return `${this.layerDir}/${diffId.slice(7)}`;
  }

  hasLayer(diffId: string): boolean {
    return fs.existsSync(this.layerPath(diffId));
  }

  private format?: LayerFormat;

  /**
   * How this store's layers are written and read: as root writes them, or,
   * in a store an unprivileged user owns, the rootless way (unpack/layer-format.ts).
   */
  get layerFormat(): LayerFormat {
    if (!this.format) {
      let owner: number;
      try {
        owner = fs.statSync(this.root).uid;
      } catch {
        owner = process.geteuid?.() ?? 0; // made by this process when first written
      }
      this.format = (require('./unpack/layer-format') as typeof LayerFormats).layerFormatFor(owner);
    }
    return this.format;
  }

  // ---- locks ----

  private lockPath(name: string): string {
    // A plain name is its own file name (no hashing: loading crypto costs
    // several ms of each `run`); others are made safe and told apart by a hash.
    if (/^[A-Za-z0-9._-]{1,80}$/.test(name) && !name.startsWith('.')) return join(this.root, 'locks', `n-${name}.lock`);
    const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
    const tag = crypto().createHash('sha256').update(name).digest('hex').slice(0, 12);
    return join(this.root, 'locks', `h-${safe}-${tag}.lock`);
  }

  /** Runs fn holding an exclusive lock (across processes) named `name`. Not re-entrant. */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.ensureLayout();
    return lock().withFileLock(this.lockPath(name), fn);
  }

  private withLockSync<T>(name: string, fn: () => T): T {
    this.ensureLayout();
    return lock().withFileLockSync(this.lockPath(name), fn);
  }

  // ---- image records ----

  private imagesFile(): string {
    return join(this.root, 'images.json');
  }

  /** Parsed images.json, reused while the file is the same (it is only ever replaced by rename). */
  private cache: { key: string; images: ImageRecord[] } | undefined;

  private readImages(): ImageRecord[] {
    let text: string;
    let key: string;
    try {
      const st = fs.statSync(this.imagesFile());
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (this.cache?.key === key) return this.cache.images.map((r) => ({ ...r }));
      text = fs.readFileSync(this.imagesFile(), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as ImagesFile;
      const images = Array.isArray(parsed.images) ? parsed.images : [];
      this.cache = { key, images };
      return images.map((r) => ({ ...r }));
    } catch (e) {
      throw new ImageError(`${this.imagesFile()} is corrupt (${(e as Error).message}); move it away to start an empty store`);
    }
  }

  private writeImages(images: ImageRecord[]): void {
    const tmp = this.tmpName('images');
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify({ version: 1, images } satisfies ImagesFile, null, 1) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.imagesFile());
  }

  listImages(): ImageRecord[] {
    return this.readImages();
  }

  /** By normalised or short name ("busybox"), name@digest, manifest digest, or image id (prefix). */
  getImage(ref: string): ImageRecord | undefined {
    return this.resolve(this.readImages(), ref)[0];
  }

  /** Matches, most specific first; an id prefix matching several different images is an error. */
  private resolve(images: ImageRecord[], ref: string): ImageRecord[] {
    const exact = images.filter((r) => r.name !== '' && r.name === ref);
    if (exact.length) return exact;
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      const repo = repositoryName(parsed);
      const repoOf = (r: ImageRecord): string => r.repository ?? r.name.replace(/:[^:/]*$/, '');
      if (parsed.digest) {
        const d = parsed.digest;
        const hits = images.filter((r) => (r.manifestDigest === d || r.indexDigest === d) && repoOf(r) === repo);
        if (hits.length) return hits;
      } else {
        const name = storeName(parsed);
        const hits = images.filter((r) => r.name === name);
        if (hits.length) return hits;
      }
    }
    const m = ID_PREFIX_RE.exec(ref);
    if (!m && DIGEST_RE.test(ref) === false) return [];
    const hex = m ? m[1] : ref.slice(7);
    const full = ref.startsWith('sha256:') && hex.length === 64;
    const byId = images.filter((r) => r.configDigest.slice(7).startsWith(hex));
    const byDigest = full ? images.filter((r) => r.manifestDigest === ref || r.indexDigest === ref) : [];
    const hits = byId.length ? byId : byDigest;
    const ids = new Set(hits.map((r) => r.configDigest));
    if (ids.size > 1) throw new ImageError(`"${ref}" matches ${ids.size} images; give more of the image id`);
    return hits;
  }

  /** Adds or replaces the record with the same name (or, digest-only, the same repository and manifest). */
  putImage(rec: ImageRecord): void {
    for (const d of [rec.manifestDigest, rec.configDigest, ...rec.layers.flatMap((l) => [l.digest, l.diffId])]) validateDigest(d);
    if (rec.indexDigest) validateDigest(rec.indexDigest);
    this.withLockSync('images.json', () => {
      const same = (r: ImageRecord): boolean =>
        rec.name !== '' ? r.name === rec.name : r.name === '' && r.manifestDigest === rec.manifestDigest && r.repository === rec.repository;
      const images = this.readImages().filter((r) => !same(r));
      images.push(rec);
      this.writeImages(images);
    });
  }

  /**
   * Removes the image's record, then the blobs and unpacked layers no other
   * image uses. An id naming several tagged records must be removed by name.
   */
  removeImage(ref: string): { removedBlobs: string[]; removedLayers: string[] } {
    return this.withLockSync('images.json', () => {
      const images = this.readImages();
      const hits = this.resolve(images, ref);
      if (hits.length === 0) throw new ImageNotFoundError(`image "${ref}" is not in the store (see ccrun images)`);
      if (hits.length > 1) {
        const names = hits.map((r) => r.name || `${r.repository ?? '<none>'}@${r.manifestDigest}`);
        throw new ImageError(`"${ref}" names ${hits.length} images (${names.join(', ')}); remove them by name`);
      }
      const gone = hits[0];
      const rest = images.filter((r) => r !== gone);
      this.writeImages(rest);
      const keptBlobs = new Set<string>();
      const keptLayers = new Set<string>();
      for (const r of rest) {
        for (const d of blobsOf(r)) keptBlobs.add(d);
        for (const l of r.layers) keptLayers.add(l.diffId);
      }
      const removedBlobs: string[] = [];
      const removedLayers: string[] = [];
      for (const d of new Set(blobsOf(gone))) {
        if (keptBlobs.has(d)) continue;
        fs.rmSync(this.blobPath(d), { force: true });
        removedBlobs.push(d);
      }
      for (const l of gone.layers) {
        if (keptLayers.has(l.diffId) || removedLayers.includes(l.diffId) || !this.hasLayer(l.diffId)) continue;
        // Rename first so the tree vanishes at once; then delete it at leisure.
        const doomed = this.tmpName('rm');
        fs.renameSync(this.layerPath(l.diffId), doomed);
        removeTree(doomed);
        removedLayers.push(l.diffId);
      }
      return { removedBlobs, removedLayers };
    });
  }
}

function blobsOf(r: ImageRecord): string[] {
  const out = [r.manifestDigest, r.configDigest, ...r.layers.map((l) => l.digest)];
  if (r.indexDigest) out.push(r.indexDigest);
  return out;
}

export class BlobWriter {
  private hash = crypto().createHash('sha256');
  /** Bytes written so far (where a resumed download continues). */
  size = 0;
  private readonly name: string;

  constructor(
    private readonly store: ImageStore,
    private readonly tmp: string,
    private readonly fh: fs.promises.FileHandle,
    private readonly expected: { digest?: string; size?: number },
  ) {
    this.name = expected.digest ?? 'blob';
  }

  async write(chunk: Uint8Array): Promise<void> {
    const limit = this.expected.size;
    if (limit !== undefined && this.size + chunk.length > limit) {
      throw new DigestMismatchError(`blob ${this.name} is larger than the ${limit} bytes its descriptor says`, this.name);
    }
    this.hash.update(chunk);
    await this.fh.write(chunk, 0, chunk.length, this.size);
    this.size += chunk.length;
  }

  /** Starts over (the server ignored a Range request). */
  async reset(): Promise<void> {
    await this.fh.truncate(0);
    this.hash = crypto().createHash('sha256');
    this.size = 0;
  }

  async commit(): Promise<string> {
    const { size, digest: want } = this.expected;
    if (size !== undefined && this.size !== size) {
      throw new DigestMismatchError(`blob ${this.name} is truncated: got ${this.size} of ${size} bytes`, this.name);
    }
    const digest = `sha256:${this.hash.digest('hex')}`;
    if (want && digest !== want) {
      throw new DigestMismatchError(`blob ${want} failed verification: its content has digest ${digest}`, want, digest);
    }
    await this.fh.sync();
    await this.fh.close();
    fs.renameSync(this.tmp, this.store.blobPath(digest));
    return digest;
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    fs.rmSync(this.tmp, { force: true });
  }
}
