// `docker run` options -> the runtime config of one container, on top of the
// image's config (src/image/bundle.ts imageConfigToSpec). Everything the user
// typed is checked here, before anything is made, so bad input leaves nothing.
import * as fs from 'fs';
import { isAbsolute, posix } from 'path';
import type { Mount, Spec } from '../runtime/config/types';
import { CAPABILITY_BITS } from '../runtime/config/tables';
import { rootlessIdMappings, rootlessMount } from '../runtime/config/default-spec';
import { UsageError, NotFoundError } from '../runtime/errors';
import { imageVolumeMounts } from './volumes';
import type { NetworkRequestPart } from './network';

/** What `ccrun run IMAGE` was asked for, parsed from the command line (the network part: src/frontend/network.ts). */
export interface RunRequest extends NetworkRequestPart {
  image: string;
  /** Replaces the image's Cmd when non-empty. */
  command: string[];
  name?: string;
  detach: boolean;
  autoRemove: boolean;
  interactive: boolean;
  tty: boolean;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  volumes: string[];
  tmpfs: string[];
  readOnly: boolean;
  memory?: string;
  cpus?: string;
  pidsLimit?: number;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  pull: 'missing' | 'always' | 'never';
  platform?: string;
  init: boolean;
  /** --security-opt: seccomp=unconfined|PROFILE.json, no-new-privileges[:true|false]. */
  securityOpts: string[];
}

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

function capName(text: string): string {
  const up = text.trim().toUpperCase();
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (up === 'ALL') return 'ALL';
  if (!CAPABILITY_BITS.has(name)) throw new UsageError(`unknown capability "${text}" (e.g. NET_ADMIN, SYS_PTRACE, or ALL)`);
  return name;
}

/** Docker's rules: drop ALL first, then add; add ALL gives everything. */
export function capabilitySet(add: string[], drop: string[], privileged: boolean): string[] {
  // Only what this kernel knows: capset refuses bits above cap_last_cap.
  const { readCapLast } = require('../runtime/plan') as typeof import('../runtime/plan');
  const last = readCapLast();
  const bounding = hostBoundingSet();
  const held = (name: string): boolean => {
    const bit = CAPABILITY_BITS.get(name)!;
    return bit <= last && (bounding === undefined || ((bounding >> BigInt(bit)) & 1n) === 1n);
  };
  const all = [...CAPABILITY_BITS.keys()].filter(held);
  if (privileged) return all;
  const adds = add.map(capName);
  const drops = drop.map(capName);
  let caps = drops.includes('ALL') ? [] : DOCKER_DEFAULT_CAPS.filter((c) => !drops.includes(c));
  if (adds.includes('ALL')) caps = [...all];
  for (const c of adds) if (c !== 'ALL' && !caps.includes(c)) caps.push(c);
  // A capability ccrun itself lacks cannot be given (capset would refuse).
  return caps.filter(held);
}

/** The capabilities ccrun may hand out: its own bounding set. */
function hostBoundingSet(): bigint | undefined {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

/** "512m", "1g", "1048576" -> bytes (Docker's units, powers of 1024). */
export function parseBytes(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: "${text}" is not a size (e.g. 512m, 1g, 1048576)`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase()] ?? 1;
  const n = Math.floor(Number(m[1]) * mult);
  if (n <= 0) throw new UsageError(`${what}: "${text}" must be more than 0`);
  return n;
}

/** KEY=VALUE lines; "KEY" alone takes the caller's value (skipped when unset), as docker does. */
export function parseEnvEntries(entries: string[], files: string[]): string[] {
  const out: string[] = [];
  const add = (line: string, where: string): void => {
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '' || /\s/.test(key)) throw new UsageError(`${where}: "${line}" is not KEY=VALUE`);
    if (eq >= 0) out.push(line);
    else if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`);
  };
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new NotFoundError(`--env-file: cannot read "${f}": ${(e as Error).message}`);
    }
    for (const line of text.split('\n')) add(line.replace(/^\s+/, '').replace(/\r$/, ''), `--env-file ${f}`);
  }
  for (const e of entries) add(e, '--env');
  return out;
}

