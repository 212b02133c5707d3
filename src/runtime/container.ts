// The container lifecycle of runtime-spec runtime.md: create, start, state,
// kill, delete (run = create + start + wait). A library: no argv, no printing;
// errors are typed and carry the message the user needs.
import * as fs from 'fs';
import { dirname, join } from 'path';
import type { Spec } from './config/types';
import type { RootOverlay } from './plan';
import type { Launched } from './launch';
import type { CgroupManager } from '../cgroups';
import { checkContainerId, processStartTime, type SavedState } from './state';
import { openContainerCgroup, resourcesWithDefaultDevices, type CgroupRef } from './cgroup-link';
import { StateError, CcrunError } from './errors';
import { runHooks, runHooksWarning, stateJson, type HookState } from './hooks';
import { OCI_VERSION, type RuntimeContext } from './status';
import { startContainer } from './start';
import { deleteContainer } from './delete';
import type * as SharedMountNs from './shared-mount-ns';
// Only a container without a mount namespace needs it (and, through it, the native addon's module).
const sharedNs = (): typeof SharedMountNs => require('./shared-mount-ns') as typeof SharedMountNs;

// Loaded when used: the image front end brings its own config, and most
// containers have no terminal (each module is ~1 ms of a run's start-up).
const terminalModule = (): typeof import('./terminal') => require('./terminal') as typeof import('./terminal');
const loadBundleConfig = (bundle: string): ReturnType<typeof import('./config/load').loadBundleConfig> =>
  (require('./config/load') as typeof import('./config/load')).loadBundleConfig(bundle);

// The read-only side (state, list) lives in status.ts so that those hot
// commands do not load the create path (plan, launch, hooks).
export { observe, containerState, listContainers, OCI_VERSION } from './status';
export type { RuntimeContext, Observed } from './status';
// start and delete have their own modules (the start and delete commands load only those).
export { startContainer, deleteContainer };

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** The helper stays and waits for the init (foreground run). */
  wait?: boolean;
  /** Replaces the bundle's config (the image front end builds it in memory). */
  spec?: Spec;
  /** An overlayfs root the init mounts on the rootfs directory (the image front end's fresh root). */
  rootOverlay?: RootOverlay;
  extra?: Record<string, unknown>;
  /** With process.terminal and no console socket, ccrun keeps the pty master (foreground run). */
  ownTerminal?: boolean;
  /** The process's stdin, stdout, stderr (default: ours). */
  stdio?: [number, number, number];
  /** The helper stays as the container's parent and runs exitCommand when it exits (detached image containers). */
  monitor?: { keepStdin: boolean; exitCommand: string[]; holdFds?: number[] };
}

export interface Created {
  state: SavedState;
  launched: Launched;
  /** The pty master, when ownTerminal applied. */
  terminal?: number;
  /** The container's cgroup, open (run's own delete uses it rather than finding it again). */
  cgroup: CgroupManager;
}


/**
 * Now, as runc writes "created": RFC 3339 in UTC with nanoseconds. Built from
 * the UTC getters: the first toISOString() of a process costs 0.6-1.2 ms
 * here (V8 sets up its date cache), the getters ~0.05 ms.
 */
export function rfc3339Nano(now = new Date(), ns = process.hrtime.bigint() % 1_000_000n): string {
  const pad = (n: number | bigint, width: number): string => String(n).padStart(width, '0');
  const date = `${pad(now.getUTCFullYear(), 4)}-${pad(now.getUTCMonth() + 1, 2)}-${pad(now.getUTCDate(), 2)}`;
  const time = `${pad(now.getUTCHours(), 2)}:${pad(now.getUTCMinutes(), 2)}:${pad(now.getUTCSeconds(), 2)}`;
  return `${date}T${time}.${pad(now.getUTCMilliseconds(), 3)}${pad(ns, 6)}Z`;
}

/** The caller's user name, as runc's "owner" (os.userInfo costs ~8 ms of NSS here). */
function ownerName(): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) return 'root';
  try {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    /* no passwd file */
  }
  return String(uid);
}

function writeFileAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, path);
}

export function isRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

