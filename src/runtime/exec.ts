// `exec`: a new process in a running container. ccrun-init (mode "exec")
// joins every namespace the container has (/proc/INIT/ns/*), after ccrun has
// put the helper in the container's cgroup, then forks the process there. The
// process gets what the container's own process got (capabilities, rlimits,
// no_new_privs, user, env, cwd: from the process spec saved in state.json)
// unless a process file or the flags say otherwise.
import * as fs from 'fs';
import { dirname, join } from 'path';
import type { Namespace, Process, Spec } from './config/types';
import { buildCreatePlan, type LaunchPlan } from './plan';
import { launch, type Launched } from './launch';
import { observe, FORWARDED_SIGNALS, type RuntimeContext } from './container';
import { openContainerCgroup } from './cgroup-link';
import { checkContainerId } from './state';
import { ConfigError, StateError, containerNotFound } from './errors';
import { relayTerminal, receiveMaster, terminalPair, type TerminalPair } from './terminal';
import { containerProcessState } from './seccomp';

export interface ExecOptions {
  id: string;
  /** A whole process spec (runc's --process FILE); the flags below still apply on top. */
  process?: Process;
  /** The command, when no process file is given. */
  args?: string[];
  /** KEY=VALUE, added to (or replacing in) the container's env. */
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid?: number };
  additionalGids?: number[];
  /** Capabilities added to the bounding, effective and permitted sets. */
  caps?: string[];
  noNewPrivs?: boolean;
  tty?: boolean;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
}

/** /proc/PID/ns/<name> for each namespace type of config.json. */
const NS_FILES: Record<string, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

