// `ccrun run IMAGE`: a container record from the image and the request,
// then the container run in the foreground (exit code as ours) or detached
// under the runtime helper as its monitor (output to the log file, exit code kept).
import * as fs from 'fs';
import { join } from 'path';
import type { RuntimeContext } from '../runtime/container';
import type { CgroupManager } from '../cgroups';
import { ImageStore } from '../image/store';
import { ContainerRecords, checkContainerName, newContainerId, randomName, type ContainerRecord } from './records';
import { applyRunRequest, checkRunRequest, type RunRequest } from './spec';
import { StateError, UsageError } from '../runtime/errors';

export interface FrontendContext {
  runtime: RuntimeContext;
  /** The image store root (containers live in it); undefined: the default. */
  storeRoot?: string;
  /** argv prefix that runs ccrun with the same global options (for the detached monitor). */
  selfCommand: string[];
  warn: (m: string) => void;
  debug?: (m: string) => void;
}

export function imageStore(fx: FrontendContext): ImageStore {
  return new ImageStore(fx.storeRoot);
}

export function records(fx: FrontendContext): ContainerRecords {
  return new ContainerRecords(imageStore(fx).root);
}

let copyWarned = false;

/**
 * Makes the container (record, upper dir, /etc files, image volumes) from the
 * request; nothing is left on failure. For an unprivileged user the store is
 * rootless (its layers and the overlay use user.overlay.* xattrs) and the
 * spec gets a user namespace mapping root to the user (spec.ts).
 */
