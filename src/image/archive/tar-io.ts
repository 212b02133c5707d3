// Tar in and out for image archives (docker-archive, oci-archive).
//  - TarWriter streams entries to a Writable with backpressure (files are
//    piped from disk, never read whole).
//  - extractArchive unpacks an archive (plain, gzip or zstd; sniffed) into a
//    scratch directory: regular files and directories only, names cleaned and
//    kept inside; symlinks and hardlinks between archive members (older
//    `docker save` links duplicate layer.tar files) are remembered and
//    resolved inside the archive by ArchiveFiles.
import { closeSync, constants as C, createReadStream, fstatSync, mkdirSync, openSync, writeSync } from 'fs';
import { posix } from 'path';
import type { Writable } from 'stream';
import { ImageError } from '../errors';
import { openLayerStream } from '../unpack/decompress';
import { cleanEntryPath, ParentGuard, lstatOrNull } from '../unpack/safe-path';
import { TarReader, type TarEntry, type TarHandler } from '../unpack/tar-reader';

const BLOCK = 512;

function octal(value: number, len: number): string {
  return value.toString(8).padStart(len - 1, '0') + '\0';
}

function header(name: string, size: number, typeflag: string, mode: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new ImageError(`archive member name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(mtime, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

export class TarWriter {
  constructor(
    private readonly out: Writable,
    /** mtime of every member (seconds): fixed, so archives are reproducible. */
    private readonly mtime = 0,
  ) {}

  private write(b: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.out.once('error', onError);
      const ok = this.out.write(b, (err) => {
        if (err) reject(err);
      });
      const done = (): void => {
        this.out.off('error', onError);
        resolve();
      };
      if (ok) done();
      else this.out.once('drain', done);
    });
  }

  async dir(name: string): Promise<void> {
    await this.write(header(name.endsWith('/') ? name : name + '/', 0, '5', 0o755, this.mtime));
  }

  async bytes(name: string, data: Buffer): Promise<void> {
    await this.write(header(name, data.length, '0', 0o644, this.mtime));
    await this.write(data);
    await this.pad(data.length);
  }

  /** Streams a file from disk; its size is taken when opened and must not change. */
  async file(name: string, path: string): Promise<void> {
    const fd = openSync(path, 'r');
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    await this.write(header(name, size, '0', 0o644, this.mtime));
    let written = 0;
    for await (const chunk of createReadStream('', { fd, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      written += chunk.length;
      if (written > size) throw new ImageError(`${path} grew while being archived`);
      await this.write(chunk);
    }
    if (written !== size) throw new ImageError(`${path} shrank while being archived`);
    await this.pad(size);
  }

  private async pad(size: number): Promise<void> {
    const r = size % BLOCK;
    if (r) await this.write(Buffer.alloc(BLOCK - r));
  }

  /** The end-of-archive marker; then ends the stream and waits for it to flush. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
    await new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
  }
}

/** The members of an extracted archive, with links resolved inside it. */
export class ArchiveFiles {
  constructor(
    readonly root: string,
    private readonly links: Map<string, { kind: 'symlink' | 'hardlink'; target: string }>,
  ) {}

  /** Absolute path of member `name` (links followed inside the archive), or null. */
  path(name: string): string | null {
    let rel: string;
    try {
      rel = cleanEntryPath(name.replace(/^\.?\//, ''));
    } catch {
      return null;
    }
    for (let hops = 0; hops < 16; hops++) {
      const link = this.links.get(rel);
      if (!link) {
        const st = lstatOrNull(`${this.root}/${rel}`);
        return st?.isFile() ? `${this.root}/${rel}` : null;
      }
      const next = link.kind === 'symlink' && !link.target.startsWith('/') ? posix.join(posix.dirname(rel), link.target) : link.target;
      try {
        rel = cleanEntryPath(next.replace(/^\/+/, ''));
      } catch {
        return null;
      }
    }
    return null;
  }
}

class ExtractHandler implements TarHandler {
  private fd = -1;
  private readonly guard: ParentGuard;
  readonly links = new Map<string, { kind: 'symlink' | 'hardlink'; target: string }>();

  constructor(private readonly root: string) {
    this.guard = new ParentGuard(root);
  }

  entry(e: TarEntry): void {
    const rel = cleanEntryPath(e.path.replace(/^\/+/, ''), e.path);
    if (rel === '') return;
    this.links.delete(rel);
    if (e.type === 'symlink' || e.type === 'link') {
      this.links.set(rel, { kind: e.type === 'symlink' ? 'symlink' : 'hardlink', target: e.linkname });
      return;
    }
    if (e.type !== 'file' && e.type !== 'dir') return; // nothing else belongs in an image archive
    this.guard.parents(rel, e.path, true);
    const abs = `${this.root}/${rel}`;
    if (e.type === 'dir') {
      if (!lstatOrNull(abs)) mkdirSync(abs, 0o755);
      this.guard.remember(rel);
      return;
    }
    this.fd = openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW, 0o644);
  }

  data(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
  }

  entryEnd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  abort(): void {
    this.entryEnd();
  }
}

/** Extracts `archive` (tar, tar.gz or tar.zst) into the new directory `dest`. */
export async function extractArchive(archive: string, dest: string): Promise<ArchiveFiles> {
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  const input = openLayerStream(archive, '');
  const handler = new ExtractHandler(dest);
  const reader = new TarReader(handler);
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      if (!reader.finished) reader.feed(chunk);
    }
    await input.done;
    reader.end();
  } catch (e) {
    handler.abort();
    input.cancel();
    const err = e as Error;
    throw e instanceof ImageError ? new ImageError(`${archive}: ${err.message}`) : new ImageError(`cannot read ${archive}: ${err.message}`);
  }
  return new ArchiveFiles(dest, handler.links);
}
