// Network namespaces the front end makes for its containers before the OCI
// create, as `ip netns add` does: a new namespace kept alive by a bind mount
// of its nsfs file, so the CNI plugins can work in it (CNI_NETNS) and the
// container's config.json can join it (linux.namespaces path). util-linux
// `unshare --net=FILE` makes the mount; removing is an unmount and unlink.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { dirname } from 'path';
import { HostError } from '../runtime/errors';

export function createNetns(path: string): void {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path, '', { mode: 0o444 });
  const r = spawnSync('unshare', [`--net=${path}`, 'true'], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(path, { force: true });
    const why = r.error ? r.error.message : r.stderr.trim();
    throw new HostError(`cannot make the container's network namespace ${path}: ${why} (util-linux unshare is needed, and root)`);
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
    const r = spawnSync('umount', ['--lazy', path], { encoding: 'utf8' });
    if (r.status !== 0) throw new HostError(`cannot unmount the network namespace ${path}: ${r.stderr.trim()}`);
  }
  fs.rmSync(path, { force: true });
}

/**
 * Binds the caller's own network namespace to `path`, so that whoever
 * releases the container later (its monitor, inside the container's
 * namespace) can act in the namespace its networks were set up in.
 */
export function pinOwnNetns(path: string): void {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path, '', { mode: 0o444 });
  const r = spawnSync('mount', ['--bind', '/proc/self/ns/net', path], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(path, { force: true });
    throw new HostError(`cannot keep a reference to this network namespace at ${path}: ${(r.error?.message ?? r.stderr).trim()}`);
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
