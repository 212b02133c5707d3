// runc's `restore`: CRIU brings a checkpointed process tree back, with the
// same pids in its pid namespace, its memory and open files, into a new
// container of ccrun's: its own cgroup (with the config's limits), state.json
// (so state, kill, ps, delete work on it), and the hooks runc runs on restore.
// Everything is checked before anything is made; a restore that fails leaves
// no state, cgroup or mount behind.
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { join, resolve } from 'path';
import type { Spec } from './config/types';
import type { RootOverlay } from './plan';
import { checkContainerId, processStartTime, type SavedState } from './state';
import { openContainerCgroup, resourcesWithDefaultDevices } from './cgroup-link';
import { ConfigError, HostError, NotFoundError, StateError, UsageError } from './errors';
import { OCI_VERSION, type RuntimeContext } from './status';
import { native } from '../native';
import { runHooks, runHooksWarning, type HookState } from './hooks';
import { CHECKPOINT_META, externalMountDestinations, externalNamespaces, isBindMount, type CheckpointMeta } from './checkpoint';
import { RESTORE_LOG, criuFailure, isCriuImageDir, runCriu, sharedCriuArgs, type CriuSharedOptions } from './criu';

export interface RestoreOptions extends CriuSharedOptions {
  id: string;
  bundle: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  /** Replaces the bundle's config (the image front end restores from the one it kept). */
  spec?: Spec;
  /** The front end's overlay root, mounted for CRIU to restore into. */
  rootOverlay?: RootOverlay;
  extra?: Record<string, unknown>;
  /** The restored process's fds 0-2 (default: ours), as create's stdio. */
  stdio?: [number, number, number];
}

function readMeta(imagePath: string): CheckpointMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(join(imagePath, CHECKPOINT_META), 'utf8')) as CheckpointMeta;
  } catch {
    return undefined; // a dump made by runc: descriptors.json is all there is
  }
}

function readDescriptors(imagePath: string, meta: CheckpointMeta | undefined): string[] {
  if (meta) return meta.descriptors;
  try {
    return JSON.parse(fs.readFileSync(join(imagePath, 'descriptors.json'), 'utf8')) as string[];
  } catch {
    return [];
  }
}

function mountTool(args: string[], what: string): void {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new HostError(`${what}: mount ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
}

/**
 * Where CRIU restores the root from: the rootfs bind-mounted on a directory
 * of the container's state (as runc and crun do), or the front end's
 * overlay mounted there. Mount points of the config that a previous run made
 * are made again (a fresh overlay upper, a rootfs copied elsewhere).
 */
function mountRestoreRoot(dir: string, rootfs: string, spec: Spec, overlay: RootOverlay | undefined): void {
  fs.mkdirSync(dir, { mode: 0o700 });
  if (overlay) {
    const data = [`lowerdir=${overlay.lower.join(':')}`, `upperdir=${overlay.upper}`, `workdir=${overlay.work}`];
    if (overlay.userxattr) data.push('userxattr');
    // overlay.base: lower/upper/work are relative to it (the one-page mount data limit).
    const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', data.join(','), dir], { encoding: 'utf8', cwd: overlay.base });
    if (r.status !== 0) throw new HostError(`cannot mount the container's root overlay for the restore: ${(r.stderr || '').trim()}`);
  } else {
    mountTool(['--rbind', rootfs, dir], 'cannot bind the rootfs for the restore');
  }
  const tmpfsDirs = (spec.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => m.destination);
  for (const m of spec.mounts ?? []) {
    if (m.type === 'cgroup' || m.type === 'cgroup2') continue;
    if (tmpfsDirs.some((t) => m.destination.startsWith(`${t}/`))) continue; // CRIU restores the tmpfs with what was in it
    const at = join(dir, m.destination);
    if (fs.existsSync(at)) continue;
    try {
      const isFile = isBindMount(m) && m.source !== undefined && fs.statSync(m.source).isFile();
      if (isFile) {
        fs.mkdirSync(join(at, '..'), { recursive: true });
        fs.writeFileSync(at, '');
      } else fs.mkdirSync(at, { recursive: true });
    } catch {
      /* a read-only root: CRIU says which mount point it missed */
    }
  }
}