/** Parses runc's --user "UID[:GID]". */
export function parseExecUser(text: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new ConfigError(`--user "${text}": give a numeric UID or UID:GID (user names are not looked up)`);
  return { uid: Number(m[1]), gid: m[2] === undefined ? undefined : Number(m[2]) };
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--env "${e}": use KEY=VALUE`);
    const key = e.slice(0, eq + 1);
    const at = out.findIndex((x) => x.startsWith(key));
    if (at >= 0) out[at] = e;
    else out.push(e);
  }
  return out;
}

/** The exec'd process: the process file or the container's saved process, with the flags applied. */
export function execProcess(saved: Process | undefined, opts: ExecOptions): Process {
  let p: Process;
  if (opts.process) {
    p = structuredClone(opts.process);
  } else {
    if (!opts.args || opts.args.length === 0) throw new ConfigError('exec needs a command (or --process FILE)');
    const base: Process = saved ? structuredClone(saved) : { user: { uid: 0, gid: 0 }, cwd: '/' };
    p = { ...base, args: opts.args, terminal: Boolean(opts.tty) };
    delete p.commandLine;
    delete p.consoleSize;
  }
  if (!p.args || p.args.length === 0) throw new ConfigError('the exec process has no args');
  if (opts.tty && opts.process) p.terminal = true;
  if (!p.user) p.user = { uid: 0, gid: 0 };
  if (!p.cwd) p.cwd = '/';
  if (opts.env && opts.env.length > 0) p.env = mergeEnv(p.env ?? [], opts.env);
  if (opts.cwd) p.cwd = opts.cwd;
  if (opts.user) {
    p.user = { ...p.user, uid: opts.user.uid };
    if (opts.user.gid !== undefined) p.user.gid = opts.user.gid;
  }
  if (opts.additionalGids && opts.additionalGids.length > 0) {
    p.user.additionalGids = [...new Set([...(p.user.additionalGids ?? []), ...opts.additionalGids])];
  }
  if (opts.caps && opts.caps.length > 0) {
    const c = p.capabilities ?? {};
    const add = (set: string[] | undefined): string[] => [...new Set([...(set ?? []), ...opts.caps!])];
    p.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
  }
  if (opts.noNewPrivs) p.noNewPrivileges = true;
  return p;
}

/** Whether `id` falls in a range of a /proc/PID/{uid,gid}_map ("inside outside count" lines). */
function isMapped(map: string, id: number): boolean {
  return map.split('\n').some((line) => {
    const [inside, , count] = line.trim().split(/\s+/).map(Number);
    return count > 0 && id >= inside && id < inside + count;
  });
}

/** Refuses ids the container's user namespace does not map (setuid would fail with a bare EINVAL). */
function checkIdsMapped(id: string, initPid: number, proc: Process): void {
  let uidMap: string;
  let gidMap: string;
  try {
    uidMap = fs.readFileSync(`/proc/${initPid}/uid_map`, 'utf8');
    gidMap = fs.readFileSync(`/proc/${initPid}/gid_map`, 'utf8');
  } catch {
    return; // gone meanwhile: the launch says so
  }
  const show = (map: string): string => map.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).join(', ');
  const { uid, gid, additionalGids = [] } = proc.user;
  if (!isMapped(uidMap, uid)) {
    throw new ConfigError(`exec: uid ${uid} is not mapped in the user namespace of container "${id}" (uid_map: ${show(uidMap)}): run as a mapped user, e.g. --user 0`);
  }
  for (const g of [gid, ...additionalGids]) {
    if (!isMapped(gidMap, g)) {
      throw new ConfigError(`exec: gid ${g} is not mapped in the user namespace of container "${id}" (gid_map: ${show(gidMap)}): use a mapped group, e.g. --user ${uid}:0`);
    }
  }
}

function writeFileAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, path);
}

/** Runs a process in the container; foreground: its exit code (128+N when killed by N), detached: 0. */
export async function execInContainer(ctx: RuntimeContext, opts: ExecOptions): Promise<number> {
  checkContainerId(opts.id);
  if (!ctx.store.exists(opts.id)) throw containerNotFound(opts.id);
  const o = observe(ctx, opts.id);
  if (o.status === 'paused') throw new StateError(`cannot exec in container "${opts.id}": it is paused (resume it first)`);
  if (o.status !== 'running' && o.status !== 'created') {
    throw new StateError(`cannot exec in container "${opts.id}": container not running (${o.status})`);
  }
  if (opts.consoleSocket !== undefined && !fs.existsSync(opts.consoleSocket)) {
    throw new ConfigError(`console socket "${opts.consoleSocket}" does not exist`);
  }
  const proc = execProcess(o.saved.process as Process | undefined, opts);
  if (o.saved.namespaces.includes('user')) checkIdsMapped(opts.id, o.pid, proc);
  const ownTerminal = Boolean(proc.terminal) && !opts.consoleSocket;
  if (ownTerminal && opts.detach) {
    throw new ConfigError('exec --detach with a terminal needs --console-socket (nobody would hold the terminal)');
  }

  // The helper sizes the pty before the process runs (runc does the same for exec -t).
  if (ownTerminal && process.stdout.isTTY && !proc.consoleSize) proc.consoleSize = { height: process.stdout.rows, width: process.stdout.columns };
  const pid = o.pid;
  const namespaces = o.saved.namespaces.map((type) => {
    const file = NS_FILES[type];
    if (!file) throw new StateError(`container "${opts.id}": unknown namespace type "${type}" in its state`);
    return { type: type as Namespace['type'], path: `/proc/${pid}/ns/${file}` };
  });
  // The filter the container was created with (saved at create: the bundle's
  // config.json may have changed since, or never existed for an image run).
  const seccomp = o.saved.seccomp as NonNullable<Spec['linux']>['seccomp'];
  const spec: Spec = {
    ociVersion: o.saved.ociVersion,
    root: { path: o.saved.rootfs || '/' },
    process: proc,
    linux: { namespaces, ...(seccomp ? { seccomp } : {}) },
  };
  const created = buildCreatePlan(spec, { bundle: o.saved.bundle, id: opts.id, preserveFds: opts.preserveFds, wait: !opts.detach }, ctx.warn, ctx.debug);
  // Only the process part applies: the container's root, mounts and devices exist already.
  const plan: LaunchPlan = {
    ...created,
    mode: 'exec',
    consoleSocket: opts.consoleSocket,
    fifo: undefined,
    rootfs: undefined,
    fsOps: [],
    hostname: undefined,
    domainname: undefined,
    sysctl: [],
    maskedPaths: [],
    readonlyPaths: [],
    personality: undefined,
    uidMappings: [],
    gidMappings: [],
    setgroups: undefined,
    // No mount namespace to join: the root is the init's chroot (shared-mount-ns.ts).
    chroot: o.saved.namespaces.includes('mount') ? undefined : `/proc/${pid}/root`,
  };

  const cgroup = o.saved.cgroup ? openContainerCgroup({ id: opts.id, ...o.saved.cgroup }) : undefined;
  // The helper joins by itself where it can, before it joins the namespaces (see createContainer).
  plan.cgroupJoin = cgroup?.selfJoinFiles();
  let pair: TerminalPair | undefined = ownTerminal ? terminalPair() : undefined;
  let launched: Launched;
  try {
    launched = launch(plan, {
      consoleFd: pair?.theirs,
      // In the container's cgroup before it forks: the process is born there.
      beforePlan: (helperPid) => {
        if (!plan.cgroupJoin) cgroup?.addProcess(helperPid);
      },
      // runc's state for an exec'd process: its own pid, the container's in state.pid.
      seccompState: plan.seccomp?.listenerPath
        ? (execPid) =>
            containerProcessState(execPid, plan.seccomp?.listenerMetadata, {
              ociVersion: o.saved.ociVersion,
              id: opts.id,
              status: o.status === 'created' ? 'created' : 'running',
              pid,
              bundle: o.saved.bundle,
              annotations: o.saved.annotations,
            })
        : undefined,
    });
  } catch (e) {
    if (pair) fs.closeSync(pair.ours);
    throw e;
  }
  if (opts.pidFile) writeFileAtomic(opts.pidFile, String(launched.pid));
  if (opts.detach) return 0;

  const master = pair ? receiveMaster(pair) : undefined;
  pair = undefined;
  const relay = master !== undefined ? relayTerminal(master) : undefined;
  const forward = (sig: NodeJS.Signals): void => {
    try {
      process.kill(launched.pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  try {
    return await launched.exited();
  } finally {
    for (const s of FORWARDED_SIGNALS) process.removeListener(s, forward);
    await relay?.finish();
  }
}
