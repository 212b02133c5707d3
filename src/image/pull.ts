// Pull: reference -> manifest (through an index for this platform) ->
// config and layer blobs, each verified while streaming into the store ->
// layers unpacked into the diff-id cache (src/image/unpack) -> image record.
// Downloads run several at a time and each layer is unpacked as soon as its
// blob is in, so network and unpacking overlap. Until the record is written
// nothing of the pull is visible; a failure leaves only complete, verified
// blobs (and unpacked layers) as cache that the next pull reuses.
import type { IncomingMessage } from 'http';
import { DigestMismatchError, ImageError, RegistryError } from './errors';
import { MEDIA, isIndexType, isManifestType, isSchema1Type, layerCompression } from './media-types';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, selectManifest, type IndexEntry, type Platform } from './platform';
import { familiarRepository, formatReference, parseReference, repositoryName, storeName, type ImageReference } from './reference';
import { RegistryClient, insecureRegistries, isConnectionError, type RegistryClientOptions } from './registry/client';
import { lookupCredentials, type Credentials } from './registry/credentials';
import { silentProgress, type PullProgress } from './progress';
import { validateDigest, type ImageRecord, type ImageStore, type LayerRecord } from './store';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
}

interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

interface ImageConfigRootfs {
  os?: string;
  architecture?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

type UnpackLayer = (
  store: ImageStore,
  layer: { digest: string; mediaType: string; diffId: string },
  opts?: { lowerDiffIds?: string[]; warn?: (msg: string) => void },
) => Promise<string>;

export interface PullOptions {
  store: ImageStore;
  /** "os/arch[/variant]"; default this host's. */
  platform?: string;
  /** Registries (host[:port]) that may use plain http, on top of CCRUN_INSECURE_REGISTRIES. */
  insecureRegistries?: string[];
  /** Explicit credentials; default: looked up in Docker's config.json. null: anonymous. */
  credentials?: Credentials | null;
  progress?: PullProgress;
  debug?: (msg: string) => void;
  warn?: (msg: string) => void;
  /** Blob downloads in flight at once (default 4). */
  concurrency?: number;
  /** Unpack layers into the layer cache (default true). */
  unpack?: boolean;
  client?: Partial<RegistryClientOptions>;
}

export interface PullResult {
  record: ImageRecord;
  /** The digest the reference resolved to (the index's when there is one). */
  digest: string;
  upToDate: boolean;
  /** Normalised reference, e.g. docker.io/library/busybox:latest. */
  reference: string;
}

/** The unpacker from src/image/unpack, or undefined when this build has none. */
export function loadUnpacker(): UnpackLayer | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require('./unpack') as { unpackLayer?: UnpackLayer }).unpackLayer;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && /[/\\]unpack['"/\\]/.test(String(err.message)) && !/unpack[/\\].+[/\\]/.test(String(err.message).split('\n')[0])) {
      return undefined;
    }
    throw e;
  }
}

const sha256 = (b: Buffer): string => `sha256:${(require('crypto') as typeof import('crypto')).createHash('sha256').update(b).digest('hex')}`;
const shortId = (digest: string): string => digest.slice(7, 19);

function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (e) {
    throw new ImageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Partial<Descriptor> | null;
  if (!x || typeof x !== 'object' || typeof x.digest !== 'string' || typeof x.size !== 'number' || x.size < 0) {
    throw new ImageError(`${what} has a malformed descriptor (needs digest and size)`);
  }
  validateDigest(x.digest);
  return { mediaType: String(x.mediaType ?? ''), digest: x.digest, size: x.size, urls: x.urls, annotations: x.annotations };
}

/** Decides what the manifest bytes are: Content-Type first, the body's mediaType as a check. */
function manifestKind(contentType: string, bytes: Buffer, what: string): { kind: 'index' | 'manifest'; body: Record<string, unknown> } {
  const body = parseJson<Record<string, unknown>>(bytes, what);
  if (body.schemaVersion === 1 || isSchema1Type(contentType) && body.schemaVersion !== 2) {
    throw new ImageError(
      `${what} is a Docker schema1 manifest, an obsolete format ccrun does not pull; the image must be pushed again with a current tool (docker, buildah, skopeo)`,
    );
  }
  const declared = typeof body.mediaType === 'string' ? body.mediaType : '';
  let type = contentType;
  if (!isIndexType(type) && !isManifestType(type)) {
    // Some registries send application/json or octet-stream: fall back on the body.
    type = declared || (Array.isArray(body.manifests) ? MEDIA.ociIndex : body.config ? MEDIA.ociManifest : '');
  }
  if (declared && declared !== type) throw new ImageError(`${what} is served as ${type} but declares mediaType ${declared}; refusing the ambiguous document`);
  if (isIndexType(type)) return { kind: 'index', body };
  if (isManifestType(type)) return { kind: 'manifest', body };
  throw new ImageError(`${what} has unsupported media type "${contentType || declared || 'none'}"`);
}

