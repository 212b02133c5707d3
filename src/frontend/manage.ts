// Managing Docker-style containers: ps, stop, rm, logs, start again.
import * as fs from 'fs';
import type { ContainerRecord } from './records';
import { records, startMonitored, type FrontendContext } from './run';
import { StateError } from '../runtime/errors';
import type { Status } from '../runtime/state';

export interface ContainerRow {
  id: string;
  name: string;
  image: string;
  command: string;
  created: string;
  /** "running", "paused", "created", "exited". */
  state: string;
  /** Docker's words: "Up 3 minutes", "Exited (0) 2 minutes ago", "Created". */
  status: string;
  exitCode?: number;
  /** Published ports, Docker's way: "0.0.0.0:8080->80/tcp, ...". */
  ports: string;
}

function since(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  if (s < 3600) return `${Math.floor(s / 60)} minute${s < 120 ? '' : 's'}`;
  if (s < 86400) return `${Math.floor(s / 3600)} hour${s < 7200 ? '' : 's'}`;
  return `${Math.floor(s / 86400)} day${s < 172800 ? '' : 's'}`;
}

/** The runtime status of a record's container, or undefined when it has no runtime state (not running). */
async function runtimeStatus(fx: FrontendContext, id: string): Promise<Status | undefined> {
  if (!fx.runtime.store.exists(id)) return undefined;
  const { observe } = await import('../runtime/container');
  try {
    return observe(fx.runtime, id).status;
  } catch {
    return undefined;
  }
}

function quoteCommand(args: string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_./=:@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export async function containerRows(fx: FrontendContext, all: boolean): Promise<ContainerRow[]> {
  const recs = records(fx);
  const net = await import('./network');
  await net.reapStaleNetworks(fx);
  const { formatMapping } = await import('../network/ports');
  const now = Date.now();
  const rows: ContainerRow[] = [];
  for (const r of recs.list()) {
    const st = await runtimeStatus(fx, r.id);
    const exit = recs.readExit(r.id);
    let state: string;
    let status: string;
    if (st === 'running' || st === 'paused' || st === 'created' || st === 'creating') {
      state = st === 'creating' ? 'created' : st;
      status = st === 'running' ? `Up ${since(fx.runtime.store.load(r.id)?.created, now)}` : st === 'paused' ? `Up ${since(fx.runtime.store.load(r.id)?.created, now)} (Paused)` : 'Created';
    } else if (exit) {
      state = 'exited';
      status = `Exited (${exit.exitCode}) ${since(exit.finishedAt, now)} ago`;
    } else {
      state = 'created';
      status = 'Created';
    }
    if (!all && state !== 'running' && state !== 'paused') continue;
    const ports = state === 'running' || state === 'paused' ? (r.network?.ports ?? []).map(formatMapping).join(', ') : '';
    rows.push({ id: r.id, name: r.name, image: r.image, command: quoteCommand(r.command), created: r.created, state, status, exitCode: exit?.exitCode, ports });
  }
  return rows.sort((a, b) => b.created.localeCompare(a.created));
}

export function formatRows(rows: ContainerRow[]): string {
  const { humanAgo } = require('../image/catalog') as typeof import('../image/catalog');
  const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const table = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const r of rows) table.push([r.id.slice(0, 12), r.image, `"${cut(r.command, 20)}"`, humanAgo(r.created), r.status, r.ports, r.name]);
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n') + '\n';
}

