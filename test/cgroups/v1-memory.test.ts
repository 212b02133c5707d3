// Every memory field of linux.resources on this host's cgroup v1 memory
// controller, read back from the cgroup files the kernel shows: applied, or
// refused by the field's name where the kernel cannot honour it (with the
// cgroup as it was). Also through a container's config. Skipped, saying why,
// where memory is not a v1 controller.
import t from 'tap';
import * as fs from 'fs';
import { join } from 'path';
import { openCgroup, detectCgroupMode, type CgroupManager } from '../../src/cgroups/index';
import { HostError, ConfigError } from '../../src/runtime/errors';
import { ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId } from '../helpers/runtime';

const MEMORY = '/sys/fs/cgroup/memory';
const MiB = 1 << 20;
const mode = detectCgroupMode();
const why = mode === 'v2' ? 'this host runs cgroup v2 (the v1 memory controller is not there)' : !fs.existsSync(join(MEMORY, 'cgroup.procs')) ? `no v1 memory controller at ${MEMORY}` : process.getuid?.() !== 0 ? 'needs root to make cgroups' : '';
if (why) t.comment(`skipped: ${why}`);
const parent = `/ccrun-test-v1mem-${process.pid}`;

/** The common parent, from every v1 hierarchy (each test's cgroup is gone by then; a busy one stays and fails the rmdir). */
function removeParent(): void {
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    try {
      fs.rmdirSync(join('/sys/fs/cgroup', h, parent));
    } catch {
      /* not made there, or another test's cgroup still in it */
    }
  }
}

function memoryCgroup(t: Tap, name: string): CgroupManager {
  const cg = openCgroup({ id: name, cgroupsPath: `${parent}/${name}` });
  t.teardown(async () => {
    await cg.destroy();
    removeParent();
  });
  cg.create();
  return cg;
}
type Tap = { teardown(fn: () => unknown): void };

const file = (cg: CgroupManager, f: string): string => fs.readFileSync(join(cg.paths().memory, f), 'utf8').trim();
const oomKillDisable = (cg: CgroupManager): string => /oom_kill_disable (\d)/.exec(file(cg, 'memory.oom_control'))?.[1] ?? '?';

t.test('limit, reservation, swap, kernelTCP, swappiness, disableOOMKiller, useHierarchy: applied and read back', { skip: why || false }, async (t) => {
  const cg = memoryCgroup(t, 'all');
  const memsw = fs.existsSync(join(cg.paths().memory, 'memory.memsw.limit_in_bytes'));
  cg.update({ memory: { limit: 64 * MiB, reservation: 32 * MiB, ...(memsw ? { swap: 128 * MiB } : {}), kernelTCP: 16 * MiB, swappiness: 10, disableOOMKiller: true, useHierarchy: true } });
  t.equal(file(cg, 'memory.limit_in_bytes'), String(64 * MiB), 'limit');
  t.equal(file(cg, 'memory.soft_limit_in_bytes'), String(32 * MiB), 'reservation');
  if (memsw) t.equal(file(cg, 'memory.memsw.limit_in_bytes'), String(128 * MiB), 'swap (memory+swap)');
  else t.comment('no memory.memsw.limit_in_bytes here (swap accounting off): swap not checked');
  t.equal(file(cg, 'memory.kmem.tcp.limit_in_bytes'), String(16 * MiB), 'kernelTCP');
  t.equal(file(cg, 'memory.swappiness'), '10', 'swappiness');
  t.equal(oomKillDisable(cg), '1', 'disableOOMKiller');
  t.equal(file(cg, 'memory.use_hierarchy'), '1', 'useHierarchy');
  cg.update({ memory: { kernelTCP: -1, disableOOMKiller: false } });
  t.ok(Number(file(cg, 'memory.kmem.tcp.limit_in_bytes')) > 2 ** 62, 'kernelTCP -1: unlimited again');
  t.equal(oomKillDisable(cg), '0', 'disableOOMKiller false');
});

t.test('kernel (memory.kmem.limit_in_bytes): applied where the kernel limits kernel memory, else refused by name with nothing changed', { skip: why || false }, async (t) => {
  const cg = memoryCgroup(t, 'kmem');
  cg.update({ memory: { limit: 64 * MiB } });
  if (!fs.existsSync(join(cg.paths().memory, 'memory.kmem.limit_in_bytes'))) {
    t.throws(() => cg.update({ memory: { limit: 48 * MiB, kernel: 8 * MiB } }), /linux\.resources\.memory\.kernel: this kernel has no memory\.kmem\.limit_in_bytes/);
    t.equal(file(cg, 'memory.limit_in_bytes'), String(64 * MiB), 'the limit was not changed either');
    return;
  }
  const before = file(cg, 'memory.kmem.limit_in_bytes');
  let err: unknown;
  try {
    cg.update({ memory: { limit: 48 * MiB, kernel: 8 * MiB } });
  } catch (e) {
    err = e;
  }
  if (err === undefined) {
    t.equal(file(cg, 'memory.kmem.limit_in_bytes'), String(8 * MiB), 'this kernel limits kernel memory: applied');
    t.equal(file(cg, 'memory.limit_in_bytes'), String(48 * MiB));
  } else {
    t.type(err, HostError);
    t.match((err as Error).message, /^linux\.resources\.memory\.kernel: this kernel does not limit kernel memory \(it accepted 8388608 for memory\.kmem\.limit_in_bytes but still reads \d+\)/, 'refused by name');
    t.equal(file(cg, 'memory.kmem.limit_in_bytes'), before, 'kmem limit as it was');
    t.equal(file(cg, 'memory.limit_in_bytes'), String(64 * MiB), 'and nothing else changed: the limit is still the old one');
  }
});

t.test('useHierarchy false: applied, or refused by name (kernels that are always hierarchical) with nothing changed', { skip: why || false }, async (t) => {
  const cg = memoryCgroup(t, 'hier');
  cg.update({ memory: { limit: 64 * MiB } });
  let err: unknown;
  try {
    cg.update({ memory: { limit: 48 * MiB, useHierarchy: false } });
  } catch (e) {
    err = e;
  }
  if (err === undefined) {
    t.equal(file(cg, 'memory.use_hierarchy'), '0', 'applied');
  } else {
    t.type(err, ConfigError);
    t.match((err as Error).message, /^linux\.resources\.memory\.useHierarchy: cannot write "0" to .*memory\.use_hierarchy: the kernel rejected the value/);
    t.equal(file(cg, 'memory.limit_in_bytes'), String(64 * MiB), 'the limit was not changed');
  }
});

t.test('a container\'s config: kernelTCP and swappiness reach its cgroup', { skip: why || false }, async (t) => {
  const root = stateRoot(t);
  const id = uniqueId('v1mem');
  const spec = busyboxSpec(['true']);
  spec.linux!.cgroupsPath = `${parent}/${id}`;
  spec.linux!.resources = { memory: { limit: 64 * MiB, kernelTCP: 12 * MiB, swappiness: 7 } };
  t.teardown(() => {
    ccrun(root, ['delete', '--force', id]);
    removeParent();
  });
  const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /kernelTCP/, 'no warning about kernelTCP');
  const dir = join(MEMORY, parent, id);
  t.equal(fs.readFileSync(join(dir, 'memory.kmem.tcp.limit_in_bytes'), 'utf8').trim(), String(12 * MiB), 'kernelTCP, seen on the host');
  t.equal(fs.readFileSync(join(dir, 'memory.swappiness'), 'utf8').trim(), '7', 'swappiness, seen on the host');
});
