// Talking to ccrun-init: spawn it (posix_spawn through the addon: Node's
// child_process forks the whole Node process, ~10 ms here) with the caller's
// stdio and preserved fds, send the plan, answer its "pid" with "go" once the
// caller has placed the init (cgroup), and wait for "ready" or "error".
// The conversation is short and strictly ordered, so it is synchronous.
// See native/init/main.c for the other side.
import * as fs from 'fs';
import type { LaunchPlan } from './plan';
import { planToRecords, encodeRecords, FrameReader, type WireRecord } from './plan-encoding';
import { initHelperPath, native } from '../native';
import { ContainerSetupError } from './errors';

export interface Launched {
  /** Host pid of the container init (create) or the new process (exec). */
  pid: number;
  /** Pid of the ccrun-init helper. */
  helperPid: number;
  /**
   * Resolves with the helper's exit code once it is gone: the process's
   * status (code, or 128+signal) when plan.wait. Waits without blocking the
   * event loop, so signal handlers keep running.
   */
  exited(): Promise<number>;
}

export interface LaunchOptions {
  /** Called with the init's host pid before it is let go (e.g. to put it in its cgroup). */
  onPid?: (pid: number) => void;
  /**
   * create: the init is set up and about to pivot_root; run prestart and
   * createRuntime hooks and return the state JSON for the init's own
   * createContainer and startContainer hooks. Throwing fails the create.
   */
  onHooks?: (pid: number) => [string, string];
  /**
   * SCMP_ACT_NOTIFY: the container process state for the seccomp agent, for
   * the process with this host pid. create: sent with the hook state; exec:
   * in answer to "pid" (the new process waits for it before it is ready).
   */
  seccompState?: (pid: number) => string;
  /** Called with the helper's pid before it gets the plan (exec: join the container's cgroup before forking). */
  beforePlan?: (helperPid: number) => void;
  /**
   * One end of a socketpair for the pty master, in place of a console socket
   * path (ccrun owns the terminal). Handed to the helper and closed here.
   */
  consoleFd?: number;
  /** The helper's (and so the process's) stdin, stdout, stderr; default ours. */
  stdio?: [number, number, number];
  /**
   * Fds the helper inherits and keeps while it lives (a monitor holding a
   * container's host ports). They are close-on-exec in the helper (its
   * close_range at start), so neither the container's process nor the
   * monitor's exit command gets them.
   */
  holdFds?: number[];
}

function readFrames(fd: number, reader: FrameReader, buf: Buffer): string[][] | undefined {
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EINTR') continue;
      return undefined;
    }
    if (n === 0) return undefined;
    const frames = reader.push(Buffer.from(buf.subarray(0, n)));
    if (frames.length > 0) return frames.flat();
  }
}

/**
 * Replaces the seccomp rules in records by the program an earlier run
 * compiled from the same rules, or asks the helper to send the program it
 * compiles (see seccomp-cache.ts). Returns what keeps a sent program.
 */
function useCompiledSeccomp(records: WireRecord[]): { keep(hex: string): void } | undefined {
  const isRule = (r: WireRecord): boolean => r[0] === 'scarch' || r[0] === 'scrule';
  const header = records.find((r) => r[0] === 'seccomp');
  if (!header) return undefined;
  // The default action shapes the program; the load flags (the rest of the header) do not.
  // JSON: the same fields, serialised natively (the wire encoding costs ~2 ms here).
  const rules = Buffer.from(JSON.stringify([header.slice(0, 3), ...records.filter(isRule)]));
  const { SeccompFilterCache, defaultSeccompCacheDir } = require('./seccomp-cache') as typeof import('./seccomp-cache');
  const dir = defaultSeccompCacheDir();
  if (!dir) return undefined;
  let identity: string;
  try {
    const helper = fs.statSync(initHelperPath());
    identity = `${helper.size} ${helper.mtimeMs} ${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()} ${process.arch}`;
  } catch {
    return undefined;
  }
  const cache = new SeccompFilterCache(dir, identity);
  const program = cache.lookup(rules);
  if (program) {
    for (let i = records.length - 1; i >= 0; i--) if (isRule(records[i])) records.splice(i, 1);
    records.push(['scbpf', program.toString('hex')]);
    return undefined;
  }
  records.push(['scexport']);
  return { keep: (hex) => cache.store(rules, Buffer.from(hex, 'hex')) };
}

