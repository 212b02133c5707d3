// The config.json written by `ccrun spec`: the same content as runc 1.2's
// `runc spec` (libcontainer/specconv Example and ToRootless), with hostname
// "ccrun". Keys are in runc's order so the two files diff cleanly.
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, NotFoundError } from '../errors';
import type { IdMapping, Mount, Namespace, Spec } from './types';

export interface DefaultSpecOptions {
  /** Make the spec usable by an unprivileged user (runc spec --rootless). */
  rootless?: boolean;
  /** Host uid mapped to root in the container when rootless (default: effective uid). */
  uid?: number;
  /** Host gid mapped to root in the container when rootless (default: effective gid). */
  gid?: number;
}

const DEFAULT_CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: '1.2.0',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      // runc 1.2 no longer grants inheritable or ambient capabilities by default.
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'ccrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (opts.rootless) toRootless(spec, opts.uid ?? process.geteuid?.() ?? 0, opts.gid ?? process.getegid?.() ?? 0);
  return spec;
}

/**
 * runc's specconv.ToRootless: an unprivileged user cannot make a network
 * namespace worth having, mount sysfs, pick devpts ownership or write cgroups,
 * so join a user namespace mapping root to the caller, bind the host's /sys
 * read-only, drop uid=/gid= mount options and all resources.
 */
function toRootless(spec: Spec, uid: number, gid: number): void {
  // Rebuilt rather than patched so the mappings come first, as in runc's output.
  const { resources: _dropped, ...linux } = spec.linux ?? {};
  const namespaces: Namespace[] = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  namespaces.push({ type: 'user' });
  spec.linux = {
    ...rootlessIdMappings(uid, gid),
    ...linux,
    namespaces,
  };
  spec.mounts = (spec.mounts ?? []).map(rootlessMount);
}

/**
 * The one mapping an unprivileged user may write without newuidmap: root in
 * the container is the caller (uid and gid), and no other id exists there.
 */
export function rootlessIdMappings(uid: number, gid: number): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
  };
}

/** A mount as an unprivileged user can make it: the host's /sys bound read-only, no uid=/gid= options. */
export function rootlessMount(m: Mount): Mount {
  if (cleanPath(m.destination) === '/sys') {
    return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
  }
  if (!m.options) return m;
  const options = m.options.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid='));
  return { ...m, options };
}

/** filepath.Clean for absolute paths: "/sys/" and "/sys/." are "/sys". */
function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return (p.startsWith('/') ? '/' : '') + parts.join('/');
}

/**
 * Writes spec as <bundleDir>/config.json (tab-indented, as runc does), never
 * replacing an existing file: the content goes to a temporary file first and
 * is linked into place, which fails atomically if config.json appeared.
 */
export function writeSpecFile(bundleDir: string, spec: Spec): string {
  let isDir: boolean;
  try {
    isDir = fs.statSync(bundleDir).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`bundle "${bundleDir}" does not exist`);
    throw e;
  }
  if (!isDir) throw new ConfigError(`bundle "${bundleDir}" is not a directory`);
  const target = path.join(bundleDir, 'config.json');
  const exists = (): ConfigError => new ConfigError(`config.json already exists in ${bundleDir}: remove it first`);
  if (fs.existsSync(target)) throw exists();
  const tmp = path.join(bundleDir, `.config.json.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(spec, null, '\t') + '\n', { flag: 'wx', mode: 0o666 });
    fs.linkSync(tmp, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.existsSync(target)) throw exists();
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return target;
}
