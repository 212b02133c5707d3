// Limits observed on real containers run with the built CLI (bin/ccrun):
// from inside (what the container's processes meet) and from outside (ps,
// events, state, the cgroup directory). Run by limits.test.ts on the host
// and by run-checks.ts in the cgroup v2 VM, like checks.ts.
import { spawn, spawnSync } from 'child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { busyboxSpec, ccrun, CCRUN, makeBundle, stateRoot, uniqueId, type Result } from '../helpers/runtime';
import { detectCgroupMode } from '../../src/cgroups/index';
import type { Spec } from '../../src/runtime/config/types';
import type { Assert, Check } from './checks';

const MiB = 1 << 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Generous: under software emulation every ccrun call starts node (~5 s). */
export const T = { timeout: 180_000 };

export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

export function outDir(a: Assert): string {
  const d = mkdtempSync(join(tmpdir(), 'ccrun-out-'));
  a.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function withOut(spec: Spec, out: string): void {
  spec.mounts!.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] });
}

export function readOr(path: string, dflt: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return dflt;
  }
}

/** The container's cgroup directory for the memory controller (v1) or the unified one (v2). */
export function cgroupDir(id: string): string {
  return detectCgroupMode() === 'v2' ? `/sys/fs/cgroup/ccrun/${id}` : `/sys/fs/cgroup/memory/ccrun/${id}`;
}

export function status(root: string, id: string): string {
  const r = ccrunT(root, ['state', id], T);
  try {
    return (JSON.parse(r.stdout) as { status: string }).status;
  } catch {
    return `no state (${r.stderr.trim()})`;
  }
}

export function ccrunT(root: string, args: string[], opts: { timeout: number }): Result {
  const t0 = Date.now();
  const r = ccrun(root, args, opts);
  if (process.env.CCRUN_CHECK_TIMES) console.log(`# ccrun ${args.join(' ')}: ${Date.now() - t0} ms`);
  return r;
}

/**
 * run --detach: the container keeps the stdio it inherits, so a pipe would
 * stay open (and spawnSync wait) as long as it runs; give it files instead.
 */
export function runDetached(a: Assert, root: string, bundle: string, id: string): Result {
  const dir = outDir(a);
  const o = openSync(join(dir, 'stdout'), 'w');
  const e = openSync(join(dir, 'stderr'), 'w');
  const t0 = Date.now();
  const r = spawnSync(CCRUN, ['--root', root, 'run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', o, e], timeout: T.timeout });
  closeSync(o);
  closeSync(e);
  if (process.env.CCRUN_CHECK_TIMES) console.log(`# ccrun run --detach ${id}: ${Date.now() - t0} ms`);
  return { code: r.status ?? 255, stdout: readOr(join(dir, 'stdout'), ''), stderr: readOr(join(dir, 'stderr'), '') };
}