export function launch(plan: LaunchPlan, opts: LaunchOptions = {}): Launched {
  const n = plan.preserveFds;
  const fds = opts.stdio ? [...opts.stdio] : [0, 1, 2];
  for (let fd = 3; fd < 3 + n; fd++) fds.push(fd);
  const addon = native();
  if (opts.consoleFd !== undefined) {
    // fd 3+n is the sync socket (the placeholder there is replaced), 4+n the console end.
    fds.push(opts.consoleFd, opts.consoleFd);
  }
  if (opts.holdFds?.length) {
    // After the sync socket (3+n) and the console end (4+n): placeholders where those are not used.
    while (fds.length < 5 + n) fds.push(fds[0]);
    fds.push(...opts.holdFds);
  }
  let spawned: { pid: number; sock: number };
  try {
    // Spawned before the plan is encoded: its exec and dynamic linking
    // (twice, with the sealed copy) overlap that work.
    spawned = addon.spawnHelper(initHelperPath(), [String(3 + n)], fds, 3 + n);
  } finally {
    if (opts.consoleFd !== undefined) fs.closeSync(opts.consoleFd);
  }
  let records: WireRecord[];
  try {
    records = planToRecords(plan);
  } catch (e) {
    // The helper waits for a plan that will not come: end it.
    fs.closeSync(spawned.sock);
    addon.waitpid(spawned.pid, true);
    throw e;
  }
  if (opts.consoleFd !== undefined) records.push(['consolefd', String(4 + n)]);
  let compiled: ReturnType<typeof useCompiledSeccomp>;
  try {
    compiled = useCompiledSeccomp(records);
  } catch {
    compiled = undefined; // a cache that cannot be read only costs time
  }
  const { pid: helperPid, sock } = spawned;
  let sockOpen = true;
  const closeSock = (): void => {
    if (sockOpen) fs.closeSync(sock);
    sockOpen = false;
  };
  let pid = 0;
  const fail = (msg: string): never => {
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    closeSock();
    const code = addon.waitpid(helperPid, true);
    throw new ContainerSetupError(msg || `container set-up failed: ccrun-init exited with status ${code} before the container was ready`);
  };
  try {
    opts.beforePlan?.(helperPid);
  } catch (e) {
    fail((e as Error).message);
  }
  try {
    fs.writeSync(sock, encodeRecords(records));
  } catch (e) {
    fail(`container set-up failed: cannot send the plan to ccrun-init: ${(e as Error).message}`);
  }
  // A helper that has failed meanwhile closes its end: its "error" frame,
  // read next, says why, better than EPIPE here.
  const send = (records: string[][]): void => {
    try {
      fs.writeSync(sock, encodeRecords(records));
    } catch {
      /* reported by the helper */
    }
  };
  const reader = new FrameReader();
  const buf = Buffer.allocUnsafe(65536);
  let ready = false;
  while (!(ready && pid > 0)) {
    const records = readFrames(sock, reader, buf);
    if (!records) fail('');
    for (const [tag, ...args] of records ?? []) {
      if (tag === 'error') fail(`container set-up failed: ${args[0]}`);
      else if (tag === 'pid') {
        pid = Number(args[0]);
        if (plan.mode === 'create') {
          try {
            opts.onPid?.(pid);
          } catch (e) {
            fail((e as Error).message);
          }
          fs.writeSync(sock, encodeRecords([['go']]));
        } else if (opts.seccompState) {
          send([['seccompstate', opts.seccompState(pid)]]);
        }
      } else if (tag === 'hooks') {
        let states: [string, string] = ['{}', '{}'];
        try {
          if (opts.onHooks) states = opts.onHooks(pid);
        } catch (e) {
          fail((e as Error).message);
        }
        const reply = [['hookstate', ...states]];
        if (opts.seccompState) reply.push(['seccompstate', opts.seccompState(pid)]);
        send(reply);
      } else if (tag === 'scbpf') compiled?.keep(args[0]);
      else if (tag === 'ready') ready = true;
    }
  }
  let exitCode: Promise<number> | undefined;
  const exited = (): Promise<number> => {
    if (!exitCode) {
      exitCode = new Promise<number>((resolve) => {
        // The helper sends nothing after "ready": we only wait for its exit.
        // SIGCHLD says when, with no thread of libuv's pool to start for a
        // blocking read (~60 page faults and 1.5-3 ms of a `run`, most of it
        // waiting for the pool's four threads to come up). A signal
        // listener does not keep the event loop alive, so a slow timer
        // does; it also covers a SIGCHLD that came before the listener.
        const check = (): void => {
          const code = addon.waitpid(helperPid, false);
          if (code === null) return;
          process.removeListener('SIGCHLD', check);
          clearInterval(timer);
          closeSock();
          resolve(code);
        };
        const timer = setInterval(check, 100);
        process.on('SIGCHLD', check);
        check();
      });
    }
    return exitCode;
  };
  if (plan.monitor) {
    // The helper stays with the container; it is not ours to wait for.
    closeSock();
    exitCode = Promise.reject(new ContainerSetupError('a monitored container is waited for by its monitor'));
    exitCode.catch(() => undefined);
  } else if (!plan.wait) {
    // The helper exits as soon as it has let the process go.
    closeSock();
    const code = addon.waitpid(helperPid, true);
    exitCode = Promise.resolve(code);
  }
  return { pid, helperPid, exited };
}
