// Opening a layer blob as a stream of its uncompressed tar bytes. The media
// type says gzip or zstd; a "plain tar" type (or an unknown one) is sniffed by
// magic bytes, because docker-archives and some registries label compressed
// layers as plain tar. Node 20's zlib has no zstd: newer Node's
// createZstdDecompress is used when present, else the zstd(1) CLI.
import { spawn } from 'child_process';
import { closeSync, createReadStream, openSync, readSync } from 'fs';
import { pipeline, type Readable } from 'stream';
import * as zlib from 'zlib';
import { ImageError } from '../errors';
import { layerCompression } from '../media-types';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerStream {
  stream: Readable;
  compression: Compression;
  /** Resolves once the decompressor finished cleanly (the zstd process exited 0). */
  done: Promise<void>;
  /** Stops the decompressor after a failure of the consumer. */
  cancel(): void;
}

const READ_CHUNK = 1 << 20;

/** Compression by magic bytes: gzip 1f 8b, zstd 28 b5 2f fd. */
export function sniffCompression(path: string): Compression {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    closeSync(fd);
  }
}

export function compressionFor(path: string, mediaType: string): Compression {
  const byType = layerCompression(mediaType);
  return byType === 'gzip' || byType === 'zstd' ? byType : sniffCompression(path);
}

type ZstdFactory = (opts?: zlib.ZlibOptions) => NodeJS.ReadWriteStream;

export function openLayerStream(path: string, mediaType: string): LayerStream {
  const kind = compressionFor(path, mediaType);
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  if (kind === 'none') return { stream: file, compression: kind, done: Promise.resolve(), cancel: () => file.destroy() };
  const nativeZstd = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;
  if (kind === 'gzip' || nativeZstd) {
    const dec = (kind === 'gzip' ? zlib.createGunzip({ chunkSize: 1 << 16 }) : nativeZstd!()) as unknown as Readable & NodeJS.WritableStream;
    const done = new Promise<void>((resolve, reject) => {
      pipeline(file, dec, (err) => (err ? reject(wrapDecompressError(kind, err)) : resolve()));
    });
    done.catch(() => undefined); // observed by the caller through `await done`
    return {
      stream: dec,
      compression: kind,
      done,
      cancel: () => dec.destroy(),
    };
  }
  file.destroy();
  return zstdProcess(path);
}

/** zlib's own errors ("incorrect header check") say nothing of the layer: reword them. */
export function wrapDecompressError(kind: Compression, e: Error): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (e instanceof ImageError || !(code.startsWith('Z_') || code.startsWith('ERR_ZLIB'))) return e;
  return new ImageError(`layer is not valid ${kind} data: ${e.message}`);
}

/** zstd -dc with the blob file as stdin, stdout streamed to the caller. */
function zstdProcess(path: string): LayerStream {
  const fd = openSync(path, 'r');
  let stderr = '';
  let child;
  try {
    child = spawn('zstd', ['-dc', '-q'], { stdio: [fd, 'pipe', 'pipe'] });
  } finally {
    closeSync(fd);
  }
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new ImageError(
          e.code === 'ENOENT'
            ? 'cannot decompress a zstd layer: the zstd program is not installed (apt-get install zstd)'
            : `cannot run zstd: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal) reject(new ImageError(`zstd -dc was killed by ${signal}`));
      else reject(new ImageError(`layer is not valid zstd data: zstd -dc exited with ${code}: ${stderr.trim() || 'no message'}`));
    });
  });
  done.catch(() => undefined); // observed by the caller through `await done`
  return {
    stream: child.stdout!,
    compression: 'zstd',
    done,
    cancel: () => {
      child.stdout!.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
