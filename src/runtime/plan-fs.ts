// The filesystem part of the launch plan: config.json's mounts (options
// split into mount(2) flags, propagation, recursive attributes and data; the
// `cgroup` type expanded for this host) and the devices and /dev links.
import { existsSync, readFileSync } from 'fs';
import { isAbsolute, resolve } from 'path';
import type { Mount, Spec } from './config/types';
import { MOUNT_FLAG_OPTIONS, MS, PROPAGATION_OPTIONS, RECURSIVE_MOUNT_OPTIONS } from './config/tables';
import { SUPPORT } from './support';
import { mountLabelData, mountLabelXattr } from './lsm';
import { ConfigError, NotFoundError } from './errors';
import type { FsOp, PlannedDevice, PlannedMount } from './plan';

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  attrSet: number;
  attrClr: number;
  data: string[];
  bind: boolean;
  /** tmpcopyup: a tmpfs starts with a copy of what it covers. */
  copyUp: boolean;
}

/** Splits mount options into mount(2) flags, propagation, recursive attributes and filesystem data. */
export function parseMountOptions(options: string[]): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let attrSet = 0;
  let attrClr = 0;
  const data: string[] = [];
  let bind = false;
  let copyUp = false;
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
    if (o === 'tmpcopyup') {
      copyUp = true;
      continue;
    }
    data.push(o);
  }
  return { flags, propagation, attrSet, attrClr, data, bind, copyUp };
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
function planCgroupMount(m: Mount, opts: ParsedMountOptions, ctx: MountPlanContext, out: FsOp[]): void {
  const { newCgroupNs, cgroupPaths } = ctx;
  const baseFlags = opts.flags & ~MS.BIND;
  const mounts = hostCgroupMounts();
  const unifiedRoot = mounts.find((c) => c.fstype === 'cgroup2' && c.mountpoint === '/sys/fs/cgroup');
  if (unifiedRoot || m.type === 'cgroup2') {
    const own = cgroupPaths?.unified;
    if (newCgroupNs || !own) {
      out.push(fsMount('cgroup', m.destination, 'cgroup2', baseFlags, '', opts));
    } else {
      out.push(fsMount(own, m.destination, 'bind', baseFlags | MS.BIND, '', opts));
    }
    return;
  }
  out.push(fsMount('tmpfs', m.destination, 'tmpfs', baseFlags & ~MS.RDONLY, mountLabelData('tmpfs', 'mode=755', ctx.mountLabel), { ...opts, propagation: 0 }));
  for (const c of mounts) {
    if (c.fstype !== 'cgroup' || !c.mountpoint.startsWith('/sys/fs/cgroup/')) continue;
    const name = c.mountpoint.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    const key = c.controllers.startsWith('name=') ? c.controllers : c.controllers.split(',')[0];
    const dir = cgroupPaths?.[key] ?? cgroupPaths?.[c.controllers.split(',')[0]];
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
  return { kind: 'mount', source, destination, type, flags, data, propagation: o.propagation, attrSet: o.attrSet, attrClr: o.attrClr, copyUp: o.copyUp && type === 'tmpfs' };
}

const DEFAULT_DEVICES: { path: string; major: number; minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

export interface MountPlanContext {
  bundle: string;
  newUser: boolean;
  newNetwork: boolean;
  newCgroupNs: boolean;
  mountLabel?: string;
  /** The container's cgroup directories per v1 controller or {unified}, for cgroup mounts. */
  cgroupPaths?: Record<string, string>;
}

/** config.json's mounts, in order, as filesystem operations for the init. */
export function planMounts(spec: Spec, ctx: MountPlanContext): FsOp[] {
  const fsOps: FsOp[] = [];
  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => {
    if (!isAbsolute(m.destination)) throw new ConfigError(`config.json: /mounts/${i}/destination must be an absolute path, not "${m.destination}"`);
    if (m.destination.split('/').includes('..')) throw new ConfigError(`config.json: /mounts/${i}/destination must not contain ".."`);
    const o = parseMountOptions(m.options ?? []);
    const type = m.type ?? (o.bind ? 'bind' : '');
    if (type === 'cgroup' || type === 'cgroup2') {
      planCgroupMount(m, o, ctx, fsOps);
      return;
    }
    if (type === 'bind' || o.bind) {
      if (!m.source) throw new ConfigError(`config.json: /mounts/${i}/source is required for a bind mount`);
      const source = isAbsolute(m.source) ? m.source : resolve(ctx.bundle, m.source);
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
    if (type === 'sysfs' && ctx.newUser && !ctx.newNetwork) {
      mtype = 'bind';
      source = '/sys';
      flags |= MS.BIND | MS.REC;
    }
    const mount = fsMount(source, m.destination, mtype, flags, mountLabelData(mtype, o.data.join(','), ctx.mountLabel), o);
    const xattr = mountLabelXattr(mtype, ctx.mountLabel);
    fsOps.push(xattr ? { ...mount, selinuxXattr: xattr } : mount);
  });

  return fsOps;
}

/** The default devices, linux.devices and the /dev links, unless /dev is bind-mounted. */
export function planDevices(spec: Spec, newUser: boolean): FsOp[] {
  const fsOps: FsOp[] = [];
  const mounts = spec.mounts ?? [];
  const linux = spec.linux ?? {};
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
  return fsOps;
}