function checkManifestDigest(bytes: Buffer, what: string, wanted?: string, header?: string): string {
  const actual = sha256(bytes);
  if (wanted && actual !== wanted) {
    throw new DigestMismatchError(`${what} failed verification: asked for ${wanted}, got content with digest ${actual}`, wanted, actual);
  }
  if (header && header.startsWith('sha256:') && header !== actual) {
    throw new DigestMismatchError(`${what} failed verification: Docker-Content-Digest says ${header}, the content has digest ${actual}`, header, actual);
  }
  return actual;
}

class Puller {
  private readonly client: RegistryClient;
  private readonly progress: PullProgress;
  private readonly repo: string;
  private readonly want: Platform;
  private readonly live = new Set<IncomingMessage>();
  private aborted = false;

  constructor(
    private readonly ref: ImageReference,
    private readonly o: PullOptions,
  ) {
    this.progress = o.progress ?? silentProgress;
    this.repo = ref.path;
    this.want = o.platform ? parsePlatform(o.platform) : hostPlatform();
    const credentials = o.credentials === null ? undefined : (o.credentials ?? lookupCredentials(ref.domain));
    this.client = new RegistryClient(ref.domain, {
      insecureHosts: insecureRegistries(o.insecureRegistries),
      credentials,
      debug: o.debug,
      ...(o.client ?? {}),
    });
  }

  close(): void {
    this.client.close();
  }

