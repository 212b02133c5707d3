// OCI hooks (runtime-spec config.md, "POSIX-platform Hooks"). The runtime
// runs prestart and createRuntime (asked by the init just before pivot_root),
// poststart (during `start`, once the process has been executed) and
// poststop (during `delete`, once the container is gone); the init runs
// createContainer and startContainer in the container (native/init/hooks.c).
// Every hook gets the container's state JSON on its stdin.
import { isAbsolute } from 'path';
import type { Hook, Hooks } from './config/types';
import { ConfigError, CcrunError } from './errors';

export type HookKind = keyof Hooks;

export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export class HookError extends CcrunError {}

/** Checks every hook's path and timeout (runtime-spec: path absolute, timeout > 0). */
export function checkHooks(hooks: Hooks | undefined): void {
  for (const [kind, list] of Object.entries(hooks ?? {})) {
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new ConfigError(`config.json: /hooks/${kind} must be an array`);
    (list as Hook[]).forEach((h, i) => {
      if (typeof h?.path !== 'string' || !isAbsolute(h.path)) throw new ConfigError(`config.json: /hooks/${kind}/${i}/path must be an absolute path`);
      if (h.timeout !== undefined && (!Number.isInteger(h.timeout) || h.timeout <= 0)) {
        throw new ConfigError(`config.json: /hooks/${kind}/${i}/timeout must be a positive number of seconds`);
      }
    });
  }
}

/** Records for the init: its own hooks, and whether it must stop before pivot_root for the runtime's. */
export function hookRecords(hooks: Hooks | undefined): string[][] {
  if (!hooks) return [];
  const r: string[][] = [];
  const any = (k: HookKind): boolean => (hooks[k]?.length ?? 0) > 0;
  if (any('prestart') || any('createRuntime') || any('createContainer') || any('startContainer')) r.push(['hooksync']);
  for (const kind of ['createContainer', 'startContainer'] as const) {
    for (const h of hooks[kind] ?? []) {
      const args = h.args ?? [];
      r.push(['hook', kind, h.path, String(h.timeout ?? 0), String(args.length), ...args, ...(h.env ?? [])]);
    }
  }
  return r;
}

export function stateJson(s: HookState): string {
  const out: HookState = { ociVersion: s.ociVersion, id: s.id, status: s.status, pid: s.pid ?? 0, bundle: s.bundle };
  if (s.annotations && Object.keys(s.annotations).length > 0) out.annotations = s.annotations;
  return JSON.stringify(out);
}

function envObject(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const at = e.indexOf('=');
    if (at > 0) out[e.slice(0, at)] = e.slice(at + 1);
  }
  return out;
}

/** Runs one hook in the runtime's namespaces; throws HookError when it fails or times out. */
export function runHook(kind: HookKind, h: Hook, state: string): void {
  const args = h.args && h.args.length > 0 ? h.args : [h.path];
  // Node ignores SIGPIPE, but once a listener for it has come and gone (run
  // forwards signals) it is back to the default, fatal: hold one meanwhile.
  const ignorePipe = (): void => {};
  process.on('SIGPIPE', ignorePipe);
  let r;
  try {
    // Loaded here, not at the top: child_process costs ~5 ms and only hooks need it.
    const { spawnSync } = require('child_process') as typeof import('child_process');
    r = spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      env: envObject(h.env),
      input: state,
      // Hook output goes where ccrun's goes; stdin carries the state only.
      stdio: ['pipe', 'inherit', 'inherit'],
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
  } finally {
    process.removeListener('SIGPIPE', ignorePipe);
  }
  // A hook that exits without reading its stdin gives EPIPE on the state
  // write: that is the hook's business, not a failure.
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err && err.code !== 'EPIPE') {
    if (err.code === 'ETIMEDOUT') throw new HookError(`${kind} hook ${h.path} timed out after ${h.timeout} s`);
    throw new HookError(`${kind} hook ${h.path} could not run: ${err.message}`);
  }
  if (r.signal) {
    if (h.timeout && r.signal === 'SIGKILL') throw new HookError(`${kind} hook ${h.path} timed out after ${h.timeout} s`);
    throw new HookError(`${kind} hook ${h.path} was killed by ${r.signal}`);
  }
  if (r.status !== 0) throw new HookError(`${kind} hook ${h.path} failed with exit status ${r.status}`);
}

/** Runs the hooks of one kind in order; the first failure stops them and is thrown. */
export function runHooks(kind: HookKind, hooks: Hooks | undefined, state: HookState): void {
  const json = stateJson(state);
  for (const h of hooks?.[kind] ?? []) runHook(kind, h, json);
}

/** Runs every hook of one kind; failures are warnings (poststart, poststop). */
export function runHooksWarning(kind: HookKind, hooks: Hooks | undefined, state: HookState, warn: (m: string) => void): void {
  const json = stateJson(state);
  for (const h of hooks?.[kind] ?? []) {
    try {
      runHook(kind, h, json);
    } catch (e) {
      warn(`${(e as Error).message} (ignored: ${kind} hooks cannot fail the operation)`);
    }
  }
}
