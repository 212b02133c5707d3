// Small fixture layers for pull tests: ustar archives built in Node, then
// gzip (zlib) or zstd (the zstd CLI). Richer layers (devices, xattrs,
// whiteouts) belong to the unpack tests' own builders.
import { spawnSync } from 'child_process';
import { gzipSync } from 'zlib';

export interface TarFile {
  path: string;
  /** File content; a directory when undefined and path ends with "/". */
  content?: Buffer | string;
  mode?: number;
  /** A hardlink to this path (typeflag 1). */
  hardlink?: string;
}

function header(name: string, size: number, type: string, mode: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100) throw new Error(`fixture path too long for plain ustar: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(mode.toString(8).padStart(7, '0') + '\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('14000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

export function makeTar(files: TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    if (f.hardlink !== undefined) {
      parts.push(header(f.path, 0, '1', f.mode ?? 0o644, f.hardlink));
      continue;
    }
    if (f.content === undefined) {
      parts.push(header(f.path.endsWith('/') ? f.path : `${f.path}/`, 0, '5', f.mode ?? 0o755));
      continue;
    }
    const data = Buffer.from(f.content);
    parts.push(header(f.path, data.length, '0', f.mode ?? 0o644), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gzipLayer(files: TarFile[]): Buffer {
  return gzipSync(makeTar(files));
}

export function zstdLayer(files: TarFile[]): Buffer {
  const r = spawnSync('zstd', ['-q', '-c'], { input: makeTar(files), maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
  return r.stdout;
}
