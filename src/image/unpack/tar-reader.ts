// A streaming tar reader: chunks go in through feed(), entries come out
// through a synchronous handler, and nothing is buffered beyond one header
// and the current chunk (file bodies are handed on slice by slice), so a
// layer of any size is read in constant memory. Understands ustar, GNU
// (long names 'L'/'K', base-256 numbers) and PAX (local 'x' and global 'g'
// headers: path, linkpath, size, uid, gid, mtime, atime, SCHILY.xattr.*,
// LIBARCHIVE.xattr.*).
import { ImageError } from '../errors';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The path as the archive gives it (PAX/GNU long name applied); not yet cleaned. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional with PAX). */
  mtime: number;
  atime?: number;
  /** Target of a symlink or hardlink. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX records (name -> raw value). */
  xattrs: Map<string, Buffer>;
}

export interface TarHandler {
  /** An entry starts; for files, data() follows with exactly `size` bytes. */
  entry(e: TarEntry): void;
  data(chunk: Buffer): void;
  entryEnd(): void;
}

export class TarFormatError extends ImageError {}

const BLOCK = 512;
/** PAX and GNU long-name bodies are buffered: bound them. */
const MAX_META = 1 << 20;

type State = 'header' | 'body' | 'meta' | 'pad' | 'eof';

interface PaxFields {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  atime?: number;
  devmajor?: number;
  devminor?: number;
  xattrs: Map<string, Buffer>;
}

export class TarReader {
  private state: State = 'header';
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private remaining = 0;
  private pad = 0;
  private zeroBlocks = 0;
  private meta: Buffer[] = [];
  private metaLen = 0;
  private metaType = '';
  private global: PaxFields = { xattrs: new Map() };
  private local: PaxFields = { xattrs: new Map() };
  private longName?: string;
  private longLink?: string;
  private current?: TarEntry;
  private entries = 0;

  constructor(private readonly handler: TarHandler) {}

  /** True once the end-of-archive marker was read; further bytes are padding. */
  get finished(): boolean {
    return this.state === 'eof';
  }

  feed(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case 'eof':
          return;
        case 'header': {
          const n = Math.min(BLOCK - this.headerFill, chunk.length - off);
          chunk.copy(this.header, this.headerFill, off, off + n);
          this.headerFill += n;
          off += n;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            this.onHeader(this.header);
          }
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.handler.data(chunk.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endBody();
          break;
        }
        case 'meta': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.meta.push(Buffer.from(chunk.subarray(off, off + n)));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endMeta();
          break;
        }
        case 'pad': {
          const n = Math.min(this.pad, chunk.length - off);
          off += n;
          this.pad -= n;
          if (this.pad === 0) this.state = 'header';
          break;
        }
      }
    }
  }

  /** The input ended: it is an error unless we are between entries. */
  end(): void {
    if (this.state === 'eof') return;
    if (this.state === 'header' && this.headerFill === 0 && this.pendingMetaEmpty()) return; // no end marker: tolerated, as GNU tar does
    const what = this.current ? `entry "${this.current.path}"` : 'a header';
    throw new TarFormatError(`layer tar is truncated (it ends inside ${what})`);
  }

  private pendingMetaEmpty(): boolean {
    return this.longName === undefined && this.longLink === undefined && this.local.path === undefined;
  }

  private onHeader(h: Buffer): void {
    if (isZero(h)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = 'eof';
      return;
    }
    if (this.zeroBlocks > 0) {
      // One zero block then more entries: some writers do this; keep reading.
      this.zeroBlocks = 0;
    }
    verifyChecksum(h, this.entries);
    this.entries++;
    const typeflag = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    const size = num(h, 124, 12);
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META) throw new TarFormatError(`tar ${typeflag} header of ${size} bytes is too large`);
      this.metaType = typeflag;
      this.meta = [];
      this.metaLen = size;
      this.remaining = size;
      this.pad = padOf(size);
      if (size === 0) this.endMeta();
      else this.state = 'meta';
      return;
    }
    const magic = h.toString('latin1', 257, 263);
    const isUstar = magic === 'ustar\0';
    let name = cstr(h, 0, 100);
    if (isUstar) {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const pax = this.local;
    const g = this.global;
    const path = pax.path ?? this.longName ?? g.path ?? name;
    const linkname = pax.linkpath ?? this.longLink ?? g.linkpath ?? cstr(h, 157, 100);
    const xattrs = new Map([...g.xattrs, ...pax.xattrs]);
    this.local = { xattrs: new Map() };
    this.longName = undefined;
    this.longLink = undefined;
    const type = entryType(typeflag, path);
    const entry: TarEntry = {
      path,
      type,
      mode: num(h, 100, 8) & 0o7777,
      uid: pax.uid ?? g.uid ?? num(h, 108, 8),
      gid: pax.gid ?? g.gid ?? num(h, 116, 8),
      size: pax.size ?? g.size ?? size,
      mtime: pax.mtime ?? g.mtime ?? num(h, 136, 12),
      atime: pax.atime ?? g.atime,
      linkname,
      devmajor: pax.devmajor ?? num(h, 329, 8),
      devminor: pax.devminor ?? num(h, 337, 8),
      xattrs,
    };
    // Only regular files carry data; a size on anything else is skipped.
    const body = entry.size;
    if (type !== 'file') entry.size = 0;
    this.current = entry;
    this.handler.entry(entry);
    if (type === 'file' && body > 0) {
      this.remaining = body;
      this.pad = padOf(body);
      this.state = 'body';
      return;
    }
    // No data for the handler; skip any body (a hardlink with a size, say).
    this.handler.entryEnd();
    this.current = undefined;
    this.pad = body + padOf(body);
    this.state = this.pad > 0 ? 'pad' : 'header';
  }

  private endBody(): void {
    if (this.current) this.handler.entryEnd();
    this.current = undefined;
    this.state = this.pad > 0 ? 'pad' : 'header';
  }

  private endMeta(): void {
    const body = Buffer.concat(this.meta, this.metaLen);
    this.meta = [];
    if (this.metaType === 'L') this.longName = cstr(body, 0, body.length);
    else if (this.metaType === 'K') this.longLink = cstr(body, 0, body.length);
    else parsePax(body, this.metaType === 'g' ? this.global : this.local);
    this.state = this.pad > 0 ? 'pad' : 'header';
  }
}

