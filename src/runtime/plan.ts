// config.json -> a checked, plain launch plan. Everything the container init
// (native/init/) does is decided here, in TypeScript, once: option strings
// become mount flags, names become numbers, host facts (cgroup layout, last
// capability) are looked up, and anything asked for but not supported is
// refused by name. The init only executes the plan.
import { existsSync, readFileSync, statSync } from 'fs';
import { isAbsolute, join, resolve } from 'path';
import type { Hooks, Spec, Process } from './config/types';
import {
  CAPABILITY_BITS,
  MS,
  NAMESPACES,
  PROPAGATION_OPTIONS,
  RLIMITS,
} from './config/tables';
import { SUPPORT } from './support';
import { planDevices, planMounts } from './plan-fs';

export { parseMountOptions, type ParsedMountOptions } from './plan-fs';
import { planSeccomp, type SeccompPlan } from './seccomp';
import { checkHooks } from './hooks';
import { planLsm, type LsmPlan } from './lsm';
import { checkWithoutMountNamespace } from './shared-mount-ns';
import { ConfigError, NotFoundError } from './errors';

export interface PlannedMount {
  kind: 'mount';
  source: string;
  destination: string;
  type: string;
  flags: number;
  data: string;
  propagation: number;
  attrSet: number;
  attrClr: number;
  /** tmpcopyup: fill the new tmpfs with what it covers. */
  copyUp?: boolean;
  /** linux.mountLabel set as the security.selinux attribute of the mount's root (lsm.ts mountLabelXattr). */
  selinuxXattr?: string;
}
export interface PlannedRemount {
  kind: 'remount';
  destination: string;
  flags: number;
}
export interface PlannedDevice {
  kind: 'device';
  path: string;
  type: 'c' | 'b' | 'p' | 'u';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  /** Bind the host's node instead of mknod (user namespaces cannot mknod). */
  bind: boolean;
}
export interface PlannedSymlink {
  kind: 'symlink';
  target: string;
  path: string;
}
export type FsOp = PlannedMount | PlannedRemount | PlannedDevice | PlannedSymlink;

export interface CapabilitySets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  umask?: number;
  /** undefined: leave the groups alone (setgroups is denied in the user namespace). */
  groups?: number[];
  rlimits: { name: string; resource: number; soft: bigint; hard: bigint }[];
  /** undefined: the process keeps the capabilities it has (no process.capabilities). */
  capabilities?: CapabilitySets;
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  terminal: boolean;
  consoleSize?: { height: number; width: number };
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

export interface MonitorPlan {
  /** stdin: a pipe the monitor holds open (docker run -d -i) instead of the caller's. */
  keepStdin: boolean;
  /** process.terminal without a console socket: the monitor keeps the pty master and logs its output. */
  terminal: boolean;
  exitCommand: string[];
}

export interface LaunchPlan {
  mode: 'create' | 'exec';
  /** The helper waits for the process and exits with its status (foreground run/exec). */
  wait: boolean;
  /** create: the fifo the init parks on until `start`. */
  fifo?: string;
  /** create: the fifo through which the init reports the start to `start` (StateStore.startResultPath). */
  startResult?: string;
  /**
   * create: the helper stays as the parent of the init (a detached image
   * container) and, once it exits, runs exitCommand with "{code}" and "{pid}"
   * filled in. See native/init/monitor.c.
   */
  monitor?: MonitorPlan;
  /** create: cgroup files the init writes "0" into to join by itself (CgroupManager.selfJoinFiles). */
  cgroupJoin?: string[];
  consoleSocket?: string;
  namespaces: { type: string; path?: string }[];
  uidMappings: IdMap[];
  gidMappings: IdMap[];
  setgroups?: 'allow' | 'deny';
  rootfs?: string;
  /** An overlayfs the init mounts on rootfs in its own mount namespace first (image front end). */
  rootOverlay?: RootOverlay;
  rootPropagation: number;
  rootfsPropagation: number;
  noPivot: boolean;
  readonlyRoot: boolean;
  fsOps: FsOp[];
  hostname?: string;
  domainname?: string;
  sysctl: [string, string][];
  maskedPaths: string[];
  readonlyPaths: string[];
  personality?: number;
  process: ProcessPlan;
  preserveFds: number;
  capLast: number;
  /** linux.seccomp, checked (src/runtime/seccomp.ts). */
  seccomp?: SeccompPlan;
  /** The hooks the init takes part in (createContainer, startContainer, the sync for prestart/createRuntime). */
  hooks?: Hooks;
  lsm?: LsmPlan;
  /** exec into a container without a mount namespace: its init's root (/proc/PID/root), entered with chroot. */
  chroot?: string;
}