/** -v HOST:CTR[:ro|rw] -> a bind mount. Named volumes are not supported yet: the host path must be absolute. */
export function parseVolume(spec: string): Mount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new UsageError(`--volume "${spec}": use HOST-PATH:CONTAINER-PATH[:ro] (e.g. -v /srv/data:/data:ro)`);
  }
  const [host, ctr, mode] = parts;
  if (!isAbsolute(host)) {
    throw new UsageError(`--volume "${spec}": the host path "${host}" must be absolute (named volumes are not supported)`);
  }
  if (!isAbsolute(ctr) || ctr.split('/').includes('..')) {
    throw new UsageError(`--volume "${spec}": the container path "${ctr}" must be absolute, without ".."`);
  }
  const opts = ['rbind', 'rprivate'];
  if (mode !== undefined) {
    const flags = mode.split(',');
    for (const f of flags) {
      if (f === 'ro') opts.push('ro');
      else if (f !== 'rw') throw new UsageError(`--volume "${spec}": mode "${f}" is not ro or rw`);
    }
  }
  if (!fs.existsSync(host)) throw new NotFoundError(`--volume "${spec}": the host path "${host}" does not exist (create it first)`);
  return { destination: posix.normalize(ctr), type: 'bind', source: host, options: opts };
}

/** --tmpfs CTR[:OPTIONS] */
export function parseTmpfs(spec: string): Mount {
  const colon = spec.indexOf(':');
  const dest = colon < 0 ? spec : spec.slice(0, colon);
  const extra = colon < 0 ? [] : spec.slice(colon + 1).split(',').filter(Boolean);
  if (!isAbsolute(dest) || dest.split('/').includes('..')) throw new UsageError(`--tmpfs "${spec}": the path must be absolute, without ".."`);
  return { destination: posix.normalize(dest), type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...extra] };
}

export interface GeneratedFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** The network namespace to join (made by the front end before each start); none: a new, empty one. */
  netns?: string;
}

/** Who runs ccrun: root, or an unprivileged user whose containers get a user namespace. */
export interface RunHost {
  /** The user's ids, mapped to root in the container (and no other id: /etc/subuid is not used). */
  rootless?: { uid: number; gid: number };
}

export function currentHost(): RunHost {
  const uid = process.geteuid?.() ?? 0;
  return uid === 0 ? {} : { rootless: { uid, gid: process.getegid?.() ?? uid } };
}

/**
 * Applies the request to `spec` (from imageConfigToSpec) in place: Docker's
 * namespaces, capabilities, generated /etc files, volumes, limits; for an
 * unprivileged user, a user namespace as rootless podman makes without sub-ids.
 */