function entryType(flag: string, path: string): TarEntryType {
  switch (flag) {
    case '0':
    case '7':
      return path.endsWith('/') ? 'dir' : 'file'; // old tars mark directories by a trailing slash
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    default:
      throw new TarFormatError(`tar entry "${path}" has unsupported type '${flag}' (sparse and multi-volume entries are not supported)`);
  }
}

function padOf(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function cstr(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

/** Octal (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
function num(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    let v = b[off] & 0x3f; // the sign bit is dropped: negative values are nonsense here
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  for (; i < end; i++) {
    const c = b[i];
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function verifyChecksum(h: Buffer, index: number): void {
  const want = num(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (want !== unsigned && want !== signed) {
    throw new TarFormatError(`not a valid tar stream: header ${index + 1} has a bad checksum (corrupt or not a tar layer)`);
  }
}

function parsePax(body: Buffer, into: PaxFields): void {
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(body.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= 0 || off + len > body.length) {
      if (body[off] === 0) break; // trailing NUL padding
      throw new TarFormatError('malformed PAX header record');
    }
    const rec = body.subarray(sp + 1, off + len - 1); // drop the trailing newline
    off += len;
    const eq = rec.indexOf(0x3d);
    if (eq < 0) continue;
    const key = rec.toString('utf8', 0, eq);
    const raw = rec.subarray(eq + 1);
    const value = (): string => raw.toString('utf8');
    const number = (): number => {
      const n = Number(value());
      if (!Number.isFinite(n)) throw new TarFormatError(`PAX record ${key} is not a number: "${value()}"`);
      return n;
    };
    if (key === 'path') into.path = value();
    else if (key === 'linkpath') into.linkpath = value();
    else if (key === 'size') into.size = number();
    else if (key === 'uid') into.uid = number();
    else if (key === 'gid') into.gid = number();
    else if (key === 'mtime') into.mtime = number();
    else if (key === 'atime') into.atime = number();
    else if (key === 'SCHILY.devmajor') into.devmajor = number();
    else if (key === 'SCHILY.devminor') into.devminor = number();
    else if (key.startsWith('SCHILY.xattr.')) into.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(raw));
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      into.xattrs.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(value(), 'base64'));
    } else if (key.startsWith('GNU.sparse.')) throw new TarFormatError('sparse files (GNU.sparse PAX records) are not supported in layers');
    // uname, gname, ctime, comment, charset...: ownership is numeric; the rest does not matter.
  }
}