/** The restore's checks, before anything is made. */
function checkRestore(ctx: RuntimeContext, o: RestoreOptions, spec: Spec): void {
  checkContainerId(o.id);
  if ((process.geteuid?.() ?? 0) !== 0) throw new HostError(`cannot restore container "${o.id}": CRIU needs root (run ccrun restore as root)`);
  if (ctx.store.exists(o.id)) throw new StateError(`cannot restore container "${o.id}": container "${o.id}" already exists (delete it, or restore under another id)`);
  if (!fs.existsSync(o.imagePath)) throw new NotFoundError(`--image-path ${o.imagePath} does not exist (give the directory ccrun checkpoint wrote)`);
  if (!isCriuImageDir(o.imagePath)) throw new UsageError(`--image-path ${o.imagePath} is not a checkpoint: it has no CRIU inventory.img (give the directory ccrun checkpoint wrote)`);
  if (!spec.root?.path) throw new ConfigError('config.json: root.path is required to restore a container');
  if (o.consoleSocket !== undefined || spec.process?.terminal) {
    throw new ConfigError(`cannot restore container "${o.id}" with a terminal: not supported yet (checkpoint containers without process.terminal)`);
  }
}

/** The criu restore command line, and the fds criu gets: ours 0-2, then each inherited one. */
function restoreArgs(o: RestoreOptions & { workPath: string }, spec: Spec, meta: CheckpointMeta | undefined, root: string, cgroupPath: string, pidFile: string, nsFds: { fd: number; key: string }[]): string[] {
  const args = ['restore', ...sharedCriuArgs(o, RESTORE_LOG), '--root', root, '--restore-detached', '--pidfile', pidFile];
  if (cgroupPath) args.push('--cgroup-root', cgroupPath);
  // Keys as dumped (meta) or, for a runc dump, the config's bind mounts.
  const dests = meta?.externalMounts ?? externalMountDestinations(spec);
  for (const m of spec.mounts ?? []) {
    if (!isBindMount(m) || !m.source) continue;
    const dest = m.destination.replace(/\/+$/, '') || '/';
    if (dests.includes(dest)) args.push('--external', `mnt[${dest}]:${resolve(o.bundle, m.source)}`);
  }
  const descriptors = readDescriptors(o.imagePath, meta);
  descriptors.forEach((d, fd) => {
    // A pipe the init wrote to is ours now (runc: the caller's stdio); a file outside is our fd.
    if (d.startsWith('pipe:')) args.push('--inherit-fd', `fd[${fd}]:${d}`);
    const ext = meta?.externalFiles[String(fd)];
    if (ext) args.push('--inherit-fd', `fd[${fd}]:${ext}`);
  });
  for (const n of nsFds) args.push('--inherit-fd', `fd[${n.fd}]:${n.key}`);
  return args;
}

