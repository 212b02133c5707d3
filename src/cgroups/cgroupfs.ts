// Small helpers to read and write cgroupfs files. Writes name the OCI field
// they come from, so a value the kernel rejects is reported against the
// config, not as a bare EINVAL.
import { readFileSync, writeFileSync, existsSync, readdirSync, rmdirSync, statSync } from 'fs';
import { join } from 'path';
import { ConfigError, HostError } from '../runtime/errors';

export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses "a number" or "max" (-> Infinity) files; undefined when missing. */
export function readNumber(file: string): number | undefined {
  const t = readText(file)?.trim();
  if (t === undefined || t === '') return undefined;
  if (t === 'max') return Infinity;
  const n = Number(t.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" per line files (memory.stat, cpu.stat, memory.events, ...). */
export function readKeyValues(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readText(file) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Test seam: sees every successful cgroup write, in order (a fake tree cannot record that write-only files like devices.allow were written several times). */
let writeObserver: ((path: string, value: string) => void) | undefined;
export function observeCgroupWrites(fn: ((path: string, value: string) => void) | undefined): void {
  writeObserver = fn;
}

/**
 * Writes one cgroup file. `field` is the OCI name of the value
 * ("linux.resources.memory.limit"), used in the error.
 */
export function writeCgroupFile(dir: string, file: string, value: string, field: string): void {
  const path = join(dir, file);
  if (!existsSync(path)) {
    throw new HostError(`${field}: this host cannot honour it (${path} does not exist: controller or kernel feature missing)`);
  }
  try {
    writeFileSync(path, value);
    writeObserver?.(path, value);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EINVAL' || err.code === 'ERANGE'
        ? 'the kernel rejected the value'
        : err.code === 'EBUSY'
          ? 'the cgroup is busy (for memory: usage is above the new limit)'
          : err.code === 'EPERM' || err.code === 'EACCES'
            ? 'permission denied'
            : err.code ?? err.message;
    const Err = err.code === 'EINVAL' || err.code === 'ERANGE' || err.code === 'EBUSY' ? ConfigError : HostError;
    throw new Err(`${field}: cannot write "${value.trim()}" to ${path}: ${why}`);
  }
}

/** The cgroup directories directly below dir (none when it cannot be read). */
function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${dir}/${e.name}`);
  } catch {
    return [];
  }
}

/** Every cgroup directory at or below dir, deepest first. */
export function cgroupTreeDeepestFirst(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const c of childCgroups(d)) walk(c);
    out.push(d);
  };
  if (isDir(dir)) walk(dir);
  return out;
}

/** Processes in cgroup.procs of dir and every cgroup below it. */
export function procsBelow(dir: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupTreeDeepestFirst(dir)) {
    for (const l of (readText(join(d, 'cgroup.procs')) ?? '').split('\n')) if (l.trim()) pids.add(Number(l));
  }
  return [...pids].sort((a, b) => a - b);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * rmdir a cgroup tree. The cgroup itself is tried first: a container's
 * cgroup rarely has children, and listing its control files (~30 per v1
 * controller) to find out cost more than the rmdir. The kernel answers EBUSY
 * both for child cgroups, removed first (deepest first), and for processes
 * that have only just exited, which is transient: retried briefly.
 */
export async function removeCgroupTree(dir: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // cgroupfs says EBUSY for child cgroups; a plain directory (a test's
      // fake cgroupfs) says ENOTEMPTY.
      const children = (code === 'EBUSY' || code === 'ENOTEMPTY') && Date.now() < deadline ? childCgroups(dir) : [];
      if (children.length > 0) {
        for (const c of children) await removeCgroupTree(c, Math.max(0, deadline - Date.now()));
        continue;
      }
      if (code === 'EBUSY' && Date.now() < deadline) {
        await sleep(20);
        continue;
      }
      throw new HostError(`cannot remove cgroup ${dir}: ${code ?? (e as Error).message}`);
    }
  }
}

/** Undoes a failed create: removes the directories it made, newest first (best effort: they were empty). */
export function removeMadeDirs(made: string[]): void {
  for (const d of [...made].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      /* best effort */
    }
  }
}

/** Signals each pid, ignoring the ones that exited meanwhile. */
export function signalPids(pids: number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
}
