// Compiled seccomp filters, kept between runs. libseccomp turns a profile
// like Docker's default (~350 rules) into ~1000 BPF instructions in 15-20 ms
// of every create/exec; the program only depends on the rules, the
// libseccomp build and the kernel, so it is compiled once (by the helper,
// which sends it back) and loaded as is afterwards.
//
// A cache file holds the exact wire records of the rules it was compiled
// from, and a hit requires them byte for byte: the file name is only a
// (weak, fast) hash, so a crafted profile whose name collides with another
// one's can never make that other container load its filter. The directory
// is root's /var/cache/ccrun/seccomp (0700), or the user's own cache
// directory: only the caller can write what the caller's containers load.
import * as fs from 'fs';
import { join } from 'path';

/** Where compiled filters are kept: $CCRUN_SECCOMP_CACHE ("off": nowhere), else per user. */
export function defaultSeccompCacheDir(): string | undefined {
  const set = process.env.CCRUN_SECCOMP_CACHE;
  if (set === 'off') return undefined;
  if (set) return set;
  if ((process.geteuid?.() ?? 0) === 0) return '/var/cache/ccrun/seccomp';
  const base = process.env.XDG_CACHE_HOME || join(process.env.HOME || require('os').homedir(), '.cache');
  return join(base, 'ccrun', 'seccomp');
}

const MAGIC = 'ccrun seccomp bpf v1\n';

/**
 * The file name: the length and an FNV-1a hash of every 7th byte. Only a
 * name (a hit is checked in full), and cheap: hashing every byte of the
 * ~20 KB of rules in cold JavaScript cost ~2 ms of each run. Different rules
 * that share a name only make each other compile again.
 */
function fileKey(data: Buffer): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i += 7) h = Math.imul(h ^ data[i], 0x01000193);
  return `${data.length.toString(16)}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}

export class SeccompFilterCache {
  /**
   * @param dir where the compiled filters live
   * @param identity what else the program depends on: the helper binary
   *   (its libseccomp) and the kernel release
   */
  constructor(
    private readonly dir: string,
    private readonly identity: string,
  ) {}

  private header(rules: Buffer): Buffer {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(rules.length);
    return Buffer.concat([Buffer.from(`${MAGIC}${this.identity}\n`), len, rules]);
  }

  private path(header: Buffer): string {
    return join(this.dir, `${fileKey(header)}.bpf`);
  }

  /** The compiled program for exactly these rules, if one was kept. */
  lookup(rules: Buffer): Buffer | undefined {
    const header = this.header(rules);
    let data: Buffer;
    try {
      data = fs.readFileSync(this.path(header));
    } catch {
      return undefined;
    }
    if (data.length <= header.length || !data.subarray(0, header.length).equals(header)) return undefined;
    const program = data.subarray(header.length);
    // A BPF program is a whole number of 8-byte instructions.
    return program.length % 8 === 0 ? program : undefined;
  }

  /** Keeps a program; a cache that cannot be written is only slower, never an error. */
  store(rules: Buffer, program: Buffer): void {
    const header = this.header(rules);
    const path = this.path(header);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, Buffer.concat([header, program]), { mode: 0o600 });
      fs.renameSync(tmp, path);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}
