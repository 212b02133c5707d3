// kill: signals a container's init (or, with --all, every process in its
// cgroup). Apart from container.ts so that `kill`, which engines call for
// every container, does not load the create path (plan, launch, hooks).
import { StateError, CcrunError } from './errors';
import { parseSignal } from './config/signals';
import { openContainerCgroup } from './cgroup-link';
import { observe, type RuntimeContext } from './status';

export function parseKillSignal(text: string | undefined): number {
  const sig = parseSignal(text ?? 'TERM');
  if (sig === undefined) throw new CcrunError(`unknown signal "${text}"`);
  return sig;
}

export async function killContainer(ctx: RuntimeContext, id: string, signal: number, all = false): Promise<void> {
  const o = observe(ctx, id);
  if (o.status === 'stopped' || o.status === 'creating') {
    throw new StateError(`cannot kill container "${id}": container not running (${o.status})`);
  }
  if (all && o.saved.cgroup) {
    const cg = openContainerCgroup({ id, ...o.saved.cgroup });
    // Without a cgroup (rootless, not delegated) the init is all we can reach.
    if (Object.keys(cg.paths()).length > 0) {
      cg.signalAll(signal);
      if (o.status === 'paused' && signal === 9) await cg.thaw();
      return;
    }
  }
  try {
    process.kill(o.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') throw new StateError(`cannot kill container "${id}": no such process`);
    throw e;
  }
  if (o.status === 'paused' && signal === 9 && o.saved.cgroup) {
    await openContainerCgroup({ id, ...o.saved.cgroup }).thaw();
  }
}
