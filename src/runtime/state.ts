// Container state on disk: one directory per container under the state root
// (--root), with state.json written atomically (temp file + rename), the
// start fifo while the container is "created", and a lock file that
// serialises commands that change the container.
import * as fs from 'fs';
import { join } from 'path';
import { ConfigError, HostError, StateError, containerNotFound } from './errors';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** What runc's `state` prints, plus what later commands need. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** Saved in state.json; `status` and `pid` are derived when read. */
export interface SavedState {
  ociVersion: string;
  id: string;
  /** Host pid of the container's init. */
  pid: number;
  /** Start time of the init (field 22 of /proc/PID/stat) so a recycled pid is never taken for it. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /**
   * How to reopen the cgroup: the id and the config's cgroupsPath; and the
   * file that says whether it is frozen ("" without a freezer), so `state`
   * reads that one file instead of finding the cgroup; and the directory
   * `ps` lists the processes of (CgroupManager.procsDir, "" without a
   * cgroup). Both are absent in older states.
   */
  cgroup?: { cgroupsPath?: string; rootless: boolean; freezeFile?: string; procsDir?: string };
  /** Namespace types the container made or joined (for exec). */
  namespaces: string[];
  /** The process spec, for exec defaults. */
  process?: unknown;
  hooks?: unknown;
  /** linux.seccomp as created, so exec gets the same filter. */
  seccomp?: unknown;
  /** Set once the container was started (the fifo is gone). */
  started?: boolean;
  /** Free-form, for the Docker-style front end (name, image, ...). */
  extra?: Record<string, unknown>;
  /** No mount namespace: the rootfs bind made in the caller's, detached at delete (shared-mount-ns.ts). */
  sharedRoot?: { mountNs: string; rootfs: string; mountId: number };
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Ids become directory names: only [A-Za-z0-9][A-Za-z0-9_.-]*, so none can escape the state root. */
export function checkContainerId(id: string): void {
  if (!id) throw new ConfigError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id.length > 1024) {
    throw new ConfigError(`invalid container id "${id}": use letters, digits, "_", "." and "-", starting with a letter or digit`);
  }
}

/** root: /run/ccrun; other users: $XDG_RUNTIME_DIR/ccrun, or /tmp/ccrun-UID without one (as podman's /tmp/podman-run-UID). */
export function defaultStateRoot(): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) return '/run/ccrun';
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg ? join(xdg, 'ccrun') : `/tmp/ccrun-${uid}`;
}

/**
 * An unprivileged user's state root must be its own: in a shared place such
 * as /tmp another user could have made it first, and would then see and
 * steer the containers' state.
 */
function checkStateRootOwner(root: string): void {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) return;
  const st = fs.lstatSync(root);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    const what = !st.isDirectory() ? 'is not a directory' : st.uid !== uid ? `belongs to uid ${st.uid}` : 'may be written by other users';
    throw new HostError(`the state directory ${root} ${what}: it must be your own (uid ${uid}); set XDG_RUNTIME_DIR or --root to a directory of yours`);
  }
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, ...]. */
export function readProcStat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Start time of pid in clock ticks since boot, or undefined if it is gone. */
export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.[19];
}

/** True while pid is the same live (not zombie) process that was recorded. */
export function isSameProcessAlive(pid: number, startTime: string): boolean {
  if (pid <= 0) return false;
  const stat = readProcStat(pid);
  if (!stat) return false;
  if (stat[0] === 'Z' || stat[0] === 'X') return false;
  return stat[19] === startTime;
}

export class StateStore {
  constructor(readonly root: string = defaultStateRoot()) {}

  dir(id: string): string {
    checkContainerId(id);
    return join(this.root, id);
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /**
   * The fifo through which the parked init tells `start` how the start went:
   * an error message (a startContainer hook or the exec failed), or nothing
   * and end-of-file once the user process is executed (close-on-exec).
   */
  startResultPath(id: string): string {
    return join(this.dir(id), 'start.result');
  }

  exists(id: string): boolean {
    return fs.existsSync(this.dir(id));
  }

  /** Makes the container's directory; a second create of one id fails here, atomically. */
  reserve(id: string): string {
    const dir = this.dir(id);
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    } catch (e) {
      throw new HostError(`cannot make the state directory ${this.root}: ${(e as Error).message} (set --root, or XDG_RUNTIME_DIR for a user, to a directory you may write)`);
    }
    checkStateRootOwner(this.root);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StateError(`container "${id}" already exists`);
      throw e;
    }
    return dir;
  }

  save(state: SavedState): void {
    const dir = this.dir(state.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(tmp, join(dir, 'state.json'));
  }

  /** The saved state, or undefined while the container is still being created. */
  load(id: string): SavedState | undefined {
    const dir = this.dir(id);
    let text: string;
    try {
      text = fs.readFileSync(join(dir, 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (fs.existsSync(dir)) return undefined;
        throw containerNotFound(id);
      }
      throw e;
    }
    return JSON.parse(text) as SavedState;
  }

  /** Loads a container that must exist and be fully created. */
  require(id: string): SavedState {
    const s = this.load(id);
    if (!s) throw new StateError(`container "${id}" is still being created`);
    return s;
  }

  list(): string[] {
    try {
      return fs
        .readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && ID_PATTERN.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  remove(id: string): void {
    (require('./remove-dir') as typeof import('./remove-dir')).removeDirectory(this.dir(id));
  }

  /**
   * Runs fn holding the container's lock (a lock file made with O_EXCL that
   * holds our pid; a lock whose holder died is broken).
   */
  async withLock<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    const lock = join(this.dir(id), '.lock');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const fd = fs.openSync(lock, 'wx', 0o600);
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw containerNotFound(id);
        if (code !== 'EEXIST') throw e;
        let holder = 0;
        try {
          holder = Number(fs.readFileSync(lock, 'utf8'));
        } catch {
          continue;
        }
        if (holder > 0 && !fs.existsSync(`/proc/${holder}`)) {
          try {
            fs.unlinkSync(lock);
          } catch {
            /* someone else broke it first */
          }
          continue;
        }
        if (Date.now() > deadline) throw new StateError(`container "${id}" is locked by process ${holder}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      return await fn();
    } finally {
      try {
        fs.unlinkSync(lock);
      } catch {
        /* removed with the directory by delete */
      }
    }
  }
}
