// config.json -> a checked, plain launch plan. Everything the container init
// (native/init/) does is decided here, in TypeScript, once: option strings
// become mount flags, names become numbers, host facts (cgroup layout, last
// capability) are looked up, and anything asked for but not supported is
// refused by name. The init only executes the plan.
import { existsSync, readFileSync, statSync } from 'fs';
import { isAbsolute, join, resolve } from 'path';
import type { Hooks, Spec, Mount, Process } from './config/types';
import {
  CAPABILITY_BITS,
  MOUNT_FLAG_OPTIONS,
  MS,
  NAMESPACES,
  PROPAGATION_OPTIONS,
  RECURSIVE_MOUNT_OPTIONS,
  RLIMITS,
} from './config/tables';
import { SUPPORT } from './support';
import { planSeccomp, type SeccompPlan } from './seccomp';
import { checkHooks } from './hooks';
import { mountLabelData, planLsm, type LsmPlan } from './lsm';
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

export interface LaunchPlan {
  mode: 'create' | 'exec';
  /** The helper waits for the process and exits with its status (foreground run/exec). */
  wait: boolean;
  /** create: the fifo the init parks on until `start`. */
  fifo?: string;
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
}

export interface PlanOptions {
  bundle: string;
  id: string;
  fifo?: string;
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
      if (o === 'tmpcopyup' || o === 'idmap' || o === 'ridmap') no(`/mounts/${i}/options`, `option "${o}" is not supported`);
    }
    if (m.uidMappings || m.gidMappings) no(`/mounts/${i}/uidMappings`, '(id-mapped mounts) is not supported');
  });
}

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  attrSet: number;
  attrClr: number;
  data: string[];
  bind: boolean;
}

/** Splits mount options into mount(2) flags, propagation, recursive attributes and filesystem data. */
export function parseMountOptions(options: string[]): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let attrSet = 0;
  let attrClr = 0;
  const data: string[] = [];
  let bind = false;
  for (const o of options) {
    const f = MOUNT_FLAG_OPTIONS.get(o);
    if (f) {
      if (f.clear) flags &= ~f.flag;
      else flags |= f.flag;
      if (o === 'bind' || o === 'rbind') bind = true;
      continue;
    }
    const p = PROPAGATION_OPTIONS.get(o);
    if (p !== undefined) {
      propagation = p;
      continue;
    }
    const r = RECURSIVE_MOUNT_OPTIONS.get(o);
    if (r) {
      if (r.clear) {
        attrClr |= r.attr;
        attrSet &= ~r.attr;
      } else {
        attrSet |= r.attr;
        attrClr &= ~r.attr;
      }
      continue;
    }
    data.push(o);
  }
  return { flags, propagation, attrSet, attrClr, data, bind };
}

interface HostCgroupMount {
  mountpoint: string;
  fstype: string;
  controllers: string;
}

function hostCgroupMounts(): HostCgroupMount[] {
  const out: HostCgroupMount[] = [];
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (right[0] !== 'cgroup' && right[0] !== 'cgroup2') continue;
    const controllers = (right[2] ?? '')
      .split(',')
      .filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('nsdelegate') && !o.startsWith('memory_') && o !== 'relatime')
      .join(',');
    out.push({ mountpoint: left[4], fstype: right[0], controllers });
  }
  return out;
}

/** A `cgroup` mount: cgroup2 where the host is v2, else a tmpfs with one read-only view per v1 hierarchy. */
function planCgroupMount(m: Mount, opts: ParsedMountOptions, newCgroupNs: boolean, plan: PlanOptions, out: FsOp[]): void {
  const baseFlags = opts.flags & ~MS.BIND;
  const mounts = hostCgroupMounts();
  const unifiedRoot = mounts.find((c) => c.fstype === 'cgroup2' && c.mountpoint === '/sys/fs/cgroup');
  if (unifiedRoot || m.type === 'cgroup2') {
    const own = plan.cgroupPaths?.unified;
    if (newCgroupNs || !own) {
      out.push(fsMount('cgroup', m.destination, 'cgroup2', baseFlags, '', opts));
    } else {
      out.push(fsMount(own, m.destination, 'bind', baseFlags | MS.BIND, '', opts));
    }
    return;
  }
  out.push(fsMount('tmpfs', m.destination, 'tmpfs', baseFlags & ~MS.RDONLY, 'mode=755', { ...opts, propagation: 0 }));
  for (const c of mounts) {
    if (c.fstype !== 'cgroup' || !c.mountpoint.startsWith('/sys/fs/cgroup/')) continue;
    const name = c.mountpoint.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    const key = c.controllers.startsWith('name=') ? c.controllers : c.controllers.split(',')[0];
    const dir = plan.cgroupPaths?.[key] ?? plan.cgroupPaths?.[c.controllers.split(',')[0]];
    // No existence check: the plan is made before the cgroup, and create() makes
    // every directory of cgroupPaths before the init runs.
    if (!dir) continue;
    out.push(fsMount(dir, `${m.destination}/${name}`, 'bind', baseFlags | MS.BIND, '', { ...opts, propagation: 0 }));
  }
  if (opts.flags & MS.RDONLY) {
    out.push({ kind: 'remount', destination: m.destination, flags: MS.REMOUNT | MS.RDONLY | (baseFlags & ~MS.RDONLY) });
  }
}