/**
 * A container root made of read-only layer directories and a writable upper
 * dir. Paths are relative to `base` (the init chdirs there to mount), which
 * keeps the mount data under the kernel's one-page limit with many layers.
 */
export interface RootOverlay {
  base: string;
  /** Top-most first, as overlayfs's lowerdir lists them. */
  lower: string[];
  upper: string;
  work: string;
  /**
   * Mount with "userxattr": the layers mark opaque directories with
   * user.overlay.* (a rootless store; trusted.* needs CAP_SYS_ADMIN on the host).
   */
  userxattr?: boolean;
}

export interface PlanOptions {
  bundle: string;
  id: string;
  fifo?: string;
  startResult?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  wait?: boolean;
  /** The container's cgroup directories per v1 controller or {unified}, for cgroup mounts. */
  cgroupPaths?: Record<string, string>;
  rootOverlay?: RootOverlay;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function readCapLast(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** Refuses, by name, what the config asks for and ccrun does not do. */
function refuseUnsupported(spec: Spec): void {
  const no = (what: string, why = 'is not supported by ccrun'): never => {
    throw new ConfigError(`config.json: ${what} ${why}`);
  };
  const p = spec.process;
  if (p?.ioPriority) no('/process/ioPriority');
  if (p?.scheduler) no('/process/scheduler');
  if (p?.execCPUAffinity) no('/process/execCPUAffinity');
  if (spec.linux?.seccomp && !SUPPORT.seccomp.enabled) no('/linux/seccomp', 'is not supported yet (remove it to run without a seccomp filter)');
  if (spec.linux?.intelRdt) no('/linux/intelRdt');
  if (spec.linux?.timeOffsets) no('/linux/timeOffsets');
  if (spec.linux?.personality && !SUPPORT.personality) {
    const d = spec.linux.personality.domain;
    if ((d !== 'LINUX' && d !== 'LINUX32') || (spec.linux.personality.flags?.length ?? 0) > 0) {
      no('/linux/personality', 'is supported only as domain LINUX or LINUX32 without flags');
    }
  }
  const hooks = spec.hooks ?? {};
  for (const [kind, list] of Object.entries(hooks)) {
    if (Array.isArray(list) && list.length > 0 && !(SUPPORT.hooks as readonly string[]).includes(kind)) {
      no(`/hooks/${kind}`, 'is not supported yet');
    }
  }
  (spec.linux?.namespaces ?? []).forEach((ns, i) => {
    if (!(SUPPORT.namespaces as readonly string[]).includes(ns.type)) no(`/linux/namespaces/${i}`, `(type "${ns.type}") is not supported`);
  });
  (spec.mounts ?? []).forEach((m, i) => {
    for (const o of m.options ?? []) {
      if (o === 'idmap' || o === 'ridmap') no(`/mounts/${i}/options`, `option "${o}" is not supported`);
      if (o === 'tmpcopyup' && m.type !== 'tmpfs') no(`/mounts/${i}/options`, 'option "tmpcopyup" applies to tmpfs mounts only and');
    }
    if (m.uidMappings || m.gidMappings) no(`/mounts/${i}/uidMappings`, '(id-mapped mounts) is not supported');
  });
}

function capMask(names: string[] | undefined, capLast: number, warn: (m: string) => void): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    const bit = CAPABILITY_BITS.get(n);
    if (bit === undefined) throw new ConfigError(`config.json: unknown capability "${n}"`);
    if (bit > capLast) {
      warn(`capability ${n} is not known to this kernel: ignored`);
      continue;
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

function planProcess(p: Process, capLast: number, setgroupsDenied: boolean, warn: (m: string) => void): ProcessPlan {
  const args = p.args ?? [];
  if (args.length === 0) throw new ConfigError('config.json: /process/args must be a non-empty array');
  const env = p.env ?? [];
  const rlimits = (p.rlimits ?? []).map((r, i) => {
    const resource = RLIMITS.get(r.type);
    if (resource === undefined) throw new ConfigError(`config.json: /process/rlimits/${i}/type "${r.type}" is not a Linux rlimit`);
    if (BigInt(r.soft) > BigInt(r.hard)) {
      throw new ConfigError(`config.json: /process/rlimits/${i} (${r.type}) has soft ${r.soft} above hard ${r.hard}`);
    }
    return { name: r.type, resource, soft: BigInt(r.soft), hard: BigInt(r.hard) };
  });
  const seen = new Set<string>();
  for (const r of rlimits) {
    if (seen.has(r.name)) throw new ConfigError(`config.json: /process/rlimits lists ${r.name} twice`);
    seen.add(r.name);
  }
  const c = p.capabilities;
  let capabilities: CapabilitySets | undefined;
  if (c) {
    capabilities = {
      bounding: capMask(c.bounding, capLast, warn),
      effective: capMask(c.effective, capLast, warn),
      permitted: capMask(c.permitted, capLast, warn),
      inheritable: capMask(c.inheritable, capLast, warn),
      ambient: capMask(c.ambient, capLast, warn),
    };
    // The kernel only lets a capability be ambient if it is both permitted
    // and inheritable; say which ones cannot be, as runc does, and go on.
    const impossible = capabilities.ambient & ~(capabilities.permitted & capabilities.inheritable);
    if (impossible) {
      const names = (c.ambient ?? []).filter((n) => (impossible >> BigInt(CAPABILITY_BITS.get(n) ?? 0)) & 1n);
      warn(`process.capabilities.ambient: ${names.join(', ')} not also in inheritable and permitted, so not raised`);
      capabilities.ambient &= ~impossible;
    }
  }
  if (!isAbsolute(p.cwd)) throw new ConfigError(`config.json: /process/cwd must be an absolute path, not "${p.cwd}"`);
  const groups = p.user.additionalGids ?? [];
  if (setgroupsDenied && groups.length > 0) {
    throw new ConfigError('config.json: /process/user/additionalGids cannot be set: setgroups is denied in this user namespace (map more than one gid with newgidmap)');
  }
  return {
    args,
    env,
    cwd: p.cwd,
    uid: p.user.uid,
    gid: p.user.gid,
    umask: p.user.umask,
    groups: setgroupsDenied ? undefined : groups,
    rlimits,
    capabilities,
    noNewPrivileges: Boolean(p.noNewPrivileges),
    oomScoreAdj: p.oomScoreAdj,
    terminal: Boolean(p.terminal),
    consoleSize: p.consoleSize,
  };
}

function checkMappings(name: string, maps: { containerID: number; hostID: number; size: number }[]): void {
  maps.forEach((m, i) => {
    if (m.size < 1) throw new ConfigError(`config.json: /linux/${name}/${i}/size must be at least 1`);
  });
}

/** Propagation of / for the set-up: the spec's rootfsPropagation, else rslave like runc. */
function rootPropagation(spec: Spec): { root: number; rootfs: number } {
  const rp = spec.linux?.rootfsPropagation;
  if (!rp) return { root: MS.SLAVE | MS.REC, rootfs: 0 };
  const flag = PROPAGATION_OPTIONS.get(rp);
  if (flag === undefined) {
    throw new ConfigError(`config.json: /linux/rootfsPropagation "${rp}" must be one of ${[...PROPAGATION_OPTIONS.keys()].join(', ')}`);
  }
  // Set-up happens under rslave/rprivate so nothing leaks to the host; the
  // asked-for propagation is applied to the new root at the end.
  const shared = (flag & MS.SHARED) !== 0;
  return { root: shared ? MS.SLAVE | MS.REC : flag | MS.REC, rootfs: flag };
}

export function buildCreatePlan(spec: Spec, opts: PlanOptions, warn: (m: string) => void = () => {}, debug: (m: string) => void = () => {}): LaunchPlan {
  refuseUnsupported(spec);
  checkHooks(spec.hooks);
  const lsm = planLsm(spec, debug);
  if (!spec.process) throw new ConfigError('config.json: /process is required to create a container');
  if (!spec.root) throw new ConfigError('config.json: /root is required on Linux');
  const rootfs = resolve(opts.bundle, spec.root.path);
  let st;
  try {
    st = statSync(rootfs);
  } catch {
    throw new NotFoundError(`rootfs "${rootfs}" does not exist (root.path in config.json is resolved against the bundle)`);
  }
  if (!st.isDirectory()) throw new ConfigError(`config.json: /root/path "${rootfs}" is not a directory`);

  const linux = spec.linux ?? {};
  const namespaces = (linux.namespaces ?? []).map((n, i) => {
    if (!NAMESPACES.has(n.type)) throw new ConfigError(`config.json: /linux/namespaces/${i}/type "${n.type}" is unknown`);
    if (n.path !== undefined) {
      if (!isAbsolute(n.path)) throw new ConfigError(`config.json: /linux/namespaces/${i}/path must be absolute`);
      if (!existsSync(n.path)) throw new NotFoundError(`config.json: /linux/namespaces/${i}/path "${n.path}" does not exist`);
    }
    return { type: n.type, path: n.path };
  });
  const has = (t: string): boolean => namespaces.some((n) => n.type === t);
  const isNew = (t: string): boolean => namespaces.some((n) => n.type === t && !n.path);
  if (spec.hostname && !isNew('uts') && !has('uts')) throw new ConfigError('config.json: /hostname needs a new uts namespace in /linux/namespaces');
  if (spec.domainname && !has('uts')) throw new ConfigError('config.json: /domainname needs a new uts namespace in /linux/namespaces');

  const newUser = isNew('user');
  const uidMappings = linux.uidMappings ?? [];
  const gidMappings = linux.gidMappings ?? [];
  checkMappings('uidMappings', uidMappings);
  checkMappings('gidMappings', gidMappings);
  if (newUser && (uidMappings.length === 0 || gidMappings.length === 0)) {
    throw new ConfigError('config.json: a new user namespace needs /linux/uidMappings and /linux/gidMappings');
  }
  if (!newUser && (uidMappings.length > 0 || gidMappings.length > 0) && !has('user')) {
    throw new ConfigError('config.json: /linux/uidMappings are given but /linux/namespaces has no user namespace');
  }
  const rootless = (process.geteuid?.() ?? 0) !== 0;
  // An unprivileged writer of gid_map must deny setgroups first; and an
  // unprivileged exec joins a user namespace where it was so denied.
  const setgroupsDenied = has('user') && rootless;
  // No mount namespace: the caller's is shared, as runc does it (shared-mount-ns.ts).
  if (!has('mount')) checkWithoutMountNamespace({ newUser, rootless, rootOverlay: Boolean(opts.rootOverlay) });
  const capLast = readCapLast();

  const fsOps: FsOp[] = [
    // A joined user namespace (path) forbids mknod as a new one does: devices are bound in either.
    ...planMounts(spec, { bundle: opts.bundle, newUser: has('user'), newNetwork: isNew('network'), newCgroupNs: isNew('cgroup'), mountLabel: lsm.mountLabel, cgroupPaths: opts.cgroupPaths }),
    ...planDevices(spec, has('user')),
  ];

  const sysctl = Object.entries(linux.sysctl ?? {});
  for (const [k] of sysctl) {
    if (!/^[a-zA-Z0-9_.\-/]+$/.test(k) || k.includes('..')) throw new ConfigError(`config.json: /linux/sysctl key "${k}" is not a sysctl name`);
    if (k.startsWith('net.') && !isNew('network') && !has('network')) {
      throw new ConfigError(`config.json: /linux/sysctl "${k}" needs a network namespace: it would change the host`);
    }
    if ((/^kernel\.(msg|sem|shm)/.test(k) || k.startsWith('fs.mqueue.')) && !has('ipc')) {
      throw new ConfigError(`config.json: /linux/sysctl "${k}" needs an ipc namespace: it would change the host`);
    }
    if (k.startsWith('kernel.') && !/^kernel\.(msg|sem|shm|hostname|domainname)/.test(k)) {
      throw new ConfigError(`config.json: /linux/sysctl "${k}" is not namespaced: it would change the host`);
    }
  }

  const prop = rootPropagation(spec);
  let personality: number | undefined;
  if (linux.personality) personality = linux.personality.domain === 'LINUX32' ? 0x0008 : 0;

  const env = spec.process.env && spec.process.env.length > 0 ? spec.process.env : [DEFAULT_PATH];
  return {
    mode: 'create',
    wait: Boolean(opts.wait),
    fifo: opts.fifo,
    startResult: opts.startResult,
    consoleSocket: opts.consoleSocket,
    namespaces,
    uidMappings,
    gidMappings,
    setgroups: newUser && rootless ? 'deny' : undefined,
    rootfs,
    rootOverlay: opts.rootOverlay,
    rootPropagation: prop.root,
    rootfsPropagation: prop.rootfs,
    noPivot: Boolean(opts.noPivot),
    readonlyRoot: Boolean(spec.root.readonly),
    fsOps,
    hostname: spec.hostname,
    domainname: spec.domainname,
    sysctl,
    maskedPaths: linux.maskedPaths ?? [],
    readonlyPaths: linux.readonlyPaths ?? [],
    personality,
    process: planProcess({ ...spec.process, env }, capLast, setgroupsDenied, warn),
    preserveFds: opts.preserveFds ?? 0,
    capLast,
    seccomp: linux.seccomp ? planSeccomp(linux.seccomp) : undefined,
    hooks: spec.hooks,
    lsm,
  };
}

export function bundleRootfs(bundle: string, spec: Spec): string {
  return spec.root ? resolve(bundle, spec.root.path) : join(bundle, 'rootfs');
}
