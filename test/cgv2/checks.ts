// Observed-behaviour checks of the cgroup library with real processes, on
// whatever cgroup version the machine runs: test/cgroups/limits.test.ts runs
// them under tap on the host, and test/cgroups/cgv2-vm.test.ts runs them
// (compiled to plain JS by run-checks.ts: tap is too slow under emulation)
// inside a VM whose only hierarchy is cgroup v2.
import { spawn, type ChildProcess } from 'child_process';
import { readFileSync, rmdirSync } from 'fs';
import { dirname } from 'path';
import { openCgroup, detectCgroupMode, type CgroupManager } from '../../src/cgroups/index';
import { withDefaultDevices } from '../../src/cgroups/devices';
import type { Resources } from '../../src/runtime/config/types';

export interface Assert {
  ok(cond: unknown, msg: string): void;
  teardown(fn: () => unknown): void;
}

export interface Check {
  name: string;
  run(a: Assert): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let serial = 0;

/** A cgroup of its own for one check, under /ccrun-test-<pid>; destroyed (with its parent) at teardown. */
export function testCgroup(a: Assert, name: string, resources?: Resources): CgroupManager {
  const cg = openCgroup({ id: name, cgroupsPath: `/ccrun-test-${process.pid}/${name}-${serial++}` });
  a.teardown(async () => {
    await cg.destroy();
    for (const d of Object.values(cg.paths())) {
      try {
        rmdirSync(dirname(d));
      } catch {
        /* another check's cgroup is still there, or already gone */
      }
    }
  });
  cg.create(resources);
  return cg;
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts argv in the cgroup: it waits on stdin until it has been moved in, so it never runs outside. */
export function startIn(a: Assert, cg: CgroupManager, argv: string[]): { child: ChildProcess; done: Promise<Ran>; stdout: () => string } {
  const child = spawn('/bin/sh', ['-c', 'read _gate; exec "$@"', 'gate', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Ran>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  a.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return done;
  });
  cg.addProcess(child.pid!);
  child.stdin!.end('\n');
  return { child, done, stdout: () => stdout };
}

export function runIn(a: Assert, cg: CgroupManager, argv: string[], timeoutMs = 60_000): Promise<Ran> {
  const { child, done } = startIn(a, cg, argv);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return done.finally(() => clearTimeout(timer));
}

/** Memory limit with swap = limit (no swap), so a hog is OOM-killed rather than swapped out. */
function memory(limit: number): Resources['memory'] {
  return { limit, swap: limit };
}

const MiB = 1 << 20;
/** dd's buffer of bs bytes is filled by read(): it touches every page. */
const hog = (mib: number): string[] => ['dd', 'if=/dev/zero', 'of=/dev/null', `bs=${mib}M`, 'count=1'];

export const checks: Check[] = [
  {
    name: 'memory limit: a process allocating past it is OOM-killed and the kill is counted',
    async run(a) {
      const cg = testCgroup(a, 'oom', { memory: memory(32 * MiB) });
      const before = cg.oomKillCount();
      const small = await runIn(a, cg, hog(8));
      a.ok(small.code === 0, `8 MiB under a 32 MiB limit survives (code ${small.code}, ${small.signal}, ${small.stderr.trim()})`);
      const big = await runIn(a, cg, hog(64));
      a.ok(big.signal === 'SIGKILL', `64 MiB under a 32 MiB limit is killed by SIGKILL (got ${big.signal ?? `code ${big.code}`})`);
      a.ok(cg.oomKillCount() > before, `oomKillCount went from ${before} to ${cg.oomKillCount()}`);
      a.ok(cg.stats().memory.usage.limit === 32 * MiB, `stats report the limit (${cg.stats().memory.usage.limit})`);
    },
  },
  {
    name: 'pids limit: a fork loop stops at pids.max',
    async run(a) {
      const cg = testCgroup(a, 'pids', { pids: { limit: 5 } });
      const { done } = startIn(a, cg, ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 3 & done; echo forked; wait']);
      await sleep(800);
      const n = cg.pids().length;
      const current = cg.stats().pids.current ?? 0;
      a.ok(n <= 5 && n >= 2, `at most 5 processes in the cgroup (saw ${n})`);
      a.ok(current <= 5, `pids.current ${current} <= 5`);
      cg.signalAll(9);
      const r = await done;
      a.ok(/fork|Resource temporarily unavailable|resource/i.test(r.stderr), `the shell reported failed forks (${r.stderr.trim().split('\n')[0]})`);
    },
  },
  {
    name: 'cpu quota: a busy loop under 10% of a CPU is throttled',
    async run(a) {
      const cg = testCgroup(a, 'cpu', { cpu: { quota: 10000, period: 100000 } });
      const t0 = Date.now();
      await runIn(a, cg, ['timeout', '1.5', '/bin/sh', '-c', 'while :; do :; done']);
      const wall = (Date.now() - t0) / 1000;
      const s = cg.stats();
      a.ok((s.cpu.throttling.throttledPeriods ?? 0) > 0, `nr_throttled ${s.cpu.throttling.throttledPeriods ?? 0} > 0`);
      const used = (s.cpu.usage.total ?? 0) / 1e9;
      a.ok(used < wall * 0.3, `cpu time ${used.toFixed(3)} s is far below the ${wall.toFixed(2)} s it ran`);
    },
  },
  {
    name: 'freeze stops a counter, thaw lets it move again',
    async run(a) {
      const cg = testCgroup(a, 'freeze');
      const { stdout } = startIn(a, cg, ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done']);
      const count = (): number => Number(stdout().trim().split('\n').pop() || 0);
      for (let i = 0; i < 400 && !(count() > 2); i++) await sleep(25);
      await cg.freeze();
      a.ok(cg.frozen(), 'frozen() says so');
      const c1 = count();
      await sleep(400);
      const c2 = count();
      a.ok(c1 === c2 && c1 > 0, `counter stood still while frozen (${c1} -> ${c2})`);
      await cg.thaw();
      a.ok(!cg.frozen(), 'frozen() false after thaw');
      for (let i = 0; i < 200 && count() <= c2; i++) await sleep(25);
      const c3 = count();
      a.ok(c3 > c2, `counter moved after thaw (${c2} -> ${c3})`);
    },
  },
  {
    name: 'devices: a device not allowed cannot be opened, an allowed one can',
    async run(a) {
      // /dev/kmsg (c 1:11) is not among the default devices. Opening it for
      // writing writes nothing, so the kernel log stays clean.
      const script = 'echo x > /dev/null && echo null-ok; dd if=/dev/kmsg of=/dev/null count=0 2>/dev/null && echo kmsg-read-ok; (: > /dev/kmsg) && echo kmsg-write-ok';
      const open = testCgroup(a, 'dev-open');
      const r0 = await runIn(a, open, ['/bin/sh', '-c', script]);
      a.ok(r0.stdout.includes('kmsg-read-ok') && r0.stdout.includes('kmsg-write-ok'), `without device rules /dev/kmsg opens (${r0.stdout.trim().replace(/\n/g, ' ')})`);
      const cg = testCgroup(a, 'dev', withDefaultDevices(undefined, []));
      const r = await runIn(a, cg, ['/bin/sh', '-c', script]);
      a.ok(r.stdout.includes('null-ok'), '/dev/null (a default device) opens');
      a.ok(!r.stdout.includes('kmsg-read-ok') && !r.stdout.includes('kmsg-write-ok'), `/dev/kmsg cannot be opened (${r.stdout.trim().replace(/\n/g, ' ')})`);
      a.ok(/Operation not permitted/i.test(r.stderr), `the error is EPERM (${r.stderr.trim()})`);
      const ro = testCgroup(a, 'dev-ro', withDefaultDevices({ devices: [{ allow: true, type: 'c', major: 1, minor: 11, access: 'r' }] }, []));
      const r2 = await runIn(a, ro, ['/bin/sh', '-c', script]);
      a.ok(r2.stdout.includes('kmsg-read-ok') && !r2.stdout.includes('kmsg-write-ok'), `allowed "r" only: read opens, write does not (${r2.stdout.trim().replace(/\n/g, ' ')})`);
    },
  },
  {
    name: 'update changes a live limit',
    async run(a) {
      const cg = testCgroup(a, 'update', { memory: memory(16 * MiB) });
      const killed = await runIn(a, cg, hog(32));
      a.ok(killed.signal === 'SIGKILL', `32 MiB under 16 MiB is killed (${killed.signal ?? killed.code})`);
      cg.update({ memory: memory(96 * MiB) });
      a.ok(cg.stats().memory.usage.limit === 96 * MiB, 'the new limit is in place');
      const ok = await runIn(a, cg, hog(32));
      a.ok(ok.code === 0, `after update to 96 MiB the same 32 MiB run survives (${ok.signal ?? ok.code})`);
      cg.update({ pids: { limit: 1 } });
      const r = await runIn(a, cg, ['/bin/sh', '-c', '/bin/true & wait']);
      a.ok(/fork|resource/i.test(r.stderr), `pids limit 1 set live refuses a fork (${r.stderr.trim()})`);
    },
  },
  {
    name: 'signalAll reaches every process; destroy kills what is left and removes the cgroup',
    async run(a) {
      const cg = testCgroup(a, 'kill');
      startIn(a, cg, ['/bin/sh', '-c', 'sleep 30 & sleep 30 & sleep 30 & wait']);
      for (let i = 0; i < 100 && cg.pids().length < 4; i++) await sleep(20);
      a.ok(cg.pids().length === 4, `4 processes in the cgroup (${cg.pids().length})`);
      const st = cg.stats();
      a.ok((st.pids.current ?? 0) >= 4 || st.pids.current === undefined, `stats pids.current ${st.pids.current}`);
      a.ok((st.memory.usage.usage ?? 0) > 0, `memory usage ${st.memory.usage.usage} > 0`);
      cg.signalAll(15);
      for (let i = 0; i < 100 && cg.pids().length; i++) await sleep(20);
      a.ok(cg.pids().length === 0, 'SIGTERM to all: none left');

      const cg2 = testCgroup(a, 'destroy');
      startIn(a, cg2, ['/bin/sh', '-c', 'trap "" TERM; sleep 30 & sleep 30 & wait']);
      for (let i = 0; i < 100 && cg2.pids().length < 3; i++) await sleep(20);
      const pids = cg2.pids();
      await cg2.destroy();
      a.ok(!cg2.exists(), 'cgroup removed');
      a.ok(pids.every((p) => !alive(p)), `its processes are gone (${pids.join(' ')})`);
    },
  },
];

function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX]/.test(st);
  } catch {
    return false;
  }
}

/** Why the checks cannot run here, or undefined. */
export function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create cgroups';
  const mode = detectCgroupMode();
  if (mode === 'v2') {
    const ctl = readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8');
    for (const c of ['memory', 'pids', 'cpu']) if (!ctl.includes(c)) return `cgroup v2 controller ${c} is not enabled at the root`;
  }
  return undefined;
}
