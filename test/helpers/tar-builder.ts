// Builds tar archives entry by entry for tests: every entry type, ustar
// names with prefix, PAX records (long names, xattrs, big ids, fractional
// mtimes), GNU long names ('L'/'K'), and hostile entries (".." names,
// absolute paths, links out of the root) exactly as given, since nothing here
// cleans a name. Plus small helpers to compress, hash and store layers.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'fs';
import { gzipSync } from 'zlib';

export type EntryType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface EntrySpec {
  path: string;
  type?: EntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds; fractional values go into a PAX mtime record. */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX SCHILY.xattr.NAME records. */
  xattrs?: Record<string, string | Buffer>;
  /** How to store a name or link too long for ustar (default 'pax'). */
  longNames?: 'pax' | 'gnu';
  /** Extra raw PAX records. */
  pax?: Record<string, string>;
  /** Override the type flag character (for unsupported-type tests). */
  typeflag?: string;
}

const TYPEFLAG: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

export const DEFAULT_MTIME = 1_700_000_000;

function octal(value: number, len: number): string {
  return value.toString(8).padStart(len - 1, '0') + '\0';
}

function header(fields: {
  name: string;
  prefix?: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  gnu?: boolean;
}): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name, 0, 100, 'utf8');
  h.write(octal(fields.mode, 8), 100, 'latin1');
  const id = (v: number, off: number): void => {
    if (v < 0o7777777) h.write(octal(v, 8), off, 'latin1');
    else {
      // GNU base-256 for ids that do not fit in octal.
      h[off] = 0x80;
      for (let i = 7, x = v; i >= 1; i--, x = Math.floor(x / 256)) h[off + i] = x % 256;
    }
  };
  id(fields.uid, 108);
  id(fields.gid, 116);
  h.write(octal(fields.size, 12), 124, 'latin1');
  h.write(octal(Math.floor(fields.mtime), 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(fields.typeflag, 156, 'latin1');
  if (fields.linkname) h.write(fields.linkname, 157, 100, 'utf8');
  if (fields.gnu) h.write('ustar  \0', 257, 'latin1');
  else {
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
  }
  h.write(octal(fields.devmajor ?? 0, 8), 329, 'latin1');
  h.write(octal(fields.devminor ?? 0, 8), 337, 'latin1');
  if (fields.prefix && !fields.gnu) h.write(fields.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

function padded(body: Buffer): Buffer[] {
  const pad = (512 - (body.length % 512)) % 512;
  return pad ? [body, Buffer.alloc(pad)] : [body];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const tail = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = tail.length + 1;
  while (String(len).length + tail.length !== len) len = String(len).length + tail.length;
  return Buffer.concat([Buffer.from(String(len)), tail]);
}

/** ustar can split a name at a '/' into prefix (155) and name (100). */
function splitUstar(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const p = name.slice(0, i);
    const n = name.slice(i + 1);
    if (Buffer.byteLength(p) <= 155 && Buffer.byteLength(n) <= 100 && n.length > 0) return { prefix: p, name: n };
  }
  return null;
}

/** One entry (with any PAX/GNU headers it needs) as tar blocks. */
export function tarEntry(e: EntrySpec): Buffer {
  const type = e.type ?? 'file';
  const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
  const size = type === 'file' ? content.length : 0;
  const mode = e.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644);
  const mtime = e.mtime ?? DEFAULT_MTIME;
  const out: Buffer[] = [];
  const pax: [string, Buffer][] = [];
  const gnu = e.longNames === 'gnu';
  let name = e.path;
  let prefix = '';
  const split = splitUstar(name);
  if (split) ({ name, prefix } = split);
  else if (gnu) {
    const body = Buffer.from(e.path + '\0');
    out.push(header({ name: '././@LongLink', mode: 0, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: 'L', gnu }), ...padded(body));
    name = e.path.slice(0, 100);
  } else {
    pax.push(['path', Buffer.from(e.path)]);
    name = e.path.slice(0, 100);
  }
  let linkname = e.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100) {
    if (gnu) {
      const body = Buffer.from(linkname + '\0');
      out.push(header({ name: '././@LongLink', mode: 0, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: 'K', gnu }), ...padded(body));
    } else pax.push(['linkpath', Buffer.from(linkname)]);
    linkname = linkname.slice(0, 100);
  }
  if (!Number.isInteger(mtime)) pax.push(['mtime', Buffer.from(mtime.toFixed(9))]);
  for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, Buffer.from(v)]);
  for (const [k, v] of Object.entries(e.pax ?? {})) pax.push([k, Buffer.from(v)]);
  if (pax.length) {
    const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
    out.push(header({ name: 'PaxHeaders/x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: 'x' }), ...padded(body));
  }
  out.push(
    header({
      name,
      prefix,
      mode,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      size,
      mtime,
      typeflag: e.typeflag ?? TYPEFLAG[type],
      linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      gnu,
    }),
  );
  if (size) out.push(...padded(content));
  return Buffer.concat(out);
}

/** A PAX global header ('g') applying `records` to every later entry. */
export function paxGlobal(records: Record<string, string>): Buffer {
  const body = Buffer.concat(Object.entries(records).map(([k, v]) => paxRecord(k, Buffer.from(v))));
  return Buffer.concat([header({ name: 'pax_global_header', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: 'g' }), ...padded(body)]);
}

/** A complete archive: the entries (specs or raw blocks) and the two zero blocks. */
export function tarArchive(entries: (EntrySpec | Buffer)[]): Buffer {
  return Buffer.concat([...entries.map((e) => (Buffer.isBuffer(e) ? e : tarEntry(e))), Buffer.alloc(1024)]);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

/** Two gzip members back to back (pigz/bgzip style). */
export function gzipMultiMember(data: Buffer): Buffer {
  const cut = Math.floor(data.length / 2);
  return Buffer.concat([gzipSync(data.subarray(0, cut)), gzipSync(data.subarray(cut))]);
}

export function zstd(data: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-'], { input: data, maxBuffer: 1 << 30 });
}

export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

export interface BlobSink {
  putBlobBytes(bytes: Buffer, expected?: { digest?: string; size?: number }): Promise<string>;
}

export interface StoredLayer {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
}

/** Compresses the tar as asked, stores the blob, returns the layer descriptor. */
export async function storeLayer(store: BlobSink, tar: Buffer, compression: 'none' | 'gzip' | 'zstd' = 'gzip'): Promise<StoredLayer> {
  const blob = compression === 'gzip' ? gzip(tar) : compression === 'zstd' ? zstd(tar) : tar;
  const mediaType = compression === 'gzip' ? LAYER_GZIP : compression === 'zstd' ? LAYER_ZSTD : LAYER_TAR;
  const digest = await store.putBlobBytes(blob);
  return { digest, mediaType, size: blob.length, diffId: sha256(tar) };
}

// ---- inspecting unpacked trees ----

export interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of a file's content. */
  sha?: string;
  link?: string;
  rdev?: [number, number];
  mtime: number;
  ino: number;
  nlink: number;
}

/** Every path below root (relative, sorted) with what a user can observe of it. */
export function describeTree(root: string): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel ? `${root}/${rel}` : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = `${root}/${r}`;
      const st = lstatSync(abs);
      const type: TreeNode['type'] = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isCharacterDevice()
              ? 'char'
              : st.isBlockDevice()
                ? 'block'
                : st.isFIFO()
                  ? 'fifo'
                  : 'socket';
      const node: TreeNode = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtime: st.mtimeMs / 1000, ino: st.ino, nlink: st.nlink };
      if (type === 'file') node.sha = sha256(readFileSync(abs));
      if (type === 'symlink') node.link = readlinkSync(abs);
      if (type === 'char' || type === 'block') node.rdev = [(st.rdev >>> 8) & 0xfff, (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00)];
      out.set(r, node);
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

// ---- whole images in a store ----

export interface ImageSink extends BlobSink {
  putImage(rec: {
    name: string;
    repository?: string;
    manifestDigest: string;
    configDigest: string;
    layers: StoredLayer[];
    platform: { os: string; architecture: string; variant?: string };
    created: string;
  }): void;
}

export const HOST_ARCH: string = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;

/**
 * Stores layers (each a list of entries), an OCI config with `config` as its
 * "config" object, and an OCI manifest; records the image as `name`
 * (normalised, e.g. "docker.io/library/test:latest").
 */
export async function storeImage(
  store: ImageSink,
  name: string,
  layers: (EntrySpec | Buffer)[][],
  config: Record<string, unknown> = {},
  compression: 'none' | 'gzip' | 'zstd' = 'gzip',
): Promise<{ manifestDigest: string; configDigest: string; layers: StoredLayer[] }> {
  const stored: StoredLayer[] = [];
  for (const l of layers) stored.push(await storeLayer(store, tarArchive(l), compression));
  const configJson = Buffer.from(
    JSON.stringify({
      created: '2024-01-02T03:04:05Z',
      architecture: HOST_ARCH,
      os: 'linux',
      config,
      rootfs: { type: 'layers', diff_ids: stored.map((l) => l.diffId) },
      history: stored.map(() => ({ created_by: 'test' })),
    }),
  );
  const configDigest = await store.putBlobBytes(configJson);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configJson.length },
      layers: stored.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = await store.putBlobBytes(manifest);
  store.putImage({
    name,
    repository: name.replace(/:[^:/]*$/, ''),
    manifestDigest,
    configDigest,
    layers: stored,
    platform: { os: 'linux', architecture: HOST_ARCH },
    created: '2024-01-02T03:04:05.000Z',
  });
  return { manifestDigest, configDigest, layers: stored };
}

/** What helpers need of a tap test: somewhere to register clean-up. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}