export function applyRunRequest(spec: Spec, req: RunRequest, id: string, files: GeneratedFiles, host: RunHost = currentHost()): void {
  const proc = spec.process!;
  proc.terminal = req.tty;
  // Docker leaves no_new_privs off (setuid binaries work) and rlimits as the daemon's.
  proc.noNewPrivileges = false;
  delete proc.rlimits;
  const caps = capabilitySet(req.capAdd, req.capDrop, req.privileged);
  proc.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  applySecurityOpts(spec, req, caps);
  if (req.tty && !proc.env!.some((e) => e.startsWith('TERM='))) proc.env!.push('TERM=xterm');

  spec.hostname = req.hostname ?? id.slice(0, 12);
  spec.root!.readonly = req.readOnly;

  const linux = (spec.linux ??= {});
  linux.namespaces = ['pid', 'ipc', 'uts', 'mount', 'cgroup', ...(req.network === 'host' ? [] : ['network'])].map((type) => ({
    type: type as 'pid',
    ...(type === 'network' && files.netns ? { path: files.netns } : {}),
  }));
  if (host.rootless) {
    linux.namespaces.push({ type: 'user' });
    Object.assign(linux, rootlessIdMappings(host.rootless.uid, host.rootless.gid));
    checkRootlessUser(spec, req, host.rootless);
    // No devices controller for a user: its user namespace already keeps it from foreign devices.
    delete linux.resources?.devices;
  }
  if (req.privileged) {
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    if (!host.rootless) linux.resources = { ...(linux.resources ?? {}), devices: [{ allow: true, access: 'rwm' }] };
  }
  const resources = (linux.resources ??= {});
  if (req.memory !== undefined) resources.memory = { limit: parseBytes(req.memory, '--memory') };
  if (req.cpus !== undefined) {
    const n = Number(req.cpus);
    if (!/^\d+(\.\d+)?$/.test(req.cpus) || !(n > 0)) throw new UsageError(`--cpus: "${req.cpus}" is not a positive number of CPUs (e.g. 0.5, 2)`);
    resources.cpu = { quota: Math.round(n * 100000), period: 100000 };
  }
  if (req.pidsLimit !== undefined) {
    if (req.pidsLimit === 0 || req.pidsLimit < -1) throw new UsageError(`--pids-limit: ${req.pidsLimit} is not a limit (a positive number, or -1 for none)`);
    // -1 asks for no limit, which a rootless container without a cgroup has already.
    if (!(host.rootless && req.pidsLimit === -1)) resources.pids = { limit: req.pidsLimit };
  }

  // Mounts: the defaults, then the image's Volumes that no -v or --tmpfs
  // replaces, the /etc files, tmpfs and binds, sorted by the depth of their
  // destination as Docker does (stable: equal depths keep this order), so
  // that a mount on a parent never hides one below it.
  const userMounts = [...req.tmpfs.map(parseTmpfs), ...req.volumes.map(parseVolume)];
  let mounts = (spec.mounts ?? []).filter((m) => m.type !== 'bind');
  // Rootless as `spec --rootless` makes mounts, but sysfs stays: in its own
  // network namespace the container may mount a fresh one (only lo in
  // /sys/class/net), and with --network host the runtime binds the host's.
  if (host.rootless) mounts = mounts.map((m) => (m.type === 'sysfs' ? m : rootlessMount(m)));
  const added = imageVolumeMounts(spec.mounts ?? [], userMounts);
  const sysfs = mounts.find((m) => m.destination === '/sys');
  if (sysfs && req.privileged) sysfs.options = (sysfs.options ?? []).filter((o) => o !== 'ro');
  const etc = (dest: string, source: string): Mount => ({
    destination: dest,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate', ...(req.readOnly ? ['ro'] : [])],
  });
  added.push(etc('/etc/hostname', files.hostname), etc('/etc/hosts', files.hosts), etc('/etc/resolv.conf', files.resolvConf));
  added.push(...userMounts);
  const depth = (m: Mount): number => m.destination.split('/').filter(Boolean).length;
  mounts.push(...added.sort((a, b) => depth(a) - depth(b)));
  if (req.init) {
    // The reaper is a static host binary bound read-only: it runs in any image and is never written.
    mounts.push({ destination: '/dev/init', type: 'bind', source: reaperPath(), options: ['bind', 'ro', 'nosuid'] });
    proc.args = ['/dev/init', '--', ...(proc.args ?? [])];
  }
  spec.mounts = mounts;
}

/**
 * With the single mapping only root exists in the container: any other user
 * (from -u or the image's User) is refused by name rather than left to fail
 * in setuid. Supplementary groups are dropped: setgroups is denied in a user
 * namespace an unprivileged user makes, and no group but 0 is mapped there.
 */