export async function createContainer(ctx: RuntimeContext, opts: CreateOptions): Promise<Created> {
  checkContainerId(opts.id);
  if (opts.consoleSocket !== undefined && !fs.existsSync(opts.consoleSocket)) {
    throw new CcrunError(`console socket "${opts.consoleSocket}" does not exist`);
  }
  const { spec, bundle } = opts.spec ? { spec: opts.spec, bundle: opts.bundle } : loadBundleConfig(opts.bundle);
  const ownTerminal = Boolean(spec.process?.terminal) && !opts.consoleSocket && Boolean(opts.ownTerminal);
  const monitorTerminal = Boolean(spec.process?.terminal) && !opts.consoleSocket && Boolean(opts.monitor);
  if (spec.process?.terminal && !opts.consoleSocket && !ownTerminal && !monitorTerminal) {
    throw new CcrunError('process.terminal is true but no --console-socket was given: create needs one to hand over the terminal');
  }
  if (ctx.store.exists(opts.id)) throw new StateError(`container "${opts.id}" already exists`);
  const rootless = isRootless();
  const cgroupRef: CgroupRef = { id: opts.id, cgroupsPath: spec.linux?.cgroupsPath, rootless };
  // Everything that can be checked is checked before anything is made.
  const cgroup = openContainerCgroup(cgroupRef);
  const fifo = ctx.store.fifoPath(opts.id);
  // The create path's modules, which start and delete do not load.
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { buildCreatePlan } = require('./plan') as typeof import('./plan');
  const { launch } = require('./launch') as typeof import('./launch');
  const { containerProcessState } = require('./seccomp') as typeof import('./seccomp');
  /* eslint-enable @typescript-eslint/no-var-requires */
  const plan = buildCreatePlan(
    spec,
    { bundle, id: opts.id, fifo, startResult: ctx.store.startResultPath(opts.id), consoleSocket: opts.consoleSocket, noPivot: opts.noPivot, preserveFds: opts.preserveFds, wait: opts.wait, cgroupPaths: cgroup.paths(), rootOverlay: opts.rootOverlay },
    ctx.warn,
    ctx.debug,
  );
  if (opts.monitor) plan.monitor = { keepStdin: opts.monitor.keepStdin, exitCommand: opts.monitor.exitCommand, terminal: monitorTerminal };
  // Where it can, the init joins its cgroup itself (10-25 ms less per create
  // on v1); in a user namespace its writes would be checked as the mapped user.
  if (!plan.namespaces.some((n) => n.type === 'user')) plan.cgroupJoin = cgroup.selfJoinFiles();

  const listener = plan.seccomp?.listenerPath ? plan.seccomp : undefined;
  // No mount namespace: what is stacked on the rootfs now, to tell the init's bind from it.
  const sharedRootfs = plan.rootfs && !plan.namespaces.some((n) => n.type === 'mount') ? plan.rootfs : undefined;
  const mountsBefore = sharedRootfs ? sharedNs().mountStackAt(sharedRootfs) : [];
  const dir = ctx.store.reserve(opts.id);
  let cgroupMade = false;
  let hooksReached = false;
  let launched: Launched | undefined;
  let terminal: number | undefined;
  try {
    cgroup.create(resourcesWithDefaultDevices(spec, rootless));
    cgroupMade = true;
    for (const w of cgroup.warnings) ctx.warn(w);
    const pair = ownTerminal ? terminalModule().terminalPair() : undefined;
    try {
      launched = launch(plan, {
        onPid: (pid) => {
          if (!plan.cgroupJoin) cgroup.addProcess(pid);
        },
        consoleFd: pair?.theirs,
        stdio: opts.stdio,
        holdFds: opts.monitor?.holdFds,
        // Just before pivot_root: the runtime's hooks, then the init's.
        onHooks: (pid) => {
          hooksReached = true;
          // "created": runtime.md's state once the environment is made (after
          // lifecycle step 2), and these hooks are steps 3 to 5. crun passes
          // the same; runc passes "creating" (README, Hooks).
          const state: HookState = { ociVersion: OCI_VERSION, id: opts.id, status: 'created', pid, bundle, annotations: spec.annotations };
          runHooks('prestart', spec.hooks, state);
          runHooks('createRuntime', spec.hooks, state);
          // For the init: createContainer's state, then startContainer's.
          return [stateJson(state), stateJson(state)];
        },
        // The agent gets it with the fd once the filter is loaded, just before
        // the process's exec: at `start`, not during create as with runc
        // (our filter is loaded by the init itself, after the park).
        seccompState: listener
          ? (pid) => containerProcessState(pid, listener.listenerMetadata, { ociVersion: OCI_VERSION, id: opts.id, status: 'creating', pid, bundle, annotations: spec.annotations })
          : undefined,
      });
    } catch (e) {
      if (pair) fs.closeSync(pair.ours);
      throw e;
    }
    // Sent before "ready": already waiting in the socket.
    if (pair) terminal = terminalModule().receiveMaster(pair);
    const pidStartTime = processStartTime(launched.pid);
    if (!pidStartTime) throw new StateError(`container "${opts.id}" init exited during create`);
    const state: SavedState = {
      ociVersion: OCI_VERSION,
      id: opts.id,
      pid: launched.pid,
      pidStartTime,
      bundle,
      rootfs: plan.rootfs ?? '',
      created: rfc3339Nano(),
      owner: ownerName(),
      annotations: spec.annotations,
      cgroup: { cgroupsPath: spec.linux?.cgroupsPath, rootless, freezeFile: cgroup.freezeStateFile() ?? '', procsDir: cgroup.procsDir() ?? '' },
      namespaces: plan.namespaces.map((n) => n.type),
      process: spec.process,
      hooks: spec.hooks,
      seccomp: spec.linux?.seccomp,
      extra: opts.extra,
      sharedRoot: sharedRootfs ? sharedNs().recordSharedRoot(sharedRootfs, mountsBefore) : undefined,
    };
    ctx.store.save(state);
    if (opts.pidFile) writeFileAtomic(opts.pidFile, String(launched.pid));
    return { state, launched, terminal, cgroup };
  } catch (e) {
    // A failed create leaves nothing: no process, cgroup or state.
    if (terminal !== undefined) fs.closeSync(terminal);
    if (launched) {
      try {
        process.kill(launched.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (cgroupMade) await cgroup.destroy().catch(() => undefined);
    if (sharedRootfs) sharedNs().detachNewMounts(sharedRootfs, mountsBefore, ctx.warn);
    fs.rmSync(dir, { recursive: true, force: true });
    // runtime.md: a failed pre-start hook stops the container and goes on
    // with delete, whose poststop hooks undo what the earlier ones set up.
    if (hooksReached) {
      const state: HookState = { ociVersion: OCI_VERSION, id: opts.id, status: 'stopped', pid: 0, bundle, annotations: spec.annotations };
      runHooksWarning('poststop', spec.hooks, state, ctx.warn);
    }
    throw e;
  }
}

/** Signals `run` forwards to the container: all but CHLD, WINCH, URG (and those Node cannot catch). */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM',
  'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGVTALRM', 'SIGPROF', 'SIGXCPU', 'SIGXFSZ', 'SIGIO',
  'SIGPWR', 'SIGSYS', 'SIGTRAP',
].filter((s) => s !== 'SIGPROF' || !process.execArgv.some((a) => a.startsWith('--cpu-prof'))) as NodeJS.Signals[]; // V8's profiler needs SIGPROF

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
}

/** create + start, then (foreground) forward signals, wait, delete; returns the exit code. */
export async function runContainer(ctx: RuntimeContext, opts: RunOptions): Promise<number> {
  const { launched, terminal, cgroup } = await createContainer(ctx, { ...opts, wait: !opts.detach, ownTerminal: !opts.detach });
  const forward = (sig: NodeJS.Signals): void => {
    try {
      process.kill(launched.pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  if (!opts.detach) for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  // Before start, so the process sees the user's window size from its first line.
  const relay = terminal !== undefined ? terminalModule().relayTerminal(terminal) : undefined;
  try {
    await startContainer(ctx, opts.id);
  } catch (e) {
    await relay?.finish(0);
    await deleteContainer(ctx, opts.id, true, cgroup).catch(() => undefined);
    throw e;
  }
  if (opts.detach) return 0;
  const code = await launched.exited();
  for (const s of FORWARDED_SIGNALS) process.removeListener(s, forward);
  await relay?.finish();
  if (!opts.keep) await deleteContainer(ctx, opts.id, true, cgroup);
  return code;
}
