// Talking to ccrun-init: spawn it with the caller's stdio and preserved fds,
// send the plan, answer its "pid" with "go" once the caller has placed the
// init (cgroup), and wait for "ready" or "error". See native/init/main.c.
import type { ChildProcess } from 'child_process';
import type { Socket } from 'net';
import type { LaunchPlan } from './plan';
import { encodePlan, encodeRecords, FrameReader } from './plan-encoding';
import { initHelperPath } from '../native';
import { ContainerSetupError } from './errors';

export interface Launched {
  /** Host pid of the container init (create) or the new process (exec). */
  pid: number;
  helper: ChildProcess;
  /** Resolves with the helper's exit code: the process's status when plan.wait. */
  exited: Promise<number>;
}

export interface LaunchOptions {
  /** Called with the init's host pid before it is let go (e.g. to put it in its cgroup). */
  onPid?: (pid: number) => void | Promise<void>;
  /** Called with the helper's own pid right after spawn (exec: join the cgroup before forking). */
  onHelper?: (pid: number) => void;
}

export function launch(plan: LaunchPlan, opts: LaunchOptions = {}): Promise<Launched> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { spawn } = require('child_process') as typeof import('child_process');
  const n = plan.preserveFds;
  const syncIndex = 3 + n;
  const stdio: ('inherit' | 'pipe' | number)[] = ['inherit', 'inherit', 'inherit'];
  for (let fd = 3; fd < syncIndex; fd++) stdio.push(fd);
  stdio.push('pipe');
  const helper = spawn(initHelperPath(), [String(syncIndex)], { stdio, env: {} });
  const exited = new Promise<number>((resolve) => {
    helper.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (require('os').constants.signals[signal] ?? 0) : 255)));
    helper.on('error', () => resolve(255));
  });
  const sock = helper.stdio[syncIndex] as Socket;
  if (helper.pid && opts.onHelper) opts.onHelper(helper.pid);

  return new Promise<Launched>((resolve, reject) => {
    let pid = 0;
    let ready = false;
    let settled = false;
    let failure: string | undefined;
    const reader = new FrameReader();
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (err) {
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        sock.destroy();
        reject(err);
      } else {
        sock.destroy();
        resolve({ pid, helper, exited });
      }
    };
    helper.on('error', (e) => finish(new ContainerSetupError(`cannot start ccrun-init: ${e.message}`)));
    sock.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        for (const rec of frame) {
          const [tag, ...args] = rec;
          if (tag === 'pid') {
            pid = Number(args[0]);
            Promise.resolve(opts.onPid ? opts.onPid(pid) : undefined).then(
              () => {
                if (plan.mode === 'create') sock.write(encodeRecords([['go']]));
                if (ready) finish();
              },
              (e: Error) => {
                failure = e.message;
                finish(e);
              },
            );
          } else if (tag === 'ready') {
            ready = true;
            if (pid > 0 || plan.mode === 'create') finish();
          } else if (tag === 'error') {
            failure = args[0];
            finish(new ContainerSetupError(`container set-up failed: ${args[0]}`));
          }
        }
      }
    });
    sock.on('error', () => {
      /* reported through close */
    });
    sock.on('close', () => {
      if (settled) return;
      void exited.then((code) =>
        finish(new ContainerSetupError(failure ? `container set-up failed: ${failure}` : `container set-up failed: ccrun-init exited with status ${code} before the container was ready`)),
      );
    });
    sock.write(encodePlan(plan));
  });
}