/** Restores the checkpoint in opts.imagePath as container opts.id; returns its saved state. */
export async function restoreContainer(ctx: RuntimeContext, opts: RestoreOptions): Promise<SavedState> {
  const imagePath = resolve(opts.imagePath);
  let spec: Spec;
  let bundle: string;
  if (opts.spec) {
    spec = opts.spec;
    bundle = resolve(opts.bundle);
  } else {
    const { loadBundleConfig } = require('./config/load') as typeof import('./config/load');
    ({ spec, bundle } = loadBundleConfig(opts.bundle));
  }
  const o = { ...opts, imagePath, bundle, workPath: resolve(opts.workPath ?? opts.imagePath) };
  checkRestore(ctx, o, spec);
  const meta = readMeta(imagePath);
  const rootfs = resolve(bundle, spec.root!.path);
  if (!o.rootOverlay && !fs.existsSync(rootfs)) throw new NotFoundError(`root.path ${rootfs} does not exist`);
  const rootless = false;
  const cgroup = openContainerCgroup({ id: o.id, cgroupsPath: spec.linux?.cgroupsPath, rootless });
  const nsFds: { fd: number; key: string }[] = [];
  const dir = ctx.store.reserve(o.id);
  const root = join(dir, 'criu-root');
  let mounted = false;
  let cgroupMade = false;
  const opened: number[] = [];
  try {
    for (const ns of externalNamespaces(spec)) {
      let fd: number;
      try {
        fd = fs.openSync(ns.path, 'r');
      } catch (e) {
        throw new NotFoundError(`linux.namespaces: cannot open the ${ns.type} namespace ${ns.path}: ${(e as Error).message}`);
      }
      opened.push(fd);
      nsFds.push({ fd: 3 + nsFds.length, key: ns.key });
    }
    cgroup.create(resourcesWithDefaultDevices(spec, rootless));
    cgroupMade = true;
    for (const w of cgroup.warnings) ctx.warn(w);
    mountRestoreRoot(root, rootfs, spec, o.rootOverlay);
    mounted = true;
    fs.mkdirSync(o.workPath, { recursive: true, mode: 0o700 });
    const pidFile = join(dir, 'criu-restore.pid');
    const args = restoreArgs(o, spec, meta, root, cgroup.path, pidFile, nsFds);
    const stdio = [...(o.stdio ?? [0, 1, 2]), ...opened];
    // In the foreground the restored init must become our child, as with
    // runc: criu restores it detached, and it is reparented to a subreaper.
    if (!o.detach) native().setChildSubreaper();
    const run = runCriu(args, join(o.workPath, RESTORE_LOG), stdio);
    if (!run.ok) throw new HostError(criuFailure(`cannot restore container "${o.id}" from ${imagePath}`, run));
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    const pidStartTime = processStartTime(pid);
    if (!pid || !pidStartTime) throw new StateError(`container "${o.id}": the restored init exited at once (see ${join(o.workPath, RESTORE_LOG)})`);
    const state: SavedState = {
      ociVersion: OCI_VERSION,
      id: o.id,
      pid,
      pidStartTime,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: 'root',
      annotations: spec.annotations,
      cgroup: { cgroupsPath: spec.linux?.cgroupsPath, rootless },
      namespaces: (spec.linux?.namespaces ?? []).map((n) => n.type),
      process: spec.process,
      hooks: spec.hooks,
      seccomp: spec.linux?.seccomp,
      started: true,
      extra: o.extra,
    };
    ctx.store.save(state);
    fs.rmSync(pidFile, { force: true });
    // runc runs these when CRIU has made the namespaces ("setup-namespaces"),
    // before the processes run again; through CRIU's command line they run
    // here, just after. A failure ends the restored container.
    const hookState = (status: HookState['status']): HookState => ({ ociVersion: OCI_VERSION, id: o.id, status, pid, bundle, annotations: spec.annotations });
    try {
      runHooks('prestart', spec.hooks, hookState('created'));
      runHooks('createRuntime', spec.hooks, hookState('created'));
    } catch (e) {
      process.kill(pid, 'SIGKILL');
      throw e;
    }
    runHooksWarning('poststart', spec.hooks, hookState('running'), ctx.warn);
    if (o.pidFile) fs.writeFileSync(o.pidFile, String(pid));
    return state;
  } catch (e) {
    if (cgroupMade) await cgroup.destroy().catch(() => undefined);
    // Unmounted first: the state directory is removed recursively, and the rootfs is mounted in it.
    if (mounted) unmount(root);
    mounted = false;
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    for (const fd of opened) fs.closeSync(fd);
    if (mounted) unmount(root);
    try {
      fs.rmdirSync(root);
    } catch {
      /* removed with the state directory */
    }
  }
}

/** A foreground restore (no --detach): forward signals to the restored init,
 * wait for it (ours: we were its subreaper), then delete it, as runc's restore
 * does; returns its exit status as `run` does (code, or 128+signal). */
export async function waitRestored(ctx: RuntimeContext, state: SavedState): Promise<number> {
  const { FORWARDED_SIGNALS, deleteContainer } = require('./container') as typeof import('./container');
  const forward = (sig: NodeJS.Signals): void => {
    try {
      process.kill(state.pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  let code: number | null = null;
  try {
    while ((code = native().waitpid(state.pid, false)) === null) await new Promise((r) => setTimeout(r, 50));
  } catch {
    // Not our child after all (reparented elsewhere): wait for it to go, status unknown.
    const { isSameProcessAlive } = require('./state') as typeof import('./state');
    while (isSameProcessAlive(state.pid, state.pidStartTime)) await new Promise((r) => setTimeout(r, 100));
    code = 0;
  } finally {
    for (const s of FORWARDED_SIGNALS) process.removeListener(s, forward);
  }
  await deleteContainer(ctx, state.id, true);
  return code;
}
