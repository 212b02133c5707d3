// Cgroups: the one interface the runtime uses to put a container's processes
// in a cgroup, limit them, freeze them, read their figures and clean up.
// v1 (one hierarchy per controller) and v2 (the unified hierarchy) are two
// implementations (v1.ts, v2.ts); none.ts stands in for rootless callers
// without a delegated cgroup. Which one is used is decided at run time.
import { readFileSync, statSync, existsSync } from 'fs';
import { join, posix } from 'path';
import type { Resources } from '../runtime/config/types';
import { ConfigError } from '../runtime/errors';
import type { CgroupStats } from './stats';

export type { CgroupStats } from './stats';
export type { Resources } from '../runtime/config/types';

export interface CgroupManager {
  readonly version: 1 | 2;
  /**
   * The container's cgroup path relative to the hierarchy root(s), e.g.
   * "/ccrun/<id>". With a relative cgroupsPath on v1 each hierarchy can
   * resolve it differently: see paths().
   */
  readonly path: string;
  /** Warnings to show the user once (e.g. rootless without limits, ignored kernel memory). */
  readonly warnings: string[];
  /** Directory of the cgroup per controller (v1) or { unified: dir } (v2). */
  paths(): Record<string, string>;
  /** Makes the cgroup and applies resources; removes what it made if that fails. */
  create(resources?: Resources): void;
  /** Moves pid (and, v1, into every hierarchy) into the cgroup. */
  addProcess(pid: number): void;
  /**
   * Files a single-threaded process joins the cgroup through by itself,
   * writing "0" into each (v1: `tasks`), or undefined when only addProcess
   * can. The kernel moves a thread that moves itself without taking its
   * global threadgroup lock, whose synchronize_rcu costs 10-25 ms here on
   * every create that writes a pid to cgroup.procs.
   */
  selfJoinFiles(): string[] | undefined;
  /** Changes the limits of a live cgroup; only the fields given are touched. */
  update(resources: Resources): void;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  frozen(): boolean;
  /** The one file whose text says whether the cgroup is frozen (frozenFromText), or undefined without a freezer. */
  freezeStateFile(): string | undefined;
  /**
   * The directory whose cgroup.procs (with those of the cgroups below it)
   * pids() reads, or undefined without a cgroup: saved at create so that `ps`
   * reads it without opening the cgroup.
   */
  procsDir(): string | undefined;
  /** Every process in the cgroup and the cgroups below it. */
  pids(): number[];
  /** Sends signal to every process in the cgroup (kill --all). */
  signalAll(signal: number): void;
  /** Kills what is left and removes the cgroup; idempotent. */
  destroy(): Promise<void>;
  /** Whether the cgroup directory exists. */
  exists(): boolean;
  stats(): CgroupStats;
  /** Processes killed by the OOM killer in this cgroup so far. */
  oomKillCount(): number;
}

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface OpenCgroupOptions {
  id: string;
  cgroupsPath?: string;
  rootless?: boolean;
  /** Where the cgroup filesystems are mounted (default /sys/fs/cgroup); tests pass a fake tree. */
  mountRoot?: string;
  /** The caller's /proc/self/cgroup text (default: read it); tests pass their own. */
  selfCgroup?: string;
  /** The caller's effective uid for the rootless delegation check (default process.geteuid()). */
  uid?: number;
}

export const DEFAULT_MOUNT_ROOT = '/sys/fs/cgroup';

/**
 * v2: the mount root is itself cgroup2 (it has cgroup.controllers).
 * hybrid: v1 controller hierarchies plus a cgroup2 mount at unified/ (controllers stay v1).
 * v1: v1 hierarchies only.
 */
export function detectCgroupMode(mountRoot = DEFAULT_MOUNT_ROOT): CgroupMode {
  if (existsSync(join(mountRoot, 'cgroup.controllers'))) return 'v2';
  if (existsSync(join(mountRoot, 'unified', 'cgroup.controllers'))) return 'hybrid';
  return 'v1';
}

/** Parses /proc/self/cgroup: "0::/a/b" -> { "": "/a/b" }, "4:memory:/x" -> { memory: "/x" }, "9:name=systemd:/" -> { "name=systemd": "/" }. */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[2] === '') out[''] = m[3];
    else for (const c of m[2].split(',')) out[c] = m[3];
  }
  return out;
}

/**
 * Checks a cgroupsPath and says whether it is relative. Refuses the systemd
 * driver's "slice:prefix:name" form and any ".." that could leave the root.
 */
