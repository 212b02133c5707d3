// Unit conversions between the OCI resources (written with cgroup v1 in mind)
// and cgroup v2 files, as runc (opencontainers/cgroups) and crun do them, so
// a config gives the same limits whichever runtime applies it.
import { ConfigError } from '../runtime/errors';

/** cgroup v1 cpu.shares range [2, 262144] (default 1024) -> cgroup v2 cpu.weight [1, 10000] (default 100). */
export function cpuSharesToWeight(shares: number): number {
  // 0 means "unset". runc >= 1.3.2 and crun >= 1.23 use this quadratic in
  // log2(shares) because it maps min, default and max onto each other
  // (2 -> 1, 1024 -> 100, 262144 -> 10000); the old linear formula turned
  // the default 1024 shares into weight 39.
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/** cgroup v1 blkio.weight [10, 1000] -> cgroup v2 io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (v1 memory.memsw.limit_in_bytes); cgroup v2
 * memory.swap.max is swap alone. Returns -1 for "max", 0 for "leave unset".
 */
export function memorySwapToV2(swap: number, limit: number): number {
  // As runc: an unlimited memory with no swap given means unlimited swap too.
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) {
    throw new ConfigError('linux.resources.memory.swap: a swap limit needs a memory limit (set linux.resources.memory.limit too)');
  }
  if (limit < 0) throw new ConfigError(`linux.resources.memory.limit: invalid value ${limit}`);
  if (swap < limit) {
    throw new ConfigError(
      `linux.resources.memory.swap (${swap}) must be >= linux.resources.memory.limit (${limit}): it is memory+swap, as in runc`,
    );
  }
  return swap - limit;
}

/** -1 (or, for pids, 0 and below) means no limit: the file takes "max". */
export function maxOrNumber(value: number): string {
  return value === -1 ? 'max' : String(value);
}

/**
 * Parses a size as runc's update flags and docker accept it: bytes, or a
 * number with a binary unit (k, m, g, t, p; optional "b"/"ib"), e.g. 512m, 1g.
 * "-1" means unlimited.
 */
export function parseByteSize(text: string, what: string): number {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`${what}: "${text}" is not a size (bytes, or a number with k, m, g, t or p, e.g. 512m)`);
  const n = Number(m[1]);
  if (n === -1 && !m[2]) return -1;
  if (n < 0) throw new ConfigError(`${what}: "${text}" is negative (use -1 for unlimited)`);
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(n * Math.pow(1024, power));
}
