// Linux names and numbers the config refers to. One table each, shared by the
// planner (what we do), the schema checks and `ccrun features` (what we say
// we do), so the three cannot drift apart.

export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID',
  'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Capability name (with CAP_ prefix) -> bit number. */
export const CAPABILITY_BITS: ReadonlyMap<string, number> = new Map(CAPABILITIES.map((c, i) => [c, i]));

// mount(2) flags (linux/mount.h).
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** A mount option that sets (clear=false) or clears (clear=true) a flag. */
export interface MountFlagOption {
  flag: number;
  clear: boolean;
}

export const MOUNT_FLAG_OPTIONS: ReadonlyMap<string, MountFlagOption> = new Map([
  ['defaults', { flag: 0, clear: false }],
  ['ro', { flag: MS.RDONLY, clear: false }],
  ['rw', { flag: MS.RDONLY, clear: true }],
  ['suid', { flag: MS.NOSUID, clear: true }],
  ['nosuid', { flag: MS.NOSUID, clear: false }],
  ['dev', { flag: MS.NODEV, clear: true }],
  ['nodev', { flag: MS.NODEV, clear: false }],
  ['exec', { flag: MS.NOEXEC, clear: true }],
  ['noexec', { flag: MS.NOEXEC, clear: false }],
  ['sync', { flag: MS.SYNCHRONOUS, clear: false }],
  ['async', { flag: MS.SYNCHRONOUS, clear: true }],
  ['dirsync', { flag: MS.DIRSYNC, clear: false }],
  ['remount', { flag: MS.REMOUNT, clear: false }],
  ['mand', { flag: MS.MANDLOCK, clear: false }],
  ['nomand', { flag: MS.MANDLOCK, clear: true }],
  ['atime', { flag: MS.NOATIME, clear: true }],
  ['noatime', { flag: MS.NOATIME, clear: false }],
  ['diratime', { flag: MS.NODIRATIME, clear: true }],
  ['nodiratime', { flag: MS.NODIRATIME, clear: false }],
  ['bind', { flag: MS.BIND, clear: false }],
  ['rbind', { flag: MS.BIND | MS.REC, clear: false }],
  ['relatime', { flag: MS.RELATIME, clear: false }],
  ['norelatime', { flag: MS.RELATIME, clear: true }],
  ['strictatime', { flag: MS.STRICTATIME, clear: false }],
  ['nostrictatime', { flag: MS.STRICTATIME, clear: true }],
  ['lazytime', { flag: MS.LAZYTIME, clear: false }],
  ['nolazytime', { flag: MS.LAZYTIME, clear: true }],
  ['symfollow', { flag: MS.NOSYMFOLLOW, clear: true }],
  ['nosymfollow', { flag: MS.NOSYMFOLLOW, clear: false }],
  ['silent', { flag: MS.SILENT, clear: false }],
  ['loud', { flag: MS.SILENT, clear: true }],
]);

export const PROPAGATION_OPTIONS: ReadonlyMap<string, number> = new Map([
  ['private', MS.PRIVATE],
  ['rprivate', MS.PRIVATE | MS.REC],
  ['shared', MS.SHARED],
  ['rshared', MS.SHARED | MS.REC],
  ['slave', MS.SLAVE],
  ['rslave', MS.SLAVE | MS.REC],
  ['unbindable', MS.UNBINDABLE],
  ['runbindable', MS.UNBINDABLE | MS.REC],
]);

// mount_setattr(2) MOUNT_ATTR_* bits, for the recursive options (rro, rnosuid...).
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

export const RECURSIVE_MOUNT_OPTIONS: ReadonlyMap<string, { attr: number; clear: boolean }> = new Map([
  ['rro', { attr: MOUNT_ATTR.RDONLY, clear: false }],
  ['rrw', { attr: MOUNT_ATTR.RDONLY, clear: true }],
  ['rnosuid', { attr: MOUNT_ATTR.NOSUID, clear: false }],
  ['rsuid', { attr: MOUNT_ATTR.NOSUID, clear: true }],
  ['rnodev', { attr: MOUNT_ATTR.NODEV, clear: false }],
  ['rdev', { attr: MOUNT_ATTR.NODEV, clear: true }],
  ['rnoexec', { attr: MOUNT_ATTR.NOEXEC, clear: false }],
  ['rexec', { attr: MOUNT_ATTR.NOEXEC, clear: true }],
  ['rnoatime', { attr: MOUNT_ATTR.NOATIME, clear: false }],
  ['ratime', { attr: MOUNT_ATTR.NOATIME, clear: true }],
  ['rnodiratime', { attr: MOUNT_ATTR.NODIRATIME, clear: false }],
  ['rdiratime', { attr: MOUNT_ATTR.NODIRATIME, clear: true }],
  ['rstrictatime', { attr: MOUNT_ATTR.STRICTATIME, clear: false }],
  ['rnosymfollow', { attr: MOUNT_ATTR.NOSYMFOLLOW, clear: false }],
  ['rsymfollow', { attr: MOUNT_ATTR.NOSYMFOLLOW, clear: true }],
]);

/** Options ccrun accepts and handles itself rather than passing to mount(2). */
export const SPECIAL_MOUNT_OPTIONS: readonly string[] = ['tmpcopyup', 'idmap', 'ridmap'];

export const MOUNT_TYPES: readonly string[] = [
  'bind', 'proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'overlay', 'none',
];

// clone(2) flags per namespace type, and the /proc/PID/ns file names.
export const NAMESPACES: ReadonlyMap<string, { flag: number; proc: string }> = new Map([
  ['mount', { flag: 0x00020000, proc: 'mnt' }],
  ['uts', { flag: 0x04000000, proc: 'uts' }],
  ['ipc', { flag: 0x08000000, proc: 'ipc' }],
  ['user', { flag: 0x10000000, proc: 'user' }],
  ['pid', { flag: 0x20000000, proc: 'pid' }],
  ['network', { flag: 0x40000000, proc: 'net' }],
  ['cgroup', { flag: 0x02000000, proc: 'cgroup' }],
  ['time', { flag: 0x00000080, proc: 'time' }],
]);

export const RLIMITS: ReadonlyMap<string, number> = new Map([
  ['RLIMIT_CPU', 0], ['RLIMIT_FSIZE', 1], ['RLIMIT_DATA', 2], ['RLIMIT_STACK', 3],
  ['RLIMIT_CORE', 4], ['RLIMIT_RSS', 5], ['RLIMIT_NPROC', 6], ['RLIMIT_NOFILE', 7],
  ['RLIMIT_MEMLOCK', 8], ['RLIMIT_AS', 9], ['RLIMIT_LOCKS', 10], ['RLIMIT_SIGPENDING', 11],
  ['RLIMIT_MSGQUEUE', 12], ['RLIMIT_NICE', 13], ['RLIMIT_RTPRIO', 14], ['RLIMIT_RTTIME', 15],
]);
