// runc's `checkpoint`: CRIU dumps the container's process tree (memory,
// open files, namespaces, mounts, cgroup membership) into an image
// directory, and unless --leave-running the container is then gone, as
// runc destroys it. A dump that fails leaves the container running (CRIU
// thaws it) and removes what this dump wrote.
import * as fs from 'fs';
import { join, resolve } from 'path';
import type { Mount, Spec } from './config/types';
import { checkContainerId, type SavedState } from './state';
import { openContainerCgroup } from './cgroup-link';
import { ConfigError, HostError, StateError, UsageError, containerNotFound } from './errors';
import { observe, type RuntimeContext } from './status';
import {
  DESCRIPTORS_FILE,
  DUMP_LOG,
  EXTERNAL_NETNS_KEY,
  EXTERNAL_PIDNS_KEY,
  checkManageCgroupsMode,
  criuFailure,
  externalFileKey,
  mountIds,
  runCriu,
  sharedCriuArgs,
  stdioDescriptors,
  type CriuSharedOptions,
} from './criu';

/** ccrun's own note next to CRIU's images: what restore needs beyond them. */
export const CHECKPOINT_META = 'ccrun-checkpoint.json';

export interface CheckpointMeta {
  /** The id the container had. */
  id: string;
  /** Where fds 0-2 pointed (also in descriptors.json, runc's form). */
  descriptors: string[];
  /** fd -> CRIU key of a stdio file outside the container, dumped as external. */
  externalFiles: Record<string, string>;
  /** The config it ran with (the front end restores from it; runc's restore reads the bundle's). */
  spec: Spec;
  /** Mount destinations dumped as external bind mounts (the restore maps each to its source). */
  externalMounts: string[];
}

export interface CheckpointOptions extends CriuSharedOptions {
  id: string;
  leaveRunning?: boolean;
  preDump?: boolean;
  /** A previous (pre-)dump, relative to imagePath as CRIU wants it. */
  parentPath?: string;
  /** The container's config when its bundle has none (the image front end's). */
  spec?: Spec;
}

export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** Bind mounts come from outside the container: CRIU records them by destination, the restore says where from. */
export function externalMountDestinations(spec: Spec): string[] {
  return (spec.mounts ?? []).filter(isBindMount).map((m) => m.destination.replace(/\/+$/, '') || '/');
}

/** The namespaces the container joined by path: CRIU leaves them out of the dump, under runc's keys. */
export function externalNamespaces(spec: Spec): { type: 'network' | 'pid'; path: string; key: string }[] {
  const out: { type: 'network' | 'pid'; path: string; key: string }[] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!ns.path) continue;
    if (ns.type === 'network') out.push({ type: 'network', path: ns.path, key: EXTERNAL_NETNS_KEY });
    if (ns.type === 'pid') out.push({ type: 'pid', path: ns.path, key: EXTERNAL_PIDNS_KEY });
  }
  return out;
}

function specOf(saved: SavedState, given: Spec | undefined): Spec {
  if (given) return given;
  const { loadBundleConfig } = require('./config/load') as typeof import('./config/load');
  return loadBundleConfig(saved.bundle).spec;
}

/** Refusals that need no CRIU: not root, a terminal (its pty is the caller's), a bad parent path. */
function checkCheckpointable(id: string, spec: Spec, opts: CheckpointOptions): void {
  if ((process.geteuid?.() ?? 0) !== 0) throw new HostError(`cannot checkpoint container "${id}": CRIU needs root (run ccrun checkpoint as root)`);
  if (spec.process?.terminal && !opts.shellJob) {
    throw new ConfigError(`cannot checkpoint container "${id}": its process has a terminal, which ccrun cannot hand back on restore yet (run it without process.terminal)`);
  }
  if (opts.parentPath !== undefined) {
    if (opts.parentPath.startsWith('/')) throw new UsageError('--parent-path must be relative to --image-path (e.g. ../pre-dump), as CRIU reads it');
    if (!fs.existsSync(resolve(opts.imagePath, opts.parentPath))) throw new UsageError(`--parent-path ${opts.parentPath}: no such directory next to ${opts.imagePath}`);
  }
  checkManageCgroupsMode(opts.manageCgroupsMode);
}

