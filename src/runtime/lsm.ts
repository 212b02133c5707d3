// apparmorProfile, selinuxLabel and mountLabel: applied by the init where the
// host has that LSM (native/init/lsm.c). Where it has not, an AppArmor profile
// is refused with a clear error (a container asked to be confined must never
// run unconfined); SELinux labels are ignored with a debug line, as runc and
// crun do: a config generated on an SELinux host carries them, and without
// SELinux there is no label for a process or mount to have.
import { existsSync, readFileSync } from 'fs';
import type { Spec } from './config/types';
import { ConfigError, HostError } from './errors';

let cached: { apparmor: boolean; selinux: boolean } | undefined;

/** Which of the two LSMs the host runs (read once per process). */
export function hostLsms(): { apparmor: boolean; selinux: boolean } {
  if (!cached) {
    let apparmor = false;
    try {
      // As runc: the module on, and its securityfs there (profiles are looked up in it).
      apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y' && existsSync('/sys/kernel/security/apparmor');
    } catch {
      /* no AppArmor module */
    }
    const selinux = existsSync('/sys/fs/selinux/enforce');
    cached = { apparmor, selinux };
  }
  return cached;
}

/** One line per loaded profile: "NAME (MODE)"; readable by root once securityfs is mounted. */
const APPARMOR_PROFILES = '/sys/kernel/security/apparmor/profiles';

/**
 * Whether AppArmor has a profile of that name loaded, from the profiles
 * listing; undefined where that cannot be told here: securityfs not mounted,
 * or a name the listing does not show as such ("unconfined", a stack
 * "a//&b", a namespace ":ns:p"). The init's write then decides.
 */
export function apparmorProfileLoaded(name: string, listing?: string): boolean | undefined {
  if (name === 'unconfined' || name.includes('//&') || name.startsWith(':')) return undefined;
  let text = listing;
  if (text === undefined) {
    try {
      text = readFileSync(APPARMOR_PROFILES, 'utf8');
    } catch {
      return undefined;
    }
  }
  return text.split('\n').some((line) => line.replace(/ \([a-z_]+\)$/, '') === name);
}

export interface LsmPlan {
  apparmorProfile?: string;
  selinuxLabel?: string;
  mountLabel?: string;
}

export function planLsm(spec: Spec, debug: (m: string) => void = () => {}, host = hostLsms()): LsmPlan {
  const profile = spec.process?.apparmorProfile;
  let label = spec.process?.selinuxLabel;
  let mountLabel = spec.linux?.mountLabel;
  if (profile && !host.apparmor) {
    throw new ConfigError(`config.json: /process/apparmorProfile asks for AppArmor profile "${profile}", but this host does not run AppArmor: remove it, or run on a host with AppArmor enabled`);
  }
  if (!host.selinux) {
    if (label) debug(`config.json: /process/selinuxLabel "${label}" ignored: this host does not run SELinux (as runc and crun)`);
    if (mountLabel) debug(`config.json: /linux/mountLabel "${mountLabel}" ignored: this host does not run SELinux (as runc and crun)`);
    label = undefined;
    mountLabel = undefined;
  }
  for (const [what, v] of [['/process/apparmorProfile', profile], ['/process/selinuxLabel', label], ['/linux/mountLabel', mountLabel]] as const) {
    if (v !== undefined && /[\n"]/.test(v)) throw new ConfigError(`config.json: ${what} must not contain a newline or a double quote`);
  }
  // Checked here so the refusal comes before anything is made: the init's
  // write, just before exec, would fail only at start, with ENOENT.
  if (profile && apparmorProfileLoaded(profile) === false) {
    throw new HostError(`AppArmor profile "${profile}" (config.json: /process/apparmorProfile) is not loaded on this host (not in ${APPARMOR_PROFILES}): load it with apparmor_parser -r PROFILE_FILE, or name a loaded profile`);
  }
  return { apparmorProfile: profile || undefined, selinuxLabel: label || undefined, mountLabel: mountLabel || undefined };
}

/**
 * No context= option: bind mounts take no data, SELinux does not label proc
 * and sysfs, mqueue is labelled otherwise, and runc leaves cgroup alone.
 */
const NO_CONTEXT_OPTION = new Set(['bind', 'proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2']);

/**
 * linux.mountLabel as runc and crun apply it: context="LABEL" added to the
 * data of every other filesystem mounted for the container (tmpfs, devpts,
 * overlay, the tmpfs over masked directories).
 */
export function mountLabelData(type: string, data: string, mountLabel: string | undefined): string {
  if (!mountLabel || NO_CONTEXT_OPTION.has(type)) return data;
  const ctx = `context="${mountLabel}"`;
  return data ? `${data},${ctx}` : ctx;
}

/**
 * The label to set as the security.selinux attribute of a new mount's root,
 * for mqueue: a new IPC namespace comes with its mqueue superblock made, the
 * container's mount reuses it, and SELinux refuses a context= that differs
 * from its settings (EINVAL). runc and crun label it this way too.
 */
export function mountLabelXattr(type: string, mountLabel: string | undefined): string | undefined {
  return mountLabel && type === 'mqueue' ? mountLabel : undefined;
}

export function lsmRecords(p: LsmPlan): string[][] {
  const r: string[][] = [];
  if (p.apparmorProfile) r.push(['apparmor', p.apparmorProfile]);
  if (p.selinuxLabel) r.push(['selinux', p.selinuxLabel]);
  return r;
}
