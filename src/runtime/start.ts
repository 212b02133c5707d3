// `start`: lets a created container's parked init go on to exec the user's
// process (runtime-spec runtime.md). Its own module so that `ccrun start`, a
// hot command of every engine, loads neither the create path nor cgroups.
import * as fs from 'fs';
import type { Hooks } from './config/types';
import { StateError, ContainerSetupError } from './errors';
import { runHooksWarning, type HookState } from './hooks';
import { observe, type RuntimeContext } from './status';
import { removeFile } from './remove-dir';

export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  await ctx.store.withLock(id, async () => {
    const o = observe(ctx, id);
    if (o.status !== 'created') {
      throw new StateError(`cannot start container "${id}": it is ${o.status}, not created`);
    }
    const fifo = ctx.store.fifoPath(id);
    // Opened before the init is let go, so nothing it says is missed.
    const result = openStartResult(ctx.store.startResultPath(id));
    let fd: number;
    try {
      // Non-blocking: if the init died, there is no reader and this fails
      // at once instead of hanging.
      fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      if (result !== undefined) fs.closeSync(result);
      if ((e as NodeJS.ErrnoException).code === 'ENXIO') throw new StateError(`cannot start container "${id}": container not running`);
      throw e;
    }
    try {
      fs.writeSync(fd, '0');
    } finally {
      fs.closeSync(fd);
    }
    fs.unlinkSync(fifo);
    // Like runc's start, return once the user process is executed (the
    // init's end of the result fifo closes on exec), or fail with what went
    // wrong between the park and the exec (a startContainer hook, the exec).
    if (result !== undefined) {
      const message = await readToEnd(result);
      removeFile(ctx.store.startResultPath(id));
      if (message) throw new ContainerSetupError(`cannot start container "${id}": ${message}`);
    }
    const hooks = o.saved.hooks as Hooks | undefined;
    if ((hooks?.poststart ?? []).length > 0) {
      const state: HookState = { ociVersion: o.saved.ociVersion, id, status: 'running', pid: o.pid, bundle: o.saved.bundle, annotations: o.saved.annotations };
      runHooksWarning('poststart', hooks, state, ctx.warn);
    }
  });
}

/**
 * The read end of the start result fifo, non-blocking (absent for a
 * container made by an older ccrun). Node has no poll on plain fds without
 * loading the net module (several ms of start-up), so it is polled.
 */
function openStartResult(path: string): number | undefined {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Everything written to the fifo until its last writer closes it; closes fd. */
async function readToEnd(fd: number): Promise<string> {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(4096);
  let pause = 0.05;
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') break;
        // The exec comes within a millisecond or so, and the time it comes
        // plus the last pause is what start takes: short pauses first,
        // growing by half (a slow startContainer hook gets slower polls).
        Atomics.wait(SLEEPER, 0, 0, pause);
        pause = Math.min(pause * 1.5, 10);
        continue;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    fs.closeSync(fd);
  }
  return Buffer.concat(chunks).toString().trim();
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