/** The criu dump (or pre-dump) command line for this container. */
function dumpArgs(o: { saved: SavedState; spec: Spec; opts: CheckpointOptions; freezer?: string; externalFiles: string[] }): string[] {
  const { saved, spec, opts } = o;
  const args = [opts.preDump ? 'pre-dump' : 'dump', '--tree', String(saved.pid), ...sharedCriuArgs(opts, DUMP_LOG)];
  if (saved.rootfs) args.push('--root', saved.rootfs);
  if (o.freezer) args.push('--freeze-cgroup', o.freezer);
  if (opts.preDump || opts.parentPath !== undefined) args.push('--track-mem');
  if (opts.parentPath !== undefined) args.push('--prev-images-dir', opts.parentPath);
  if (opts.leaveRunning || opts.preDump) args.push('--leave-running');
  for (const dest of externalMountDestinations(spec)) args.push('--external', `mnt[${dest}]:${dest}`);
  for (const ns of externalNamespaces(spec)) {
    const ino = fs.statSync(ns.path).ino;
    args.push('--external', `${ns.type === 'network' ? 'net' : 'pid'}[${ino}]:${ns.key}`);
  }
  for (const key of o.externalFiles) args.push('--external', key);
  return args;
}

/** Files in dir now, so a failed dump removes what it added and nothing else. */
function listing(dir: string): Set<string> {
  try {
    return new Set(fs.readdirSync(dir));
  } catch {
    return new Set();
  }
}

function makeDir(dir: string, what: string): boolean {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${what} ${dir} is not a directory`);
    return false;
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new HostError(`cannot make ${what} ${dir}: ${(e as Error).message}`);
  }
  return true;
}

/**
 * Dumps the container into opts.imagePath. Without leaveRunning (or with
 * preDump) the container is deleted afterwards, as runc does: its processes
 * were ended by CRIU, its cgroup and state go, poststop hooks run.
 */
export async function checkpointContainer(ctx: RuntimeContext, opts: CheckpointOptions): Promise<void> {
  checkContainerId(opts.id);
  if (!ctx.store.exists(opts.id)) throw containerNotFound(opts.id);
  const imagePath = resolve(opts.imagePath);
  const workPath = opts.workPath !== undefined ? resolve(opts.workPath) : undefined;
  const o = { ...opts, imagePath, workPath };
  const ended = await ctx.store.withLock(o.id, async () => {
    const seen = observe(ctx, o.id);
    if (seen.status !== 'running' && seen.status !== 'paused') {
      throw new StateError(`cannot checkpoint container "${o.id}": container not running (${seen.status})`);
    }
    const spec = specOf(seen.saved, o.spec);
    checkCheckpointable(o.id, spec, o);
    const madeImages = makeDir(imagePath, '--image-path');
    const madeWork = workPath !== undefined && makeDir(workPath, '--work-path');
    const before = listing(imagePath);
    const beforeWork = workPath !== undefined ? listing(workPath) : new Set<string>();
    const undo = (): void => {
      if (madeImages) fs.rmSync(imagePath, { recursive: true, force: true });
      else for (const f of listing(imagePath)) if (!before.has(f)) fs.rmSync(join(imagePath, f), { recursive: true, force: true });
      if (workPath !== undefined) {
        if (madeWork) fs.rmSync(workPath, { recursive: true, force: true });
        else for (const f of listing(workPath)) if (!beforeWork.has(f) && f !== DUMP_LOG) fs.rmSync(join(workPath, f), { recursive: true, force: true });
      }
    };
    try {
      const pid = seen.saved.pid;
      const descriptors = stdioDescriptors(pid);
      const inContainer = mountIds(pid);
      const externalFiles: Record<string, string> = {};
      for (let fd = 0; fd < 3; fd++) {
        const key = externalFileKey(pid, fd, inContainer);
        if (key) externalFiles[String(fd)] = key;
      }
      const cg = seen.saved.cgroup ? openContainerCgroup({ id: o.id, ...seen.saved.cgroup }) : undefined;
      const paths = cg?.paths() ?? {};
      const freezer = paths.unified ?? paths.freezer;
      const meta: CheckpointMeta = { id: o.id, descriptors, externalFiles, spec, externalMounts: externalMountDestinations(spec) };
      if (!o.preDump) {
        fs.writeFileSync(join(imagePath, DESCRIPTORS_FILE), JSON.stringify(descriptors));
        fs.writeFileSync(join(imagePath, CHECKPOINT_META), JSON.stringify(meta, null, 2));
      }
      const run = runCriu(dumpArgs({ saved: seen.saved, spec, opts: o, freezer, externalFiles: [...new Set(Object.values(externalFiles))] }), join(workPath ?? imagePath, DUMP_LOG));
      if (!run.ok) {
        // Kept where the user can read it: the image directory goes.
        if (run.logPath && !workPath) {
          const kept = join(ctx.store.dir(o.id), 'criu-dump.log');
          fs.copyFileSync(run.logPath, kept);
          run.logPath = kept;
        }
        throw new HostError(criuFailure(`cannot checkpoint container "${o.id}"`, run));
      }
    } catch (e) {
      undo();
      throw e;
    }
    return !o.leaveRunning && !o.preDump;
  });
  if (ended) {
    const { deleteContainer } = require('./container') as typeof import('./container');
    await deleteContainer(ctx, o.id, true);
  }
}
