// Helpers for tests that run real containers with the built CLI: a busybox
// rootfs made once per machine from Debian's busybox-static, bundles in temp
// dirs (root.path points at the shared rootfs, read-only), a private state
// root per test file, and cleanup of every container a test made.
import { spawn, spawnSync, execFileSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultSpec } from '../../src/runtime/config/default-spec';
import type { Spec } from '../../src/runtime/config/types';

export const REPO = path.resolve(__dirname, '..', '..');
export const CCRUN = path.join(REPO, 'bin', 'ccrun');
const ROOTFS_CACHE = path.join(REPO, 'test', 'fixtures', 'work', 'busybox-rootfs');

/** The shared busybox rootfs (built on first use; containers mount it read-only). */
export function busyboxRootfs(): string {
  if (fs.existsSync(path.join(ROOTFS_CACHE, 'bin', 'busybox'))) return ROOTFS_CACHE;
  fs.mkdirSync(path.dirname(ROOTFS_CACHE), { recursive: true });
  const tmp = `${ROOTFS_CACHE}.${process.pid}`;
  execFileSync(path.join(REPO, 'scripts', 'make-busybox-rootfs.sh'), [tmp], { stdio: 'ignore' });
  try {
    fs.renameSync(tmp, ROOTFS_CACHE);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another test file won the race
  }
  return ROOTFS_CACHE;
}

export interface Tap {
  teardown(fn: () => void | Promise<void>): void;
}

let counter = 0;
export function uniqueId(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** A private state root for this test file, removed at the end. */
export function stateRoot(t: Tap): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-state-'));
  t.teardown(() => {
    for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      spawnSync(CCRUN, ['--root', dir, 'delete', '--force', id]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A spec like `ccrun spec`'s, without a terminal, running args in the busybox rootfs. */
export function busyboxSpec(args: string[]): Spec {
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = args;
  spec.root = { path: busyboxRootfs(), readonly: true };
  spec.hostname = 'box';
  spec.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
  return spec;
}

export function makeBundle(t: Tap, spec: Spec): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-bundle-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI. With files: true its stdout/stderr go to temp files instead
 * of pipes: a created or detached container inherits them and would keep a
 * pipe open long after ccrun has returned. killSignal: what the timeout
 * sends (a foreground run survives SIGTERM while its container does).
 */
export function ccrun(
  root: string,
  args: string[],
  opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv; files?: boolean; killSignal?: NodeJS.Signals } = {},
): Result {
  if (opts.files) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-io-'));
    const out = fs.openSync(path.join(dir, 'out'), 'w+');
    const err = fs.openSync(path.join(dir, 'err'), 'w+');
    try {
      const r = spawnSync(CCRUN, ['--root', root, ...args], { stdio: ['ignore', out, err], timeout: opts.timeout ?? 30_000, killSignal: opts.killSignal, env: opts.env ?? process.env });
      return {
        code: r.status ?? (r.signal ? 128 : 255),
        stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'),
        stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
      };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const r: SpawnSyncReturns<string> = spawnSync(CCRUN, ['--root', root, ...args], {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeout ?? 30_000,
    killSignal: opts.killSignal,
    env: opts.env ?? process.env,
  });
  return { code: r.status ?? (r.signal ? 128 : 255), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs args in a fresh busybox container (foreground `run`), with optional spec changes. */
export function runBusybox(t: Tap, root: string, args: string[], mutate?: (s: Spec) => void): Result {
  const spec = busyboxSpec(args);
  mutate?.(spec);
  const bundle = makeBundle(t, spec);
  return ccrun(root, ['run', '--bundle', bundle, uniqueId('run')]);
}

export function hostMountsMentioning(text: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(text));
}

export function isAlive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Runs a command without blocking the event loop (a registry rig served from
 * this process must keep answering), with `input` as its whole stdin.
 */
export function runAsync(argv: string[], o: { input?: string; cwd?: string } = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: o.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code, sig) => done({ code: code ?? 128 + (sig ? 9 : 0), stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