export async function createFromImage(fx: FrontendContext, req: RunRequest, id = newContainerId()): Promise<ContainerRecord> {
  checkRunRequest(req);
  if (req.name !== undefined) checkContainerName(req.name);
  const store = imageStore(fx);
  const { findOrPullImage, overlayUnavailable, rootOverlayFor, extractUserDb, copyRoot, prepareWorkdir } = await import('./image-root');
  const { readImageConfig, ensureLayersUnpacked, imageConfigToSpec } = await import('../image/bundle');
  const rec = await findOrPullImage({ store, ref: req.image, pull: req.pull, platform: req.platform, progressOut: () => process.stderr, warn: fx.warn, debug: fx.debug });
  const config = readImageConfig(store, rec);
  await ensureLayersUnpacked(store, rec);
  const recs = new ContainerRecords(store.root);
  return store.withLock('containers', async () => {
    const taken = new Set(recs.list().map((r) => r.name));
    if (req.name !== undefined && taken.has(req.name)) {
      const other = recs.find(req.name)!;
      throw new StateError(`the container name "${req.name}" is already in use by container ${other.id.slice(0, 12)}: remove it (ccrun rm ${req.name}) or choose another name`);
    }
    const name = req.name ?? randomName(taken);
    const net = await import('./network');
    if (req.hostname !== undefined && net.networkMode(req.network) === 'container') {
      throw new UsageError(`--hostname cannot be used with --network ${req.network}: the container has the hostname of the one whose network it joins`);
    }
    let hostname = req.hostname ?? id.slice(0, 12);
    const network = await net.resolveNetwork(fx, req, hostname, config.config?.ExposedPorts);
    // --network container:X: X's hostname and its /etc/hosts and resolv.conf (live: bound from X's), as Docker.
    const joined = network.container !== undefined ? recs.read(network.container) : undefined;
    if (joined) hostname = network.hostname = joined.spec.hostname ?? hostname;
    const cdir = recs.containerDir(id);
    fs.mkdirSync(recs.dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(cdir, { mode: 0o700 });
    try {
      for (const d of ['upper', 'work', 'merged', 'etc']) fs.mkdirSync(join(cdir, d), { mode: 0o755 });
      extractUserDb(store, rec, join(cdir, 'userdb'));
      const entrypoint = req.entrypoint === undefined ? undefined : req.entrypoint === '' ? [] : [req.entrypoint];
      const spec = imageConfigToSpec(config, join(cdir, 'userdb'), {
        entrypoint,
        cmd: req.command.length ? req.command : undefined,
        env: (await import('./spec')).parseEnvEntries(req.env, req.envFiles),
        user: req.user,
        workdir: req.workdir,
      }, { rootPath: join(cdir, 'merged') });
      (require('../runtime/remove-dir') as typeof import('../runtime/remove-dir')).removeDirectory(join(cdir, 'userdb'));
      const etcDir = join(joined ? recs.containerDir(joined.id) : cdir, 'etc');
      const files = {
        hostname: join(etcDir, 'hostname'),
        hosts: join(etcDir, 'hosts'),
        resolvConf: join(etcDir, 'resolv.conf'),
        netns: network.mode === 'cni' ? net.netnsPath(fx, id) : undefined,
      };
      if (!joined) {
        const etc = net.initialEtcFiles(network);
        fs.writeFileSync(files.hostname, `${hostname}\n`);
        fs.writeFileSync(files.hosts, etc.hosts);
        fs.writeFileSync(files.resolvConf, etc.resolvConf);
      }
      applyRunRequest(spec, { ...req, hostname }, id, files);
      (await import('./volumes')).makeImageVolumes(store, rec, cdir, spec);
      let rootOverlay;
      const noOverlay = overlayUnavailable(store.layerFormat.rootless);
      if (noOverlay === undefined) {
        rootOverlay = rootOverlayFor(store, rec, cdir);
        prepareWorkdir(store, rec, cdir, spec.process!.cwd ?? '/');
      } else {
        if (!copyWarned) process.stderr.write(`ccrun: ${noOverlay}: each container gets a full copy of the image\n`);
        copyWarned = true;
        await copyRoot(store, rec, join(cdir, 'merged'));
      }
      const record: ContainerRecord = {
        id,
        name,
        image: req.image,
        imageId: rec.configDigest,
        command: spec.process!.args ?? [],
        created: new Date().toISOString(),
        spec,
        rootOverlay,
        autoRemove: req.autoRemove,
        interactive: req.interactive,
        stopSignal: config.config?.StopSignal ?? 'SIGTERM',
        network,
      };
      recs.write(record);
      return record;
    } catch (e) {
      recs.remove(id);
      throw e;
    }
  });
}

/**
 * The runtime container of a record, made afresh (the state a previous run
 * left, if any, goes first): its kept root, its spec, how it is run.
 */
async function createFromRecord(
  fx: FrontendContext,
  rec: ContainerRecord,
  how: Pick<import('../runtime/container').CreateOptions, 'stdio' | 'wait' | 'ownTerminal' | 'monitor'>,
): Promise<import('../runtime/container').Created> {
  const { createContainer, deleteContainer } = await import('../runtime/container');
  const { attachNetwork, attachPasta, joinContainerSpec, releaseNetwork, heldPortFds, closeHeldPorts } = await import('./network');
  if (fx.runtime.store.exists(rec.id)) await deleteContainer(fx.runtime, rec.id, true);
  // The network namespace the spec names exists before the runtime joins it;
  // its networks come up while the container is created (the command starts
  // only after both). Hooks that run at create might want the network: then
  // it is waited for first.
  const attaching = await attachNetwork(fx, rec);
  let created: import('../runtime/container').Created | undefined;
  try {
    if (attaching && rec.spec.hooks && Object.keys(rec.spec.hooks).length) await attaching.added;
    created = await createContainer(fx.runtime, {
      ...how,
      // A monitor holds the host ports as long as the container runs; this process lets go of them then.
      monitor: how.monitor && { ...how.monitor, holdFds: heldPortFds(rec.id) },
      id: rec.id,
      bundle: records(fx).containerDir(rec.id),
      spec: rec.network?.mode === 'container' ? joinContainerSpec(fx, rec) : await attachPasta(fx, rec),
      rootOverlay: rec.rootOverlay,
      extra: { frontend: true, name: rec.name, image: rec.image },
    });
    await attaching?.added;
    if (how.monitor) closeHeldPorts(rec.id);
    return created;
  } catch (e) {
    if (created) await deleteContainer(fx.runtime, rec.id, true).catch(() => undefined);
    // Nothing is released while plugins may still be adding to it. A
    // network that failed is the cause to report: its release may have made
    // the create fail too (the namespace went away under it).
    const networkError = await attaching?.added.then(
      () => undefined,
      (err: unknown) => err,
    );
    await releaseNetwork(fx, rec.id);
    throw networkError ?? e;
  }
}

async function releaseNetworkOf(fx: FrontendContext, id: string): Promise<void> {
  await (await import('./network')).releaseNetwork(fx, id);
}

/**
 * Everything a container that stopped holds but its record: its network
 * (CNI DEL, the namespace), then its runtime state. The runtime state goes
 * last: the stale-network reaper takes a container without one, whose
 * attacher is gone, as released or abandoned.
 */
async function releaseStopped(fx: FrontendContext, id: string, name: string, deleteRuntime: boolean, cgroup?: CgroupManager): Promise<void> {
  await releaseNetworkOf(fx, id);
  if (!deleteRuntime) return;
  const { deleteContainer } = await import('../runtime/container');
  await deleteContainer(fx.runtime, id, true, cgroup).catch((e: Error) => fx.warn(`removing the runtime state of ${name}: ${e.message}`));
}

/** Signals a foreground run passes on to the container (as the runtime's run). */
async function forwardedSignals(): Promise<NodeJS.Signals[]> {
  return (await import('../runtime/container')).FORWARDED_SIGNALS;
}

export interface StartHooks {
  /** Called once the command runs (or with the error that stopped it). */
  onStarted?: (err?: Error) => void;
}

/**
 * Runs the container's command once, in the foreground of this process:
 * create, start, forward signals, wait, record the exit, delete the runtime
 * state (and, with --rm, everything). Returns the exit code.
 */
export async function runOnce(fx: FrontendContext, rec: ContainerRecord, hooks: StartHooks = {}): Promise<number> {
  const { startContainer, deleteContainer } = await import('../runtime/container');
  const ctx = fx.runtime;
  const recs = records(fx);
  const startedAt = new Date().toISOString();
  let launched;
  let terminal: number | undefined;
  // The container's cgroup as create opened it: the delete below need not find it again.
  let cgroup: CgroupManager;
  // Without -i the command reads nothing of ours, as with docker run.
  const devNull = rec.interactive ? undefined : fs.openSync('/dev/null', 'r');
  try {
    ({ launched, terminal, cgroup } = await createFromRecord(fx, rec, {
      stdio: devNull === undefined ? undefined : [devNull, 1, 2],
      wait: true,
      ownTerminal: Boolean(rec.spec.process?.terminal),
    }));
  } catch (e) {
    hooks.onStarted?.(e as Error);
    throw e;
  } finally {
    if (devNull !== undefined) fs.closeSync(devNull);
  }
  recs.writeRunner(rec.id, process.pid);
  const pid = launched.pid;
  const forward = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  const signals = await forwardedSignals();
  for (const s of signals) process.on(s, forward);
  // Before start, so the command sees the user's window size from its first line.
  const relay = terminal !== undefined ? (await import('../runtime/terminal')).relayTerminal(terminal, { input: Boolean(rec.interactive) }) : undefined;
  try {
    try {
      await startContainer(ctx, rec.id);
    } catch (e) {
      await relay?.finish(0);
      hooks.onStarted?.(e as Error);
      await deleteContainer(ctx, rec.id, true, cgroup).catch(() => undefined);
      await releaseNetworkOf(fx, rec.id);
      throw e;
    }
    hooks.onStarted?.();
    const code = await launched.exited();
    await relay?.finish();
    try {
      recs.writeExit(rec.id, { exitCode: code, startedAt, finishedAt: new Date().toISOString() });
    } catch {
      /* removed meanwhile (rm -f) */
    }
    await releaseStopped(fx, rec.id, rec.name, true, cgroup);
    if (rec.autoRemove) recs.remove(rec.id);
    return code;
  } finally {
    for (const s of signals) process.removeListener(s, forward);
  }
}

/** Foreground `ccrun run IMAGE`: a failed first start leaves nothing behind. */
export async function runForeground(fx: FrontendContext, rec: ContainerRecord): Promise<number> {
  let started = false;
  try {
    return await runOnce(fx, rec, { onStarted: (err) => (started = !err) });
  } catch (e) {
    if (!started) records(fx).remove(rec.id);
    throw e;
  }
}

/**
 * Starts the container's command detached: the runtime's helper stays as
 * the container's parent (a small C monitor, native/init/monitor.c) with the
 * output going to the log file, and runs `ccrun start ID --exited` when the
 * command exits. No Node process stays behind for the container.
 */
export async function startMonitored(fx: FrontendContext, rec: ContainerRecord): Promise<void> {
  const { startContainer, deleteContainer } = await import('../runtime/container');
  const ctx = fx.runtime;
  const log = fs.openSync(records(fx).logPath(rec.id), 'a', 0o600);
  const devNull = fs.openSync('/dev/null', 'r');
  let created: import('../runtime/container').Created;
  try {
    created = await createFromRecord(fx, rec, {
      stdio: [devNull, log, log],
      monitor: { keepStdin: Boolean(rec.interactive), exitCommand: [...fx.selfCommand, 'start', rec.id, '--exited', '{code}', '--init-pid', '{pid}'] },
    });
  } finally {
    fs.closeSync(log);
    fs.closeSync(devNull);
  }
  // The monitor records the exit (its exit command runs as the same pid).
  records(fx).writeRunner(rec.id, created.launched.helperPid);
  try {
    await startContainer(ctx, rec.id);
  } catch (e) {
    await deleteContainer(ctx, rec.id, true).catch(() => undefined);
    await releaseNetworkOf(fx, rec.id);
    throw e;
  }
}

/**
 * `ccrun start ID --exited CODE --init-pid PID`, run by the monitor once the
 * command exited: record the exit, remove the runtime state (and, with --rm,
 * everything). Nothing is done when the container was started again since
 * (its runtime state belongs to another init).
 */
export async function containerExited(fx: FrontendContext, id: string, code: number, initPid: number): Promise<void> {
  const ctx = fx.runtime;
  const recs = records(fx);
  const saved = ctx.store.exists(id) ? ctx.store.load(id) : undefined;
  if (saved && saved.pid !== initPid) return;
  const rec = recs.read(id);
  if (!rec) return;
  try {
    recs.writeExit(id, { exitCode: code, startedAt: saved?.created, finishedAt: new Date().toISOString() });
  } catch {
    /* removed meanwhile (rm -f) */
  }
  await releaseStopped(fx, id, rec.name, saved !== undefined);
  if (rec.autoRemove) recs.remove(id);
}

/** `ccrun run -d IMAGE`: a failure at any point leaves nothing behind. */
export async function runDetached(fx: FrontendContext, req: RunRequest): Promise<ContainerRecord> {
  const rec = await createFromImage(fx, req);
  try {
    await startMonitored(fx, rec);
  } catch (e) {
    records(fx).remove(rec.id);
    throw e;
  }
  return rec;
}