export const brief = (r: Result): string => `exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}` : ''}`;

export const containerChecks: Check[] = [
  {
    name: 'container: memory OOM, cpu throttling, pause/resume, live update, ps, events, kill --all, delete',
    async run(a) {
      const root = stateRoot(a);
      const out = outDir(a);
      const id = uniqueId('cg');
      // A counter (atomically replaced file) and a 24 MiB allocation per round,
      // whose outcome the container writes to /out/r.
      const spec = busyboxSpec([
        'sh', '-c',
        'i=0; while :; do i=$((i+1)); echo $i > /out/c.tmp; mv /out/c.tmp /out/c; ' +
          'if dd if=/dev/zero of=/dev/null bs=24M count=1 2>/dev/null; then echo ok > /out/r; else echo fail > /out/r; fi; done',
      ]);
      withOut(spec, out);
      spec.linux!.resources = { memory: { limit: 16 * MiB, swap: 16 * MiB }, cpu: { quota: 10000, period: 100000 } };
      const run = runDetached(a, root, makeBundle(a, spec), id);
      a.ok(run.code === 0, `run --detach (${brief(run)})`);
      if (run.code !== 0) return;
      a.ok(existsSync(cgroupDir(id)), `the container's cgroup exists: ${cgroupDir(id)}`);

      // events streams from the start: OOM kills show up as {"type":"oom"}.
      const ev = spawn(CCRUN, ['--root', root, 'events', '--interval', '1s', id], { stdio: ['ignore', 'pipe', 'pipe'] });
      let evOut = '';
      ev.stdout.on('data', (d) => (evOut += d));
      const evDone = new Promise((r) => ev.on('close', r));
      a.teardown(() => {
        ev.kill('SIGKILL');
        return evDone;
      });

      a.ok(await until(() => readOr(join(out, 'r'), '') === 'fail', 60_000), 'inside: a 24 MiB allocation under a 16 MiB limit fails (OOM-killed)');
      a.ok(await until(() => /"type":"oom","id":"/.test(evOut), 60_000), 'events reported an OOM event');
      const statsLines = evOut.split('\n').filter((l) => l.startsWith('{"type":"stats"'));
      a.ok(statsLines.length >= 1, `events printed stats lines (${statsLines.length})`);

      const st = ccrunT(root, ['events', '--stats', id], T);
      let data: { memory?: { usage?: { limit?: number } }; cpu?: { throttling?: { throttledPeriods?: number } }; pids?: { current?: number } } = {};
      try {
        const ev1 = JSON.parse(st.stdout) as { type: string; id: string; data: typeof data };
        a.ok(ev1.type === 'stats' && ev1.id === id, 'events --stats: one {"type":"stats","id":...} line');
        data = ev1.data;
      } catch {
        a.ok(false, `events --stats printed JSON (${brief(st)}: ${st.stdout.slice(0, 200)})`);
      }
      a.ok(data.memory?.usage?.limit === 16 * MiB, `stats: memory limit ${data.memory?.usage?.limit}`);
      a.ok((data.cpu?.throttling?.throttledPeriods ?? 0) > 0, `stats: busy loop under a 10% quota throttled (${data.cpu?.throttling?.throttledPeriods ?? 0} periods)`);
      a.ok((data.pids?.current ?? 0) >= 1, `stats: pids.current ${data.pids?.current}`);

      const pids = ccrunT(root, ['ps', '--format', 'json', id], T);
      let list: number[] = [];
      try {
        list = JSON.parse(pids.stdout) as number[];
      } catch {
        /* checked below */
      }
      a.ok(Array.isArray(list) && list.length >= 1 && list.every((p) => Number.isInteger(p)), `ps --format json: ${pids.stdout.trim()}`);
      const table = ccrunT(root, ['ps', id], T);
      a.ok(/^UID\s+PID/.test(table.stdout) && table.stdout.includes(String(list[0])), 'ps: ps -ef lines of its processes');

      const c = (): number => Number(readOr(join(out, 'c'), '0')) || 0;
      const pause = ccrunT(root, ['pause', id], T);
      a.ok(pause.code === 0, `pause (${brief(pause)})`);
      a.ok(status(root, id) === 'paused', 'state says paused');
      const c1 = c();
      await sleep(1500);
      const c2 = c();
      a.ok(c1 === c2, `paused: the counter stands still (${c1} -> ${c2})`);
      const resume = ccrunT(root, ['resume', id], T);
      a.ok(resume.code === 0, `resume (${brief(resume)})`);
      a.ok(status(root, id) === 'running', 'state says running');
      a.ok(await until(() => c() > c2, 30_000), `resumed: the counter moves (${c2} -> ${c()})`);

      const up = ccrunT(root, ['update', '--memory', '96m', '--memory-swap', '96m', '--cpu-quota', '-1', id], T);
      a.ok(up.code === 0, `update --memory 96m (${brief(up)})`);
      a.ok(await until(() => readOr(join(out, 'r'), '') === 'ok', 60_000), 'inside: after update the same 24 MiB allocation succeeds');

      const kill = ccrunT(root, ['kill', '--all', id, 'KILL'], T);
      a.ok(kill.code === 0, `kill --all (${brief(kill)})`);
      a.ok(await until(() => status(root, id) === 'stopped', 30_000), 'stopped after kill --all');
      const del = ccrunT(root, ['delete', id], T);
      a.ok(del.code === 0, `delete (${brief(del)})`);
      a.ok(!existsSync(cgroupDir(id)), 'delete removed the cgroup');
    },
  },
  {
    name: 'container: a fork loop stops at pids.limit; devices outside the rules cannot be opened',
    async run(a) {
      const root = stateRoot(a);
      const id = uniqueId('pids');
      const spec = busyboxSpec(['sh', '-c', '(for i in $(seq 20); do sleep 1000 & done) 2>/dev/null; exec sleep 1000']);
      spec.linux!.resources = { pids: { limit: 8 } };
      const run = runDetached(a, root, makeBundle(a, spec), id);
      a.ok(run.code === 0, `run --detach with pids.limit 8 (${brief(run)})`);
      await sleep(1500);
      const pids = ccrunT(root, ['ps', '--format', 'json', id], T);
      let n = -1;
      try {
        n = (JSON.parse(pids.stdout) as number[]).length;
      } catch {
        /* n stays -1 */
      }
      a.ok(n >= 2 && n <= 8, `at most 8 processes although 21 were asked for (${n})`);
      ccrunT(root, ['delete', '--force', id], T);
      a.ok(!existsSync(cgroupDir(id)), 'delete --force removed the cgroup');

      // mknod is allowed (as runc), opening a device outside the rules is not.
      const dspec = busyboxSpec(['sh', '-c', 'echo x > /dev/null && echo null-ok; mknod /dev/k c 1 11 && echo mknod-ok; head -c 1 /dev/k > /dev/null && echo open-ok; true']);
      for (const set of ['bounding', 'effective', 'permitted'] as const) dspec.process!.capabilities![set]!.push('CAP_MKNOD');
      const r = ccrunT(root, ['run', '--bundle', makeBundle(a, dspec), uniqueId('dev')], T);
      a.ok(r.stdout.includes('null-ok'), `inside: /dev/null works (${brief(r)}: ${r.stdout.trim()})`);
      a.ok(r.stdout.includes('mknod-ok'), 'inside: mknod of c 1:11 is allowed');
      a.ok(!r.stdout.includes('open-ok') && /Operation not permitted/.test(r.stdout + r.stderr), `inside: opening it is refused with EPERM (${(r.stdout + r.stderr).trim().replace(/\n/g, ' / ')})`);
    },
  },
];
