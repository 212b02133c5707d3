// A container without a mount namespace of its own (runtime-spec: a namespace
// not listed in linux.namespaces is shared with the runtime). As with runc,
// its rootfs, /proc, /dev and the config's mounts are set up in the caller's
// mount namespace, under a bind of the rootfs on itself (native/init/rootfs.c),
// and the init chroots into it. runc leaves those mounts behind; ccrun
// records the bind (mount namespace and mount id) at create and detaches it,
// with everything below it, at delete, or when create fails.
import { readFileSync, readlinkSync } from 'fs';
import { native } from '../native';
import { ConfigError, StateError } from './errors';

/** What create mounted in the caller's mount namespace (saved in the state). */
export interface SharedRootMount {
  /** The caller's mount namespace, as /proc/self/ns/mnt reads ("mnt:[N]"). */
  mountNs: string;
  rootfs: string;
  /** The rootfs bind's mount id (mountinfo's first field). */
  mountId: number;
}

/** What cannot work without a mount namespace, refused by name before anything is made. */
export function checkWithoutMountNamespace(o: { newUser: boolean; rootless: boolean; rootOverlay: boolean }): void {
  const why = 'cannot mount the rootfs in the caller\'s mount namespace';
  if (o.newUser) throw new ConfigError(`config.json: /linux/namespaces has a new user namespace but no mount namespace: its root ${why} (add {"type": "mount"})`);
  if (o.rootless) throw new ConfigError(`config.json: /linux/namespaces has no mount namespace: ccrun run by a non-root user ${why} (add {"type": "mount"})`);
  if (o.rootOverlay) throw new ConfigError('an overlay root needs a mount namespace of the container\'s own');
}

export function currentMountNs(): string {
  return readlinkSync('/proc/self/ns/mnt');
}

/** mountinfo's octal escapes (\040 for a space...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mounts stacked at `path` in our mount namespace, bottom first (mount ids). */
export function mountStackAt(path: string): number[] {
  const at = new Map<number, number>(); // id -> parent id
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescape(f[4]) === path) at.set(Number(f[0]), Number(f[1]));
  }
  const stack: number[] = [];
  let below = [...at.keys()].find((id) => !at.has(at.get(id)!));
  while (below !== undefined) {
    stack.push(below);
    at.delete(below);
    const parent = below;
    below = [...at.keys()].find((id) => at.get(id) === parent);
  }
  return stack;
}

/** The bind the init made on the rootfs: the top of the stack, unless it was there before. */
export function recordSharedRoot(rootfs: string, before: number[]): SharedRootMount | undefined {
  const top = mountStackAt(rootfs).pop();
  if (top === undefined || before.includes(top)) return undefined;
  return { mountNs: currentMountNs(), rootfs, mountId: top };
}

/**
 * Failed create: detaches what the init mounted on the rootfs (the mounts on
 * top that were not there before). A failure is a warning: the create's own
 * error is the one to report.
 */
export function detachNewMounts(rootfs: string, before: number[], warn: (msg: string) => void): void {
  const made = mountStackAt(rootfs).filter((id) => !before.includes(id));
  try {
    for (let i = 0; i < made.length; i++) native().detachMount(rootfs);
  } catch (e) {
    warn(`the failed create left mounts on ${rootfs} in this mount namespace (${(e as Error).message}): umount -R ${rootfs}`);
  }
}

/**
 * Before delete removes anything: its mounts can only be reached from the
 * mount namespace they are in. With force, a warning, and delete goes on
 * (the mounts go away with that namespace's last process).
 */
export function checkSharedRootReachable(id: string, m: SharedRootMount, force: boolean, warn: (msg: string) => void): boolean {
  const here = currentMountNs();
  if (here === m.mountNs) return true;
  const msg = `container "${id}" has no mount namespace: its rootfs mounts are in the caller's at create (${m.mountNs}), not this one (${here})`;
  if (!force) throw new StateError(`${msg}: run delete from that mount namespace`);
  warn(`${msg}: left there (unmount them with umount -R ${m.rootfs} in it)`);
  return false;
}

/** Delete: detaches the rootfs bind and all below it, if it is still the top mount there. */
export function detachSharedRoot(id: string, m: SharedRootMount, warn: (msg: string) => void): void {
  const stack = mountStackAt(m.rootfs);
  if (!stack.includes(m.mountId)) return; // already gone
  if (stack[stack.length - 1] !== m.mountId) {
    warn(`container "${id}": something was mounted over its rootfs ${m.rootfs} since create: its mounts are left there (umount -R ${m.rootfs})`);
    return;
  }
  native().detachMount(m.rootfs);
}
