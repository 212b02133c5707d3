// The container operations that work through its cgroup: pause, resume,
// update, ps and events (runc's commands of the same names). A library: the
// command files parse flags and print; this knows containers and cgroups.
import type { CgroupManager } from '../cgroups';
import { procsBelow } from '../cgroups/cgroupfs';
import type { Resources } from './config/types';
import { observe, type Observed, type RuntimeContext } from './status';
import { openContainerCgroup } from './cgroup-link';
import { CcrunError, HostError, StateError, UsageError } from './errors';
import type { Status } from './state';

function cgroupOf(id: string, o: Observed): CgroupManager {
  if (!o.saved.cgroup) throw new HostError(`container "${id}" has no cgroup (it was created without one)`);
  return openContainerCgroup({ id, ...o.saved.cgroup });
}

function needStatus(id: string, o: Observed, allowed: Status[], what: string, wording: string): void {
  if (!allowed.includes(o.status)) throw new StateError(`cannot ${what} container "${id}": ${wording} (it is ${o.status})`);
}

/** Freezes every process of a created or running container (state then says "paused"). */
export async function pauseContainer(ctx: RuntimeContext, id: string): Promise<void> {
  await ctx.store.withLock(id, async () => {
    const o = observe(ctx, id);
    needStatus(id, o, ['running', 'created'], 'pause', 'container not running');
    await cgroupOf(id, o).freeze();
  });
}

export async function resumeContainer(ctx: RuntimeContext, id: string): Promise<void> {
  await ctx.store.withLock(id, async () => {
    const o = observe(ctx, id);
    const cg = cgroupOf(id, o);
    // A frozen created container still reports "created": ask the cgroup too.
    if (o.status !== 'paused' && !(o.status === 'created' && cg.frozen())) {
      throw new StateError(`cannot resume container "${id}": container not paused (it is ${o.status})`);
    }
    await cg.thaw();
  });
}

/** Applies new limits to a live container; returns warnings to show (e.g. ignored kernel memory). */
export async function updateContainer(ctx: RuntimeContext, id: string, resources: Resources): Promise<string[]> {
  return ctx.store.withLock(id, () => {
    const o = observe(ctx, id);
    needStatus(id, o, ['created', 'running', 'paused'], 'update', 'container not running');
    const cg = cgroupOf(id, o);
    // New device rules replace the old ones: keep the devices every container
    // gets, as create does (linux.devices of the config are not kept: list
    // them in the rules to keep them).
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { withDefaultDevices } = require('../cgroups/devices') as typeof import('../cgroups/devices');
    const r = resources.devices && !o.saved.cgroup?.rootless ? withDefaultDevices(resources, undefined) : resources;
    cg.update(r);
    return cg.warnings;
  });
}

/** Every process in the container's cgroup (runc ps --format json). */
export function containerPids(ctx: RuntimeContext, id: string): number[] {
  const o = observe(ctx, id);
  if (o.status === 'creating') throw new StateError(`container "${id}" is still being created`);
  // The directory saved at create: no cgroup library (the v1 one finds all
  // 13 hierarchies first). A state from before falls back to opening it.
  const saved = o.saved.cgroup?.procsDir;
  if (saved !== undefined) return saved ? procsBelow(saved) : o.pid > 0 ? [o.pid] : [];
  const cg = cgroupOf(id, o);
  const pids = cg.pids();
  // Without a cgroup of its own (rootless, nothing delegated) the init is all we know.
  if (pids.length === 0 && cg.paths && Object.keys(cg.paths()).length === 0 && o.pid > 0) return [o.pid];
  return pids;
}

/**
 * `ps` table: the host's ps output (default "-ef") restricted to the
 * container's processes, as runc does: the header, then the lines whose PID
 * column is one of them.
 */
export function containerPsTable(ctx: RuntimeContext, id: string, psArgs: string[]): string {
  const pids = new Set(containerPids(ctx, id));
  const args = psArgs.length ? psArgs : ['-ef'];
  // Loaded here: child_process brings ~35 more built-in modules (net, streams), ~8 ms that pause, resume, update and ps --format json do not need.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const r = spawnSync('ps', args, { encoding: 'utf8' });
  if (r.error) throw new HostError(`cannot run ps: ${r.error.message}`);
  if (r.status !== 0) throw new CcrunError(`ps ${args.join(' ')} failed: ${(r.stderr || '').trim()}`);
  const lines = r.stdout.split('\n').filter((l) => l.length > 0);
  if (!lines.length) return '';
  const header = lines[0];
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new UsageError(`ps ${args.join(' ')}: no PID column in its output (keep the pid in the ps arguments' format)`);
  const out = [header];
  for (const l of lines.slice(1)) {
    const pid = Number(l.trim().split(/\s+/)[col]);
    if (pids.has(pid)) out.push(l);
  }
  return out.join('\n') + '\n';
}

/** "5s", "500ms", "1m30s", "2" (seconds) -> milliseconds (Go durations, as runc's --interval). */
export function parseInterval(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  // The micro sign as an escape: one non-ASCII character makes V8 hold a
  // whole bundle's source (ps's holds this module) as two-byte text.
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text))) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) throw new UsageError(`--interval: "${text}" is not a duration (e.g. 5s, 500ms, 1m)`);
  if (total <= 0) throw new UsageError('--interval must be above 0');
  return total;
}

export interface EventsOptions {
  /** Print one stats event and stop. */
  statsOnce: boolean;
  intervalMs: number;
  /** Receives each event as one JSON line (without the newline). */
  emit: (line: string) => void;
  /** How often to look for OOM kills (default 100 ms). */
  oomPollMs?: number;
}

/**
 * runc's events: {"type":"stats","id":ID,"data":{...}} every interval (or
 * once with statsOnce), {"type":"oom","id":ID} when the OOM killer kills in
 * the container; ends when the container stops.
 */
export async function containerEvents(ctx: RuntimeContext, id: string, opts: EventsOptions): Promise<void> {
  const { statsEventData, statsJson } = await import('../cgroups/stats');
  const first = observe(ctx, id);
  if (first.status === 'stopped' || first.status === 'creating') {
    throw new StateError(`cannot get events of container "${id}": container not running (it is ${first.status})`);
  }
  const cg = cgroupOf(id, first);
  const statsLine = (): string => statsJson({ type: 'stats', id, data: statsEventData(cg.stats()) });
  if (opts.statsOnce) {
    opts.emit(statsLine());
    return;
  }
  let ooms = cg.oomKillCount();
  let nextStats = Date.now();
  const poll = opts.oomPollMs ?? 100;
  for (;;) {
    let o: Observed;
    try {
      o = observe(ctx, id);
    } catch {
      return; // deleted
    }
    const now = cg.oomKillCount();
    for (; ooms < now; ooms++) opts.emit(JSON.stringify({ type: 'oom', id }));
    if (o.status === 'stopped') return;
    if (Date.now() >= nextStats) {
      opts.emit(statsLine());
      nextStats = Date.now() + opts.intervalMs;
    }
    await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(1, nextStats - Date.now()))));
  }
}