function fsMount(source: string, destination: string, type: string, flags: number, data: string, o: ParsedMountOptions): PlannedMount {
  return { kind: 'mount', source, destination, type, flags, data, propagation: o.propagation, attrSet: o.attrSet, attrClr: o.attrClr };
}

const DEFAULT_DEVICES: { path: string; major: number; minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

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

export function buildCreatePlan(spec: Spec, opts: PlanOptions, warn: (m: string) => void = () => {}): LaunchPlan {
  refuseUnsupported(spec);
  checkHooks(spec.hooks);
  const lsm = planLsm(spec);
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
  if (!has('mount')) throw new ConfigError('config.json: /linux/namespaces must include a mount namespace: ccrun does not run containers in the host\'s mount namespace');
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
  // An unprivileged writer of gid_map must deny setgroups first.
  const setgroupsDenied = newUser && rootless;
  const capLast = readCapLast();

  const fsOps: FsOp[] = [];
  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => {
    if (!isAbsolute(m.destination)) throw new ConfigError(`config.json: /mounts/${i}/destination must be an absolute path, not "${m.destination}"`);
    if (m.destination.split('/').includes('..')) throw new ConfigError(`config.json: /mounts/${i}/destination must not contain ".."`);
    const o = parseMountOptions(m.options ?? []);
    const type = m.type ?? (o.bind ? 'bind' : '');
    if (type === 'cgroup' || type === 'cgroup2') {
      planCgroupMount(m, o, isNew('cgroup'), opts, fsOps);
      return;
    }
    if (type === 'bind' || o.bind) {
      if (!m.source) throw new ConfigError(`config.json: /mounts/${i}/source is required for a bind mount`);
      const source = isAbsolute(m.source) ? m.source : resolve(opts.bundle, m.source);
      if (!existsSync(source)) throw new NotFoundError(`config.json: /mounts/${i}/source "${source}" does not exist`);
      fsOps.push(fsMount(source, m.destination, 'bind', o.flags | MS.BIND, '', o));
      return;
    }
    if (!type) throw new ConfigError(`config.json: /mounts/${i}/type is required unless the options say bind or rbind`);
    if (!(SUPPORT.mountTypes as readonly string[]).includes(type)) {
      throw new ConfigError(`config.json: /mounts/${i}/type "${type}" is not supported (supported: ${SUPPORT.mountTypes.join(', ')})`);
    }
    let mtype = type;
    let source = m.source ?? type;
    let flags = o.flags;
    // sysfs cannot be mounted in a user namespace that does not own the
    // network namespace: bind the host's instead, as runc does.
    if (type === 'sysfs' && newUser && !isNew('network')) {
      mtype = 'bind';
      source = '/sys';
      flags |= MS.BIND | MS.REC;
    }
    fsOps.push(fsMount(source, m.destination, mtype, flags, mountLabelData(mtype, o.data.join(','), lsm.mountLabel), o));
  });

  const devBind = mounts.some((m) => m.destination === '/dev' && (m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind')));
  if (!devBind) {
    const devices: PlannedDevice[] = DEFAULT_DEVICES.map((d) => ({
      kind: 'device' as const,
      path: d.path,
      type: 'c' as const,
      major: d.major,
      minor: d.minor,
      mode: 0o666,
      uid: 0,
      gid: 0,
      bind: newUser,
    }));
    (linux.devices ?? []).forEach((d, i) => {
      if (!isAbsolute(d.path) || d.path.split('/').includes('..')) {
        throw new ConfigError(`config.json: /linux/devices/${i}/path must be an absolute path without ".."`);
      }
      if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
        throw new ConfigError(`config.json: /linux/devices/${i} (${d.path}) needs major and minor`);
      }
      const dev: PlannedDevice = {
        kind: 'device',
        path: d.path,
        type: d.type,
        major: d.major ?? 0,
        minor: d.minor ?? 0,
        mode: d.fileMode ?? 0o666,
        uid: d.uid ?? 0,
        gid: d.gid ?? 0,
        bind: newUser,
      };
      const at = devices.findIndex((x) => x.path === d.path);
      if (at >= 0) devices[at] = dev;
      else devices.push(dev);
    });
    fsOps.push(...devices);
    const links: [string, string][] = [
      ['/proc/self/fd', '/dev/fd'],
      ['/proc/self/fd/0', '/dev/stdin'],
      ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'],
    ];
    if (existsSync('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
    if (mounts.some((m) => m.destination === '/dev/pts' && m.type === 'devpts')) links.push(['pts/ptmx', '/dev/ptmx']);
    for (const [target, path] of links) fsOps.push({ kind: 'symlink', target, path });
  }

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
    consoleSocket: opts.consoleSocket,
    namespaces,
    uidMappings,
    gidMappings,
    setgroups: setgroupsDenied ? 'deny' : undefined,
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
