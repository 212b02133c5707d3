// `ccrun run IMAGE`: a container record from the image and the request,
// then the container run in the foreground (exit code as ours) or detached
// under a small monitor process (output to the log file, exit code kept).
import * as fs from 'fs';
import { join } from 'path';
import { spawn } from 'child_process';
import type { RuntimeContext } from '../runtime/container';
import { ImageStore } from '../image/store';
import { ContainerRecords, checkContainerName, newContainerId, randomName, type ContainerRecord } from './records';
import { applyRunRequest, checkRunRequest, type RunRequest } from './spec';
import { StateError, CcrunError } from '../runtime/errors';

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

function hostsFile(network: 'none' | 'host', hostname: string): string {
  if (network === 'host') {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through to the generated one */
    }
  }
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
}

function resolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Makes the container (record, upper dir, /etc files) from the request; nothing is left on failure. */
export async function createFromImage(fx: FrontendContext, req: RunRequest, id = newContainerId()): Promise<ContainerRecord> {
  if ((process.geteuid?.() ?? 0) !== 0) {
    const { HostError } = await import('../runtime/errors');
    throw new HostError('ccrun run IMAGE needs root for now: image containers in a user namespace (rootless) are not supported yet (use ccrun bundle and ccrun run --bundle with ccrun spec --rootless)');
  }
  checkRunRequest(req);
  if (req.name !== undefined) checkContainerName(req.name);
  const store = imageStore(fx);
  const { findOrPullImage, overlayAvailable, rootOverlayFor, extractUserDb, copyRoot, prepareWorkdir } = await import('./image-root');
  const { readImageConfig, ensureLayersUnpacked, imageConfigToSpec } = await import('../image/bundle');
  const rec = await findOrPullImage({ store, ref: req.image, pull: req.pull, platform: req.platform, progressOut: process.stderr, warn: fx.warn, debug: fx.debug });
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
      fs.rmSync(join(cdir, 'userdb'), { recursive: true, force: true });
      const hostname = req.hostname ?? id.slice(0, 12);
      const files = { hostname: join(cdir, 'etc', 'hostname'), hosts: join(cdir, 'etc', 'hosts'), resolvConf: join(cdir, 'etc', 'resolv.conf') };
      fs.writeFileSync(files.hostname, `${hostname}\n`);
      fs.writeFileSync(files.hosts, hostsFile(req.network, hostname));
      fs.writeFileSync(files.resolvConf, resolvConf());
      applyRunRequest(spec, req, id, files);
      let rootOverlay;
      if (overlayAvailable()) {
        rootOverlay = rootOverlayFor(store, rec, cdir);
        prepareWorkdir(store, rec, cdir, spec.process!.cwd ?? '/');
      } else {
        if (!copyWarned) process.stderr.write('ccrun: overlayfs is not available on this host: each container gets a full copy of the image\n');
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
        stopSignal: config.config?.StopSignal ?? 'SIGTERM',
      };
      recs.write(record);
      return record;
    } catch (e) {
      fs.rmSync(cdir, { recursive: true, force: true });
      throw e;
    }
  });
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
  const { createContainer, startContainer, deleteContainer } = await import('../runtime/container');
  const ctx = fx.runtime;
  const recs = records(fx);
  const cdir = recs.containerDir(rec.id);
  const startedAt = new Date().toISOString();
  let launched;
  let terminal: number | undefined;
  try {
    if (ctx.store.exists(rec.id)) await deleteContainer(ctx, rec.id, true);
    ({ launched, terminal } = await createContainer(ctx, {
      id: rec.id,
      bundle: cdir,
      spec: rec.spec,
      rootOverlay: rec.rootOverlay,
      wait: true,
      ownTerminal: Boolean(rec.spec.process?.terminal),
      extra: { frontend: true, name: rec.name, image: rec.image },
    }));
  } catch (e) {
    hooks.onStarted?.(e as Error);
    throw e;
  }
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
  const relay = terminal !== undefined ? (await import('../runtime/terminal')).relayTerminal(terminal) : undefined;
  try {
    try {
      await startContainer(ctx, rec.id);
    } catch (e) {
      await relay?.finish(0);
      hooks.onStarted?.(e as Error);
      await deleteContainer(ctx, rec.id, true).catch(() => undefined);
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
    await deleteContainer(ctx, rec.id, true).catch((e: Error) => fx.warn(`removing the runtime state of ${rec.name}: ${e.message}`));
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
 * A detached monitor (`ccrun start --monitor ID`, its own session, stdout and
 * stderr to `logPath`). It is spawned before the container exists so its
 * start-up overlaps the caller's work; it loads what it needs, then waits
 * for "go" on fd 3 and answers "ok" once the command runs (or the error).
 */
export interface MonitorHandle {
  /** Lets the monitor run the container; resolves once the command runs, or throws its error. */
  go(name: string): Promise<void>;
  /** Sends the monitor away (the container could not be made). */
  abort(): void;
}

export function spawnMonitor(fx: FrontendContext, id: string, logPath: string): MonitorHandle {
  const log = fs.openSync(logPath, 'a', 0o600);
  const child = spawn(fx.selfCommand[0], [...fx.selfCommand.slice(1), 'start', '--monitor', id], {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
  });
  fs.closeSync(log);
  const sock = child.stdio[3] as import('net').Socket;
  let said = '';
  sock.on('data', (d: Buffer) => (said += d.toString()));
  const ended = new Promise<void>((resolve) => {
    sock.on('end', resolve);
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    child.on('error', () => resolve());
  });
  const release = (): void => {
    child.unref();
    sock.destroy();
  };
  return {
    async go(name: string): Promise<void> {
      sock.write('go\n');
      await ended;
      release();
      if (said.startsWith('ok')) return;
      throw new CcrunError(said.replace(/^error: /, '').trim() || `the monitor of container ${name} exited before the container started (see ccrun logs ${name})`);
    },
    abort(): void {
      release();
    },
  };
}

/** `ccrun start NAME`: the command again, detached, on the kept root. */
export async function startDetached(fx: FrontendContext, rec: ContainerRecord): Promise<void> {
  await spawnMonitor(fx, rec.id, records(fx).logPath(rec.id)).go(rec.name);
}

/** The detached monitor's body: wait for "go" on fd 3, run once, say how the start went. */
export async function monitorMain(fx: FrontendContext, id: string): Promise<number> {
  const net = await import('net');
  const sock = new net.Socket({ fd: 3, readable: true, writable: true });
  let told = false;
  const tell = (text: string): void => {
    if (told) return;
    told = true;
    sock.end(text, () => sock.destroy());
  };
  // Loaded while the caller still makes the container.
  await import('../runtime/container');
  await import('../runtime/default-seccomp');
  const go = await new Promise<boolean>((resolve) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.startsWith('go'));
    });
    sock.on('end', () => resolve(false));
    sock.on('error', () => resolve(false));
  });
  if (!go) {
    sock.destroy();
    return 1;
  }
  const rec = records(fx).read(id);
  if (!rec) {
    tell(`error: container ${id} does not exist`);
    return 1;
  }
  try {
    return await runOnce(fx, rec, { onStarted: (err) => tell(err ? `error: ${err.message}` : 'ok\n') });
  } catch (e) {
    tell(`error: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * `ccrun run -d IMAGE`: the monitor starts at once (its start-up overlaps
 * making the container); a failure at any point leaves nothing behind.
 */
export async function runDetached(fx: FrontendContext, req: RunRequest): Promise<ContainerRecord> {
  const recs = records(fx);
  const id = newContainerId();
  fs.mkdirSync(recs.dir, { recursive: true, mode: 0o700 });
  // The log is opened before the container's directory exists, then moved
  // into it: the monitor's descriptor follows the rename.
  const early = join(recs.dir, `.log-${id}`);
  const monitor = spawnMonitor(fx, id, early);
  let rec: ContainerRecord;
  try {
    rec = await createFromImage(fx, req, id);
    fs.renameSync(early, recs.logPath(id));
  } catch (e) {
    monitor.abort();
    fs.rmSync(early, { force: true });
    throw e;
  }
  try {
    await monitor.go(rec.name);
  } catch (e) {
    const { deleteContainer } = await import('../runtime/container');
    await deleteContainer(fx.runtime, rec.id, true).catch(() => undefined);
    recs.remove(rec.id);
    throw e;
  }
  return rec;
}