export function checkCgroupsPath(cgroupsPath: string): { path: string; relative: boolean } {
  if (/^[^/:]*:[^:]*:[^:]*$/.test(cgroupsPath) && !cgroupsPath.startsWith('/')) {
    throw new ConfigError(
      `linux.cgroupsPath "${cgroupsPath}" is in the systemd "slice:prefix:name" form: the systemd cgroup driver is not supported; give a path such as "/mygroup/${cgroupsPath.split(':').pop()}"`,
    );
  }
  if (cgroupsPath.split('/').includes('..')) {
    throw new ConfigError(`linux.cgroupsPath "${cgroupsPath}" must not contain "..": give a path below the cgroup root`);
  }
  if (cgroupsPath.trim() === '' || cgroupsPath.includes('\0') || cgroupsPath.includes('\n')) {
    throw new ConfigError(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)} is not a usable cgroup path`);
  }
  const relative = !cgroupsPath.startsWith('/');
  const norm = posix.normalize(relative ? cgroupsPath : cgroupsPath).replace(/\/+$/, '');
  if (norm === '' || norm === '/' || norm === '.') {
    throw new ConfigError(`linux.cgroupsPath "${cgroupsPath}" names the cgroup root: give a path of the container's own cgroup`);
  }
  return { path: norm, relative };
}

/** Whether a freezeStateFile's text means frozen: v1 FROZEN or FREEZING (paused, as runc), v2 "1". */
export function frozenFromText(text: string | undefined): boolean {
  const t = text?.trim();
  return t === 'FROZEN' || t === 'FREEZING' || t === '1';
}

/** True when the resources ask for any limit (devices alone are not limits: rootless cannot create device nodes). */
export function requestsLimits(r: Resources | undefined): boolean {
  if (!r) return false;
  const some = (o: object | undefined): boolean => !!o && Object.values(o).some((v) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0));
  return (
    some(r.memory) ||
    some(r.cpu) ||
    some(r.pids) ||
    some(r.blockIO) ||
    (r.hugepageLimits?.length ?? 0) > 0 ||
    some(r.network) ||
    some(r.rdma) ||
    some(r.unified)
  );
}

/** The highest ancestor of own (inclusive) that uid owns: where a v2 delegation starts. */
function delegatedRoot(mountRoot: string, own: string, uid: number): string | undefined {
  let found: string | undefined;
  const parts = own.split('/').filter(Boolean);
  for (let i = parts.length; i >= 1; i--) {
    const rel = '/' + parts.slice(0, i).join('/');
    try {
      const st = statSync(join(mountRoot, rel));
      const procs = statSync(join(mountRoot, rel, 'cgroup.procs'));
      if (st.uid === uid && procs.uid === uid) found = rel;
      else break;
    } catch {
      break;
    }
  }
  return found;
}

export function openCgroup(opts: OpenCgroupOptions): CgroupManager {
  const mountRoot = opts.mountRoot ?? DEFAULT_MOUNT_ROOT;
  const mode = detectCgroupMode(mountRoot);
  const { path, relative } = checkCgroupsPath(opts.cgroupsPath ?? `/ccrun/${opts.id}`);
  const selfText = opts.selfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8');
  const self = parseProcCgroup(selfText);
  if (mode === 'v2') {
    /* eslint-disable @typescript-eslint/no-var-requires */
    const { CgroupV2 } = require('./v2') as typeof import('./v2');
    const own = self[''] ?? '/';
    if (opts.rootless) {
      const uid = opts.uid ?? process.geteuid?.() ?? 0;
      const root = delegatedRoot(mountRoot, own, uid);
      if (!root) {
        const { NoCgroup } = require('./none') as typeof import('./none');
        return new NoCgroup(
          path,
          `rootless: no delegated cgroup (the cgroup ${own} is not owned by uid ${uid}; systemd delegates user@${uid}.service): running without resource limits`,
        );
      }
      // Relative paths and the default go below the delegated cgroup, so the
      // same (id, cgroupsPath) always gives the same cgroup for this user.
      const full = relative ? posix.join(root, path) : opts.cgroupsPath ? path : posix.join(root, 'ccrun', opts.id);
      return new CgroupV2(mountRoot, full);
    }
    return new CgroupV2(mountRoot, relative ? posix.join(own, path) : path);
  }
  if (opts.rootless) {
    const { NoCgroup } = require('./none') as typeof import('./none');
    return new NoCgroup(path, 'rootless on cgroup v1: cgroups cannot be delegated to an unprivileged user, so the container runs without resource limits', 1);
  }
  const { CgroupV1 } = require('./v1') as typeof import('./v1');
  return new CgroupV1(mountRoot, path, relative ? self : undefined);
}

/**
 * Why an unprivileged caller would get no cgroup here (cgroup v1, or v2
 * without a delegated subtree), or undefined when it would get one: for
 * front ends that refuse limits before making anything.
 */
export function rootlessCgroupProblem(opts: Omit<OpenCgroupOptions, 'id' | 'rootless'> = {}): string | undefined {
  const cg = openCgroup({ ...opts, id: 'ccrun', rootless: true });
  const { NoCgroup } = require('./none') as typeof import('./none');
  if (!(cg instanceof NoCgroup)) return undefined;
  return cg.reason.replace(/(: running|, so the container runs) without resource limits$/, '');
}
