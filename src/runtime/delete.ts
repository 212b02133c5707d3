// `delete`: removes a stopped (or, forced, any) container and all it holds:
// the init, the cgroup, a shared-root mount, the state; then the poststop
// hooks. Its own module so that `ccrun delete` does not load the create path.
import type { Hooks } from './config/types';
import { checkContainerId, isSameProcessAlive } from './state';
import { openContainerCgroup } from './cgroup-link';
import type { CgroupManager } from '../cgroups';
import { StateError, containerNotFound } from './errors';
import { runHooksWarning, type HookState } from './hooks';
import { observe, type RuntimeContext } from './status';
import type * as SharedMountNs from './shared-mount-ns';
// Only a container without a mount namespace needs it (and, through it, the native addon's module).
const sharedNs = (): typeof SharedMountNs => require('./shared-mount-ns') as typeof SharedMountNs;

async function waitGone(pid: number, startTime: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isSameProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * cgroup: the container's cgroup when the caller has it open (run, which
 * created it): finding it again (the mode, the v1 hierarchies) is ~1 ms.
 */
export async function deleteContainer(ctx: RuntimeContext, id: string, force = false, cgroup?: CgroupManager): Promise<void> {
  checkContainerId(id);
  if (!ctx.store.exists(id)) {
    if (force) return;
    throw containerNotFound(id);
  }
  await ctx.store.withLock(id, async () => {
    const o = observe(ctx, id);
    if (o.status === 'creating') {
      if (!force) throw new StateError(`cannot delete container "${id}": it is still being created (use --force to remove its state)`);
    } else if (o.status === 'running' || o.status === 'paused') {
      if (!force) {
        throw new StateError(`cannot delete container "${id}" that is not stopped: ${o.status} (stop it first, or use --force)`);
      }
    }
    const cg = o.saved.cgroup ? (cgroup ?? openContainerCgroup({ id, ...o.saved.cgroup })) : undefined;
    const sharedRoot = o.saved.sharedRoot && sharedNs().checkSharedRootReachable(id, o.saved.sharedRoot, force, ctx.warn) ? o.saved.sharedRoot : undefined;
    if (o.status !== 'stopped' && o.status !== 'creating') {
      try {
        process.kill(o.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      if (o.status === 'paused') await cg?.thaw().catch(() => undefined);
      if (!(await waitGone(o.pid, o.saved.pidStartTime, 10_000))) {
        throw new StateError(`container "${id}": init ${o.pid} did not die after SIGKILL`);
      }
    }
    // destroy() kills whatever is left in the cgroup (a container without a
    // pid namespace) before removing it.
    if (cg) await cg.destroy();
    if (sharedRoot) sharedNs().detachSharedRoot(id, sharedRoot, ctx.warn);
    ctx.store.remove(id);
    // poststop: after the container is gone, before delete returns; each
    // failure is a warning and the rest still run.
    const hooks = o.saved.hooks as Hooks | undefined;
    if (hooks?.poststop?.length) {
      const state: HookState = { ociVersion: o.saved.ociVersion, id, status: 'stopped', pid: 0, bundle: o.saved.bundle, annotations: o.saved.annotations };
      runHooksWarning('poststop', hooks, state, ctx.warn);
    }
  });
}