function checkRootlessUser(spec: Spec, req: RunRequest, ids: { uid: number; gid: number }): void {
  const user = spec.process!.user;
  delete user.additionalGids;
  if (user.uid === 0 && user.gid === 0) return;
  const who = req.user !== undefined ? `-u ${req.user}` : "the image's User";
  throw new UsageError(
    `${who} runs as uid ${user.uid}, gid ${user.gid}, which is not mapped in a rootless container: ccrun maps only root (uid 0, gid 0) in the container to you (uid ${ids.uid}, gid ${ids.gid}), without /etc/subuid ranges; run as root in the container (-u 0) or run ccrun as root`,
  );
}

/**
 * Docker's default seccomp profile (for the capabilities given) unless
 * --privileged or --security-opt seccomp=unconfined; seccomp=FILE loads a profile.
 */
function applySecurityOpts(spec: Spec, req: RunRequest, caps: string[]): void {
  let seccomp: string | undefined = req.privileged ? 'unconfined' : undefined;
  for (const o of req.securityOpts) {
    const eq = o.search(/[=:]/);
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? '' : o.slice(eq + 1);
    if (key === 'seccomp' && value) seccomp = value;
    else if (key === 'no-new-privileges') {
      if (!/^(|true|false)$/.test(value)) throw new UsageError(`--security-opt ${o}: no-new-privileges takes true or false`);
      spec.process!.noNewPrivileges = value !== 'false';
    } else throw new UsageError(`--security-opt "${o}" is not supported (use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges)`);
  }
  const linux = (spec.linux ??= {});
  if (seccomp === 'unconfined') {
    delete linux.seccomp;
  } else if (seccomp !== undefined) {
    try {
      linux.seccomp = JSON.parse(fs.readFileSync(seccomp, 'utf8')) as NonNullable<typeof linux.seccomp>;
    } catch (e) {
      throw new UsageError(`--security-opt seccomp=${seccomp}: cannot read the profile: ${(e as Error).message}`);
    }
  } else {
    const { defaultSeccompProfile } = require('../runtime/default-seccomp') as typeof import('../runtime/default-seccomp');
    linux.seccomp = defaultSeccompProfile(caps);
  }
}

/** The static ccrun-reaper built next to ccrun-init (binding.gyp). */
export function reaperPath(): string {
  const p = process.env.CCRUN_REAPER_PATH || require('path').join(__dirname, '..', '..', 'build', 'Release', 'ccrun-reaper');
  if (!fs.existsSync(p)) throw new NotFoundError(`--init: the reaper ${p} is not built (npx node-gyp configure && npx node-gyp build)`);
  return p;
}

/** Checks what can be checked from the request alone (before the image is looked at). */
export function checkRunRequest(req: RunRequest, host: RunHost = currentHost()): void {
  for (const v of req.volumes) parseVolume(v);
  for (const t of req.tmpfs) parseTmpfs(t);
  capabilitySet(req.capAdd, req.capDrop, req.privileged);
  if (req.memory !== undefined) parseBytes(req.memory, '--memory');
  if (req.init) reaperPath();
  if (host.rootless) checkRootlessLimits(req, host.rootless.uid);
  (require('./network') as typeof import('./network')).checkNetworkRequest(req);
}

/** Limits need a cgroup, which an unprivileged user has only where one is delegated to it. */
function checkRootlessLimits(req: RunRequest, uid: number): void {
  const asked = [
    ...(req.memory !== undefined ? ['--memory'] : []),
    ...(req.cpus !== undefined ? ['--cpus'] : []),
    ...(req.pidsLimit !== undefined && req.pidsLimit !== -1 ? ['--pids-limit'] : []),
  ];
  if (asked.length === 0) return;
  const { rootlessCgroupProblem } = require('../cgroups') as typeof import('../cgroups');
  const problem = rootlessCgroupProblem({ uid });
  if (problem === undefined) return;
  throw new UsageError(
    `${asked.join(', ')}: resource limits need a cgroup, and this rootless run has none (${problem}): drop ${asked.length > 1 ? 'them' : 'it'}, or run ccrun as root or as a user with a delegated cgroup v2 (systemd's user@${uid}.service)`,
  );
}
