// Network namespaces the front end makes for its containers before the OCI
// create, as `ip netns add` does: a new namespace kept alive by a bind mount
// of its nsfs file, so the CNI plugins can work in it (CNI_NETNS) and the
// container's config.json can join it (linux.namespaces path). The native
// addon makes, binds and detaches them in this process: a process of
// unshare(1), mount(8) or umount(8) for each cost ~5 ms of every run.
import * as fs from 'fs';
import { dirname } from 'path';
import { native } from '../native';
import { HostError } from '../runtime/errors';

/** An empty file to bind a namespace on (as `ip netns add` makes under /run/netns). */
function mountPoint(path: string): void {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path, '', { mode: 0o444 });
}

export function createNetns(path: string): void {
  mountPoint(path);
  try {
    native().makeNetns(path);
  } catch (e) {
    fs.rmSync(path, { force: true });
    throw new HostError(`cannot make the container's network namespace ${path}: ${(e as Error).message} (it needs root)`);
  }
}

export function isMounted(path: string): boolean {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
  } catch {
    return false;
  }
}

/** Idempotent: a namespace that is gone already (reboot, earlier cleanup) is no error. */
export function removeNetns(path: string): void {
  if (isMounted(path)) {
    try {
      native().detachMount(path);
    } catch (e) {
      throw new HostError(`cannot unmount the network namespace ${path}: ${(e as Error).message}`);
    }
  }
  fs.rmSync(path, { force: true });
}

/**
 * Binds the caller's own network namespace to `path`, so that whoever
 * releases the container later (its monitor, inside the container's
 * namespace) can act in the namespace its networks were set up in.
 */
export function pinOwnNetns(path: string): void {
  mountPoint(path);
  try {
    native().bindMount('/proc/self/ns/net', path);
  } catch (e) {
    fs.rmSync(path, { force: true });
    throw new HostError(`cannot keep a reference to this network namespace at ${path}: ${(e as Error).message}`);
  }
}

/** Whether `path` (a bound nsfs file) is the caller's own network namespace. */
export function isOwnNetns(path: string): boolean {
  try {
    return fs.statSync(path).ino === fs.statSync('/proc/self/ns/net').ino;
  } catch {
    return false;
  }
}
