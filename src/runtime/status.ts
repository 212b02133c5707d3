// The read-only side of the lifecycle: a container's status derived from the
// host, its state as `state` prints it, and the list. Kept apart from
// container.ts so `state` and `list` load only this, state.ts and (for a
// running container) the cgroup library.
import * as fs from 'fs';
import { StateStore, isSameProcessAlive, type ContainerState, type SavedState, type Status } from './state';
import { openContainerCgroup } from './cgroup-link';

export const OCI_VERSION = '1.2.0';

export interface RuntimeContext {
  store: StateStore;
  warn: (msg: string) => void;
  debug?: (msg: string) => void;
}

export interface Observed {
  saved: SavedState;
  status: Status;
  pid: number;
}

/** The container's status, derived honestly from the host: never trusted from disk. */
export function observe(ctx: RuntimeContext, id: string): Observed {
  const saved = ctx.store.load(id);
  if (!saved) {
    // The directory exists but create has not finished (or died mid-way).
    return {
      saved: { ociVersion: OCI_VERSION, id, pid: 0, pidStartTime: '', bundle: '', rootfs: '', created: '', owner: '', namespaces: [] },
      status: 'creating',
      pid: 0,
    };
  }
  if (!isSameProcessAlive(saved.pid, saved.pidStartTime)) return { saved, status: 'stopped', pid: 0 };
  // A frozen container is paused whether or not it was started (as runc).
  if (saved.cgroup && isFrozen(id, saved.cgroup)) return { saved, status: 'paused', pid: saved.pid };
  if (fs.existsSync(ctx.store.fifoPath(id))) return { saved, status: 'created', pid: saved.pid };
  return { saved, status: 'running', pid: saved.pid };
}

function isFrozen(id: string, ref: NonNullable<SavedState['cgroup']>): boolean {
  try {
    if (ref.freezeFile === undefined) return openContainerCgroup({ id, ...ref }).frozen();
    if (ref.freezeFile === '') return false;
    let text: string | undefined;
    try {
      text = fs.readFileSync(ref.freezeFile, 'utf8');
    } catch {
      /* the cgroup is gone: not frozen */
    }
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return text !== undefined && (require('../cgroups') as typeof import('../cgroups')).frozenFromText(text);
  } catch {
    return false; // no cgroup to ask: not paused
  }
}

export function containerState(ctx: RuntimeContext, id: string): ContainerState {
  const o = observe(ctx, id);
  const s: ContainerState = {
    ociVersion: o.saved.ociVersion,
    id,
    pid: o.pid,
    status: o.status,
    bundle: o.saved.bundle,
    rootfs: o.saved.rootfs,
    created: o.saved.created,
    owner: o.saved.owner,
  };
  if (o.saved.annotations && Object.keys(o.saved.annotations).length > 0) s.annotations = o.saved.annotations;
  return s;
}

export function listContainers(ctx: RuntimeContext): ContainerState[] {
  const out: ContainerState[] = [];
  for (const id of ctx.store.list()) {
    try {
      out.push(containerState(ctx, id));
    } catch {
      /* removed while listing */
    }
  }
  return out;
}