async function waitUntil(test: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await test()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function isLive(fx: FrontendContext, id: string): Promise<boolean> {
  const st = await runtimeStatus(fx, id);
  return st === 'running' || st === 'paused' || st === 'created';
}

/**
 * `ccrun stop`: the image's StopSignal, then SIGKILL after `timeoutSec`;
 * returns once the command is gone and its runner has recorded the exit.
 */
export async function stopContainer(fx: FrontendContext, ref: string, timeoutSec = 10): Promise<ContainerRecord> {
  const rec = records(fx).require(ref);
  const { killContainer, parseKillSignal } = await import('../runtime/signal');
  if (!(await isLive(fx, rec.id))) return rec;
  const ctx = fx.runtime;
  const gone = (): boolean => !ctx.store.exists(rec.id);
  try {
    await killContainer(ctx, rec.id, parseKillSignal(rec.stopSignal));
  } catch {
    /* stopped meanwhile */
  }
  if (!(await waitUntil(async () => gone() || !(await isLive(fx, rec.id)), timeoutSec * 1000))) {
    await killContainer(ctx, rec.id, 9).catch(() => undefined);
  }
  await runnerDone(fx, rec);
  return rec;
}

/**
 * Once a container's command has stopped: waits for its runner (its monitor,
 * whose exit command keeps its pid, or the foreground run) to record the
 * exit, release the network and remove the runtime state, as it does before
 * it exits; then does whatever a runner that is gone (or never was: a
 * restored container) left. Waiting on the runner itself, not on the state:
 * a checkpoint removes the state at once, and under emulation a Node start
 * alone takes seconds.
 */
export async function runnerDone(fx: FrontendContext, rec: ContainerRecord): Promise<void> {
  const ctx = fx.runtime;
  const recs = records(fx);
  const gone = (): boolean => !ctx.store.exists(rec.id);
  await waitUntil(() => !recs.runnerAlive(rec.id), 120_000);
  if (recs.runnerAlive(rec.id)) return; // still at it after two minutes: not ours to race
  await waitUntil(gone, 3000);
  if (await isLive(fx, rec.id)) return;
  if (!gone() && !recs.readExit(rec.id)) recs.writeExit(rec.id, { exitCode: 137, finishedAt: new Date().toISOString() });
  // Nothing to do where the runner released it already.
  await (await import('./network')).releaseNetwork(fx, rec.id);
  if (!gone()) {
    const { deleteContainer } = await import('../runtime/container');
    await deleteContainer(ctx, rec.id, true);
  }
}

/** `ccrun rm [-f]`: a running container only with force (killed first). */
export async function removeContainer(fx: FrontendContext, ref: string, force: boolean): Promise<ContainerRecord> {
  const recs = records(fx);
  const rec = recs.require(ref);
  const { deleteContainer } = await import('../runtime/container');
  if (await isLive(fx, rec.id)) {
    if (!force) throw new StateError(`cannot remove container "${rec.name}": it is running (stop it first, or use ccrun rm -f)`);
    // Killed at once, and its runner given the time to record the exit and
    // let go of the runtime state before the directory goes.
    await stopContainer(fx, rec.id, 0);
  }
  if (fx.runtime.store.exists(rec.id)) await deleteContainer(fx.runtime, rec.id, true);
  await (await import('./network')).releaseNetwork(fx, rec.id);
  recs.remove(rec.id);
  return rec;
}

/** `ccrun start NAME` of a stopped container: its command again on its kept root, detached. */
export async function restartContainer(fx: FrontendContext, ref: string): Promise<ContainerRecord> {
  const rec = records(fx).require(ref);
  if (await isLive(fx, rec.id)) throw new StateError(`container "${rec.name}" is already running`);
  await startMonitored(fx, rec);
  return rec;
}

/** `ccrun logs [-f]`: the log file, followed while the container runs. */
export async function showLogs(fx: FrontendContext, ref: string, follow: boolean, out: NodeJS.WritableStream): Promise<void> {
  const recs = records(fx);
  const rec = recs.require(ref);
  const path = recs.logPath(rec.id);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    if (!follow) return;
    await waitUntil(() => fs.existsSync(path) || !fs.existsSync(recs.containerDir(rec.id)), 2000);
    try {
      fd = fs.openSync(path, 'r');
    } catch {
      return;
    }
  }
  const buf = Buffer.allocUnsafe(65536);
  const drain = async (): Promise<void> => {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      const chunk = Buffer.from(buf.subarray(0, n));
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    }
  };
  try {
    await drain();
    if (!follow) return;
    for (;;) {
      const live = await isLive(fx, rec.id);
      await drain();
      if (!live) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    fs.closeSync(fd);
  }
}