  private what(reference: string): string {
    return `${repositoryName(this.ref)}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  }

  /** A manifest or index by tag or digest; from the store when we already have those bytes (verified then). */
  private async fetchManifest(reference: string, expectSize?: number): Promise<{ bytes: Buffer; contentType: string; digest: string }> {
    const what = `manifest ${this.what(reference)}`;
    if (reference.startsWith('sha256:') && this.o.store.hasBlob(reference)) {
      const bytes = this.o.store.readBlob(reference);
      return { bytes, contentType: '', digest: checkManifestDigest(bytes, what, reference) };
    }
    const r = await this.client.getManifest(this.repo, reference);
    const digest = checkManifestDigest(r.bytes, what, reference.startsWith('sha256:') ? reference : undefined, r.headerDigest);
    if (expectSize !== undefined && r.bytes.length !== expectSize) {
      throw new DigestMismatchError(`${what} is ${r.bytes.length} bytes, its index entry says ${expectSize}`, reference);
    }
    return { bytes: r.bytes, contentType: r.contentType, digest };
  }

  /** The stored record if it is still current: same digest, platform and every blob and layer present. */
  private upToDate(digest: string): ImageRecord | undefined {
    const name = this.ref.digest ? '' : storeName(this.ref);
    for (const r of this.o.store.listImages()) {
      if (r.name !== name || (r.repository ?? r.name.replace(/:[^:/]*$/, '')) !== repositoryName(this.ref)) continue;
      if (r.indexDigest !== digest && r.manifestDigest !== digest) continue;
      if (r.indexDigest === digest && formatPlatform(normalizePlatform(r.platform)) !== formatPlatform(this.want)) continue;
      if (!this.complete(r)) continue;
      return r;
    }
    return undefined;
  }

  private complete(r: ImageRecord): boolean {
    const s = this.o.store;
    const unpack = this.o.unpack !== false;
    return [r.manifestDigest, r.configDigest, ...(r.indexDigest ? [r.indexDigest] : [])].every((d) => s.hasBlob(d)) &&
      r.layers.every((l) => s.hasBlob(l.digest) && (!unpack || s.hasLayer(l.diffId)));
  }

  async run(): Promise<PullResult> {
    const ref = this.ref;
    const reference = ref.digest ?? ref.tag ?? 'latest';
    this.progress.status(`${ref.digest ? ref.digest.slice(0, 19) : ref.tag}: Pulling from ${familiarRepository(ref)}`);

    // Warm path: a digest we already hold, or a tag whose HEAD digest matches our record.
    if (ref.digest) {
      const rec = this.upToDate(ref.digest);
      if (rec) return this.finishUpToDate(rec, ref.digest);
    } else if (this.o.store.getImage(storeName(ref))) {
      const head = await this.client.headManifest(this.repo, reference);
      const rec = head ? this.upToDate(head) : undefined;
      if (rec && head) return this.finishUpToDate(rec, head);
    }

    const top = await this.fetchManifest(reference);
    const topWhat = `manifest ${this.what(reference)}`;
    const kind = manifestKind(top.contentType, top.bytes, topWhat);
    let index: { bytes: Buffer; digest: string } | undefined;
    let manifestBytes = top.bytes;
    let manifestDigest = top.digest;
    let manifestBody = kind.body;
    let platform: Platform | undefined;
    if (kind.kind === 'index') {
      index = { bytes: top.bytes, digest: top.digest };
      const list = kind.body.manifests;
      if (!Array.isArray(list)) throw new ImageError(`${topWhat} is an index without a manifests list`);
      const entries = list.map((e, i) => ({ ...(e as IndexEntry), ...checkDescriptor(e, `${topWhat} entry ${i}`) })) as IndexEntry[];
      const chosen = selectManifest(entries, this.want, this.what(reference));
      platform = chosen.platform ? normalizePlatform(chosen.platform) : undefined;
      const m = await this.fetchManifest(chosen.digest, chosen.size);
      const mk = manifestKind(m.contentType || chosen.mediaType || '', m.bytes, `manifest ${this.what(chosen.digest)}`);
      if (mk.kind !== 'manifest') throw new ImageError(`${this.what(reference)}: nested indexes are not supported`);
      manifestBytes = m.bytes;
      manifestDigest = m.digest;
      manifestBody = mk.body;
    }
    const manifestWhat = `manifest ${this.what(manifestDigest)}`;
    const manifest = manifestBody as unknown as Manifest;
    if (manifest.schemaVersion !== 2) throw new ImageError(`${manifestWhat} has schemaVersion ${String(manifest.schemaVersion)}, expected 2`);
    const config = checkDescriptor(manifest.config, `${manifestWhat} config`);
    if (!Array.isArray(manifest.layers)) throw new ImageError(`${manifestWhat} has no layers list`);
    const layers = manifest.layers.map((l, i) => checkDescriptor(l, `${manifestWhat} layer ${i}`));
    for (const l of layers) {
      if (!layerCompression(l.mediaType)) throw new ImageError(`${manifestWhat}: layer ${l.digest} has unsupported media type "${l.mediaType}"`);
    }

    const record = await this.o.store.withLock(`pull-${manifestDigest}`, async () => {
      const cfgBytes = await this.configBlob(config);
      const cfg = parseJson<ImageConfigRootfs>(cfgBytes, `image config ${config.digest}`);
      const diffIds = cfg.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
        throw new ImageError(`image config ${config.digest} lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids for ${layers.length} layers`);
      }
      diffIds.forEach((d) => validateDigest(d));
      const imgPlatform = normalizePlatform({
        os: cfg.os ?? platform?.os ?? 'linux',
        architecture: cfg.architecture ?? platform?.architecture ?? 'unknown',
        variant: cfg.variant ?? platform?.variant,
      });
      if (!index && formatPlatform(imgPlatform) !== formatPlatform(this.want)) {
        this.o.warn?.(`the image's platform (${formatPlatform(imgPlatform)}) does not match ${this.o.platform ? 'the one asked for' : 'this host'} (${formatPlatform(this.want)})`);
      }
      const layerRecords: LayerRecord[] = layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i] }));
      await this.fetchLayers(layerRecords);
      await this.o.store.putBlobBytes(manifestBytes, { digest: manifestDigest });
      if (index) await this.o.store.putBlobBytes(index.bytes, { digest: index.digest });
      const rec: ImageRecord = {
        name: ref.digest ? '' : storeName(ref),
        repository: repositoryName(ref),
        manifestDigest,
        ...(index ? { indexDigest: index.digest } : {}),
        configDigest: config.digest,
        layers: layerRecords,
        platform: imgPlatform,
        created: new Date().toISOString(),
      };
      this.o.store.putImage(rec);
      return rec;
    });
    const digest = index?.digest ?? manifestDigest;
    this.progress.status(`Digest: ${digest}`);
    this.progress.status(`Status: Downloaded newer image for ${this.displayName()}`);
    return { record, digest, upToDate: false, reference: formatReference(ref) };
  }

  private displayName(): string {
    const r = this.ref;
    return `${familiarRepository(r)}${r.digest ? `@${r.digest}` : `:${r.tag}`}`;
  }

  private finishUpToDate(rec: ImageRecord, digest: string): PullResult {
    this.progress.status(`Digest: ${digest}`);
    this.progress.status(`Status: Image is up to date for ${this.displayName()}`);
    return { record: rec, digest, upToDate: true, reference: formatReference(this.ref) };
  }

  private async configBlob(d: Descriptor): Promise<Buffer> {
    const s = this.o.store;
    if (d.size > 16 * 1024 * 1024) throw new ImageError(`image config ${d.digest} is ${d.size} bytes; refusing more than 16 MiB`);
    if (!s.hasBlob(d.digest)) await this.downloadBlob(d.digest, d.size);
    return s.readBlob(d.digest);
  }

  /**
   * One blob into the store, verified. A connection lost midway is retried
   * (bounded), asking only for the missing bytes (Range) when the server
   * supports it, else starting over.
   */
  private async downloadBlob(digest: string, size: number, id?: string): Promise<void> {
    const retries = this.o.client?.maxRetries ?? 3;
    const base = this.o.client?.retryBaseMs ?? 250;
    const w = await this.o.store.blobWriter({ digest, size });
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.aborted) throw new ImageError('pull aborted');
        const from = w.size > 0 && w.size < size ? w.size : 0;
        const res = await this.client.getBlob(this.repo, digest, from);
        this.live.add(res);
        try {
          const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
          if (res.statusCode === 206 && range && Number(range[1]) === w.size) {
            this.o.debug?.(`blob ${digest}: resuming at byte ${w.size}`);
          } else if (w.size > 0) {
            if (res.statusCode === 206) throw new RegistryError(`${this.ref.domain} answered a range of blob ${digest} that was not asked for`);
            await w.reset();
          }
          if (id) this.progress.layer(id, attempt === 0 ? 'downloading' : 'retrying', size);
          if (id && w.size > 0) this.progress.bytes(id, w.size, size);
          for await (const chunk of res as AsyncIterable<Buffer>) {
            await w.write(chunk);
            if (id) this.progress.bytes(id, chunk.length, size);
          }
          await w.commit();
          return;
        } catch (e) {
          if (this.aborted || !isConnectionError(e)) throw e;
          if (attempt >= retries) {
            throw new RegistryError(`download of blob ${digest} from ${this.ref.domain} failed: ${(e as Error).message} (gave up after ${attempt + 1} tries)`);
          }
          this.o.debug?.(`blob ${digest}: ${(e as Error).message}; retrying`);
          await new Promise((r) => setTimeout(r, base * 2 ** attempt));
        } finally {
          this.live.delete(res);
        }
      }
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  private async fetchLayers(layers: LayerRecord[]): Promise<void> {
    const s = this.o.store;
    let unpack: UnpackLayer | undefined;
    if (this.o.unpack !== false) {
      unpack = loadUnpacker();
      if (!unpack) throw new ImageError('layer unpacking is not available in this build (dist/image/unpack is missing)');
    }
    const downloads = limiter(this.o.concurrency ?? 4);
    const unpacks = limiter(2);
    for (const l of layers) this.progress.layer(shortId(l.digest), s.hasBlob(l.digest) ? 'exists' : 'waiting');
    let firstError: unknown;
    // Layers unpack in any order, several at once; one that hardlinks to a file
    // of a lower layer (LowerLayersNeededError) waits for those and runs again.
    let tasks: Promise<void>[] = [];
    const unpackOne = async (l: LayerRecord, i: number, fn: UnpackLayer): Promise<void> => {
      const id = shortId(l.digest);
      const lowerDiffIds = layers.slice(0, i).map((x) => x.diffId);
      let needLowers = false;
      await unpacks(async () => {
        if (this.aborted) throw new ImageError('pull aborted');
        this.progress.layer(id, 'extracting');
        try {
          await fn(s, { digest: l.digest, mediaType: l.mediaType, diffId: l.diffId }, { lowerDiffIds, warn: this.o.warn });
        } catch (e) {
          if ((e as Error).name !== 'LowerLayersNeededError') throw e;
          needLowers = true;
        }
      });
      if (!needLowers) return;
      await Promise.all(tasks.slice(0, i));
      await unpacks(() => fn(s, { digest: l.digest, mediaType: l.mediaType, diffId: l.diffId }, { lowerDiffIds, warn: this.o.warn }));
    };
    tasks = layers.map(async (l, i) => {
      const id = shortId(l.digest);
      if (!s.hasBlob(l.digest)) {
        await downloads(() => this.downloadBlob(l.digest, l.size, id));
        this.progress.layer(id, 'downloaded');
      }
      if (unpack && !s.hasLayer(l.diffId)) {
        await unpackOne(l, i, unpack);
        this.progress.layer(id, 'done');
      } else {
        this.progress.layer(id, unpack ? 'exists' : 'done');
      }
    });
    const results = await Promise.allSettled(
      tasks.map((p) =>
        p.catch((e: unknown) => {
          // First failure stops the rest: no new work, in-flight downloads cut.
          if (!this.aborted) {
            this.aborted = true;
            firstError = e;
            for (const r of this.live) r.destroy();
          }
          throw e;
        }),
      ),
    );
    if (results.some((r) => r.status === 'rejected')) throw firstError;
  }
}

/** Pulls `reference` into the store; see PullOptions. */
export async function pullImage(reference: string, o: PullOptions): Promise<PullResult> {
  const ref = parseReference(reference);
  const p = new Puller(ref, o);
  try {
    return await p.run();
  } finally {
    p.close();
    (o.progress ?? silentProgress).finish();
  }
}
