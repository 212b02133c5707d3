// Both implementations driven against a fake cgroupfs in a temp directory:
// which files get which values (and in which order), and which requests are
// refused with an error naming the config field.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, chownSync } from 'fs';
import { tmpdir } from 'os';
import { join, dirname } from 'path';
import { openCgroup, detectCgroupMode, checkCgroupsPath, parseProcCgroup, type CgroupManager } from '../../src/cgroups/index';
import { observeCgroupWrites } from '../../src/cgroups/cgroupfs';
import { CgroupV2 } from '../../src/cgroups/v2';
import { NoCgroup } from '../../src/cgroups/none';
import { decodeProgram } from '../../src/cgroups/v2-device-filter';
import { statsJson } from '../../src/cgroups/stats';
import { withDefaultDevices } from '../../src/cgroups/devices';
import { ConfigError, HostError } from '../../src/runtime/errors';
import type { Resources } from '../../src/runtime/config/types';

const V1_SELF = '9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/user/me\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n';
const V2_SELF = '0::/user.slice/me\n';

function tempRoot(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'ccrun-fakecg-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function files(dir: string, content: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(content)) writeFileSync(join(dir, f), v);
}

function recordWrites(t: Test, root: string): [string, string][] {
  const log: [string, string][] = [];
  observeCgroupWrites((p, v) => log.push([p.slice(root.length), v]));
  t.teardown(() => observeCgroupWrites(undefined));
  return log;
}

const read = (p: string): string => readFileSync(p, 'utf8');

// ---- v1 ----

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n', 'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory.soft_limit_in_bytes': '', 'memory.swappiness': '60', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
    'memory.use_hierarchy': '1', 'memory.usage_in_bytes': '4096\n', 'memory.max_usage_in_bytes': '8192\n', 'memory.failcnt': '2\n',
    'memory.memsw.usage_in_bytes': '4096\n', 'memory.memsw.failcnt': '0\n', 'memory.stat': 'cache 100\nrss 200\ntotal_cache 300\n',
  },
  cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.cfs_burst_us': '0', 'cpu.idle': '0', 'cpu.rt_period_us': '1000000', 'cpu.rt_runtime_us': '0', 'cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n' },
  cpuacct: { 'cpuacct.usage': '123456\n', 'cpuacct.usage_percpu': '100000 23456 \n', 'cpuacct.stat': 'user 3\nsystem 2\n' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'pids.max': 'max\n', 'pids.current': '3\n' },
  blkio: { 'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '', 'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '', 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 0\nTotal 4096\n' },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': '' },
  freezer: { 'freezer.state': 'THAWED\n' },
};

function fakeV1(t: Test): string {
  const root = tempRoot(t);
  for (const c of Object.keys(V1_FILES)) files(join(root, c), { 'cgroup.procs': '', ...(c === 'cpuset' ? { 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' } : {}) });
  files(join(root, 'unified'), { 'cgroup.controllers': '', 'cgroup.procs': '' });
  return root;
}

/** What the kernel creates in a new v1 cgroup (a fake tree needs it made up front). */
function populateV1(root: string, rel: string): void {
  for (const [c, fs] of Object.entries(V1_FILES)) files(join(root, c, rel), { 'cgroup.procs': '', ...fs });
}

t.test('detection: v1, hybrid, v2', async (t) => {
  const root = fakeV1(t);
  t.equal(detectCgroupMode(root), 'hybrid', 'v1 controllers + empty unified mount');
  rmSync(join(root, 'unified'), { recursive: true });
  t.equal(detectCgroupMode(root), 'v1');
  const v2 = tempRoot(t);
  files(v2, { 'cgroup.controllers': 'cpu memory', 'cgroup.procs': '' });
  t.equal(detectCgroupMode(v2), 'v2');
});

t.test('cgroupsPath rules', async (t) => {
  t.same(checkCgroupsPath('/a/b/'), { path: '/a/b', relative: false });
  t.same(checkCgroupsPath('a/b'), { path: 'a/b', relative: true });
  t.throws(() => checkCgroupsPath('system.slice:ccrun:abc'), /systemd cgroup driver is not supported/);
  t.throws(() => checkCgroupsPath('/a/../../etc'), /must not contain "\.\."/);
  t.throws(() => checkCgroupsPath('/'), /names the cgroup root/);
  t.same(parseProcCgroup('2:cpu,cpuacct:/x\n0::/y\n'), { cpu: '/x', cpuacct: '/x', '': '/y' });
});

t.test('v1: default path is /ccrun/<id> in every mounted hierarchy; a relative path follows each hierarchy of the caller', async (t) => {
  const root = fakeV1(t);
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  t.equal(cg.version, 1);
  t.equal(cg.path, '/ccrun/c1');
  t.equal(cg.paths().memory, join(root, 'memory/ccrun/c1'));
  t.equal(cg.paths().freezer, join(root, 'freezer/ccrun/c1'));
  const rel = openCgroup({ id: 'c1', cgroupsPath: 'sub/c1', mountRoot: root, selfCgroup: V1_SELF });
  t.equal(rel.paths().memory, join(root, 'memory/user/me/sub/c1'), 'memory: below the caller\'s memory cgroup');
  t.equal(rel.paths().pids, join(root, 'pids/sub/c1'));
  const again = openCgroup({ id: 'c1', cgroupsPath: 'sub/c1', mountRoot: root, selfCgroup: V1_SELF });
  t.same(again.paths(), rel.paths(), 'deterministic from (id, cgroupsPath)');
});

t.test('v1: create makes every hierarchy, copies cpuset from the parent, and writes each resource', async (t) => {
  const root = fakeV1(t);
  populateV1(root, 'ccrun/c1');
  // The parent level exists but is empty, as the kernel leaves a new cpuset.
  files(join(root, 'cpuset/ccrun'), { 'cpuset.cpus': '', 'cpuset.mems': '' });
  rmSync(join(root, 'cpuset/ccrun/c1'), { recursive: true });
  const log = recordWrites(t, root);
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  // cpuset/ccrun/c1 will be made by create; a real kernel would add its files.
  t.throws(() => cg.create({ cpu: { cpus: '0' } }), HostError, 'fake tree: the new cpuset dir has no files');
  t.notOk(existsSync(join(root, 'cpuset/ccrun/c1')), 'what create made is removed on failure');
  populateV1(root, 'ccrun/c1');
  log.length = 0;
  const r: Resources = {
    memory: { limit: 256 << 20, swap: 512 << 20, reservation: 128 << 20, swappiness: 10, disableOOMKiller: true },
    cpu: { shares: 512, quota: 50000, period: 100000, realtimePeriod: 1000000, realtimeRuntime: 950000, cpus: '1', mems: '0', burst: 1000, idle: 0 },
    pids: { limit: 32 },
    blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }] },
    devices: withDefaultDevices({ devices: [{ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }] }, []).devices,
  };
  cg.create(r);
  const d = (c: string, f: string): string => read(join(root, c, 'ccrun/c1', f));
  t.equal(d('memory', 'memory.limit_in_bytes'), String(256 << 20));
  t.equal(d('memory', 'memory.memsw.limit_in_bytes'), String(512 << 20));
  const order = log.filter(([p]) => /memory\.(memsw\.)?limit_in_bytes$/.test(p)).map(([p]) => p.split('/').pop());
  t.same(order, ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'], 'lowering: memory first, then memsw (memsw >= limit at every step)');
  t.equal(d('memory', 'memory.soft_limit_in_bytes'), String(128 << 20));
  t.equal(d('memory', 'memory.swappiness'), '10');
  t.equal(d('memory', 'memory.oom_control'), '1');
  t.equal(d('cpu', 'cpu.shares'), '512');
  t.equal(d('cpu', 'cpu.cfs_quota_us'), '50000');
  t.equal(d('cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(d('cpu', 'cpu.cfs_burst_us'), '1000');
  t.equal(d('cpu', 'cpu.rt_runtime_us'), '950000');
  t.equal(d('cpuset', 'cpuset.cpus'), '1');
  t.equal(read(join(root, 'cpuset/ccrun/cpuset.cpus')), '0-1', 'an empty cpuset level gets its parent\'s cpus');
  t.equal(read(join(root, 'cpuset/ccrun/cpuset.mems')), '0');
  t.equal(d('pids', 'pids.max'), '32');
  t.equal(d('blkio', 'blkio.throttle.read_bps_device'), '8:0 1048576');
  t.equal(d('blkio', 'blkio.throttle.write_iops_device'), '8:0 100');
  const dev = log.filter(([p]) => /devices\.(allow|deny)$/.test(p)).map(([p, v]) => `${p.endsWith('allow') ? 'allow' : 'deny'} ${v}`);
  t.same(dev.slice(0, 5), ['deny a', 'allow c 10:200 rwm', 'allow c *:* m', 'allow b *:* m', 'allow c 1:3 rwm'], 'deny all first, then the rules in order');
  t.equal(dev.length, 2 + 11);
  t.same(cg.warnings, []);
});

t.test('v1: raising memory writes memsw first; -1 is unlimited for both', async (t) => {
  const root = fakeV1(t);
  populateV1(root, 'ccrun/c1');
  writeFileSync(join(root, 'memory/ccrun/c1/memory.memsw.limit_in_bytes'), String(64 << 20));
  const log = recordWrites(t, root);
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  cg.update({ memory: { limit: 128 << 20, swap: 256 << 20 } });
  t.same(log.map(([p]) => p.split('/').pop()), ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
  log.length = 0;
  cg.update({ memory: { limit: -1 } });
  t.same(log.map(([p, v]) => `${p.split('/').pop()}=${v}`), ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
});

t.test('v1: what the host or v1 cannot honour is refused by name, before anything is written', async (t) => {
  const root = fakeV1(t);
  populateV1(root, 'ccrun/c1');
  const log = recordWrites(t, root);
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  const refuse = (r: Resources, re: RegExp, type: typeof ConfigError | typeof HostError, what: string): void => {
    log.length = 0;
    t.throws(() => cg.update(r), type, what);
    t.throws(() => cg.update(r), re, what);
  };
  refuse({ unified: { 'memory.high': '1M' } }, /linux\.resources\.unified\["memory\.high"\].*need cgroup v2/, ConfigError, 'unified on v1');
  t.same(log, [], 'nothing written');
  refuse({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, /linux\.resources\.hugepageLimits: the cgroup v1 "hugetlb" controller is not mounted/, HostError, 'hugetlb not mounted');
  refuse({ network: { classID: 1 } }, /linux\.resources\.network\.classID: .*net_cls/, HostError, 'net_cls not mounted');
  refuse({ blockIO: { weight: 500 } }, /linux\.resources\.blockIO\.weight: .*no weight files/, HostError, 'no CFQ/BFQ weight');
  rmSync(join(root, 'memory/ccrun/c1/memory.memsw.limit_in_bytes'));
  refuse({ memory: { limit: 100, swap: 200 } }, /linux\.resources\.memory\.swap: swap accounting is not enabled on this host/, HostError, 'no memsw');
  refuse({ memory: { limit: 200, swap: 100 } }, /swap accounting|must be >=/, HostError, 'swap < limit');
  refuse({ memory: { swappiness: 101 } }, /swappiness: 101 is not in 0\.\.100/, ConfigError, 'swappiness range');
  // This fake kernel has no kmem files (as one built without kernel memory accounting).
  refuse({ memory: { limit: 1 << 20, kernel: 1 << 20 } }, /^linux\.resources\.memory\.kernel: this kernel has no memory\.kmem\.limit_in_bytes/, HostError, 'no kmem file');
  refuse({ memory: { limit: 1 << 20, kernelTCP: 1 << 20 } }, /^linux\.resources\.memory\.kernelTCP: this kernel has no memory\.kmem\.tcp\.limit_in_bytes/, HostError, 'no kmem.tcp file');
  t.same(log, [], 'nothing written by a refused memory update');
  t.same(cg.warnings, [], 'refused, not warned about');
});

t.test('v1: every memory field goes to its file, kernel memory included', async (t) => {
  const root = fakeV1(t);
  populateV1(root, 'ccrun/c1');
  files(join(root, 'memory/ccrun/c1'), { 'memory.kmem.limit_in_bytes': '9223372036854771712\n', 'memory.kmem.tcp.limit_in_bytes': '9223372036854771712\n' });
  const log = recordWrites(t, root);
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  cg.update({ memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, kernel: 16 << 20, kernelTCP: 8 << 20, swappiness: 10, disableOOMKiller: true, useHierarchy: true } });
  const at = (f: string): string => read(join(root, 'memory/ccrun/c1', f));
  t.same(
    [at('memory.limit_in_bytes'), at('memory.soft_limit_in_bytes'), at('memory.memsw.limit_in_bytes'), at('memory.kmem.limit_in_bytes'), at('memory.kmem.tcp.limit_in_bytes'), at('memory.swappiness'), at('memory.oom_control'), at('memory.use_hierarchy')],
    [String(64 << 20), String(32 << 20), String(128 << 20), String(16 << 20), String(8 << 20), '10', '1', '1'],
  );
  t.same(log.slice(0, 3).map(([p]) => p.split('/').pop()), ['memory.use_hierarchy', 'memory.kmem.limit_in_bytes', 'memory.kmem.tcp.limit_in_bytes'], 'what a kernel may refuse or ignore is written first');
  t.same(cg.warnings, []);
  log.length = 0;
  cg.update({ memory: { kernel: 0, kernelTCP: 0 } });
  t.same(log, [], 'kernel and kernelTCP 0: not set, as runc');
});

t.test('v1: freeze/thaw, pids, oom kills, stats in runc\'s shape', async (t) => {
  const root = fakeV1(t);
  populateV1(root, 'ccrun/c1');
  writeFileSync(join(root, 'pids/ccrun/c1/cgroup.procs'), '12\n34\n');
  files(join(root, 'pids/ccrun/c1/sub'), { 'cgroup.procs': '56\n' });
  const cg = openCgroup({ id: 'c1', mountRoot: root, selfCgroup: V1_SELF });
  await cg.freeze();
  t.equal(read(join(root, 'freezer/ccrun/c1/freezer.state')), 'FROZEN');
  t.ok(cg.frozen());
  await cg.thaw();
  t.notOk(cg.frozen());
  t.same(cg.pids(), [12, 34, 56], 'processes of the cgroup and below');
  t.equal(cg.oomKillCount(), 3);
  const s = JSON.parse(statsJson(cg.stats()));
  t.same(s.cpu, { usage: { total: 123456, percpu: [100000, 23456], kernel: 20000000, user: 30000000 }, throttling: { periods: 10, throttledPeriods: 4, throttledTime: 5000 } });
  t.same(s.memory.usage, { limit: 9223372036854771712, usage: 4096, max: 8192, failcnt: 2 });
  t.equal(s.memory.cache, 300);
  t.same(s.memory.swap, { limit: 9223372036854771712, usage: 4096, failcnt: 0 });
  t.same(s.memory.kernel, { limit: 0, failcnt: 0 }, 'no kmem files: empty entry, as runc prints it');
  t.same(s.pids, { current: 3 }, 'pids.max "max": no limit field');
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 8, op: 'Read', value: 4096 }, { major: 8, op: 'Write' }], 'omitempty like Go: minor 0 and value 0 left out');
  t.same(s.hugetlb, {});
  t.match(statsJson(cg.stats()), /"limit":9223372036854771712/, 'large numbers exact');
});

t.test('v1: destroy removes the cgroup from every hierarchy and is idempotent', async (t) => {
  const root = fakeV1(t);
  const cg = openCgroup({ id: 'c2', mountRoot: root, selfCgroup: V1_SELF });
  cg.create();
  t.ok(existsSync(join(root, 'memory/ccrun/c2')) && existsSync(join(root, 'pids/ccrun/c2')));
  t.ok(cg.exists());
  await cg.destroy();
  t.notOk(existsSync(join(root, 'memory/ccrun/c2')) || existsSync(join(root, 'pids/ccrun/c2')) || existsSync(join(root, 'cpuset/ccrun/c2')));
  t.ok(existsSync(join(root, 'memory/ccrun')), 'the shared parent stays');
  await cg.destroy();
  t.notOk(cg.exists());
});

// ---- v2 ----

const V2_CONTAINER_FILES: Record<string, string> = {
  'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.subtree_control': '', 'cgroup.procs': '',
  'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 0\n',
  'memory.max': 'max\n', 'memory.low': '0\n', 'memory.high': 'max\n', 'memory.swap.max': 'max\n', 'memory.current': '8192\n', 'memory.peak': '16384\n',
  'memory.swap.current': '4096\n', 'memory.events': 'low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n', 'memory.stat': 'anon 100\nfile 300\n',
  'cpu.weight': '100\n', 'cpu.max': 'max 100000\n', 'cpu.max.burst': '0\n', 'cpu.idle': '0\n',
  'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 3\nthrottled_usec 250\n',
  'cpuset.cpus': '', 'cpuset.mems': '', 'pids.max': 'max\n', 'pids.current': '2\n', 'io.weight': 'default 100\n', 'io.max': '',
  'io.stat': '8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n', 'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.current': '0\n', 'hugetlb.2MB.events': 'max 0\n', 'rdma.max': '',
};

function fakeV2(t: Test): string {
  const root = tempRoot(t);
  files(root, { 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  return root;
}

function populateV2(root: string, rel: string): void {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) files(join(root, ...parts.slice(0, i)), { 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  files(join(root, rel), V2_CONTAINER_FILES);
}

function openV2(root: string, id: string, attached: { dir: string; insns: Buffer }[], cgroupsPath?: string): CgroupManager {
  const cg = openCgroup({ id, mountRoot: root, selfCgroup: V2_SELF, cgroupsPath });
  t.ok(cg instanceof CgroupV2);
  (cg as CgroupV2).attachDeviceProgram = (dir, insns) => attached.push({ dir, insns });
  return cg;
}

t.test('v2: paths: default, absolute, relative to the caller\'s cgroup', async (t) => {
  const root = fakeV2(t);
  t.equal(openCgroup({ id: 'x', mountRoot: root, selfCgroup: V2_SELF }).path, '/ccrun/x');
  t.equal(openCgroup({ id: 'x', mountRoot: root, selfCgroup: V2_SELF, cgroupsPath: '/k8s/pod1/x' }).path, '/k8s/pod1/x');
  t.equal(openCgroup({ id: 'x', mountRoot: root, selfCgroup: V2_SELF, cgroupsPath: 'pod/x' }).path, '/user.slice/me/pod/x');
  t.same(openCgroup({ id: 'x', mountRoot: root, selfCgroup: V2_SELF }).paths(), { unified: join(root, 'ccrun/x') });
});

t.test('v2: create enables controllers in every ancestor and writes each resource with v2 units', async (t) => {
  const root = fakeV2(t);
  populateV2(root, 'ccrun/c1');
  const log = recordWrites(t, root);
  const attached: { dir: string; insns: Buffer }[] = [];
  const cg = openV2(root, 'c1', attached);
  cg.create({
    memory: { limit: 256 << 20, swap: 384 << 20, reservation: 64 << 20 },
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0', burst: 2000, idle: 1 },
    pids: { limit: -1 },
    blockIO: { weight: 1000, weightDevice: [{ major: 8, minor: 0, weight: 10 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 0 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
    rdma: { mlx5_0: { hcaHandles: 3 } },
    unified: { 'memory.high': '200000000' },
    devices: withDefaultDevices(undefined, []).devices,
  });
  const d = (f: string): string => read(join(root, 'ccrun/c1', f));
  t.equal(read(join(root, 'cgroup.subtree_control')), '+cpu +cpuset +io +memory +pids +hugetlb +rdma +misc', 'root enables what it offers');
  t.equal(read(join(root, 'ccrun/cgroup.subtree_control')), '+cpu +cpuset +io +memory +pids +hugetlb +rdma +misc', 'and so does each ancestor');
  t.equal(d('memory.max'), String(256 << 20));
  t.equal(d('memory.swap.max'), String(128 << 20), 'swap.max = swap - limit');
  t.equal(d('memory.low'), String(64 << 20));
  t.equal(d('cpu.weight'), '100', '1024 shares = weight 100');
  t.equal(d('cpu.max'), '50000 100000');
  t.equal(d('cpu.max.burst'), '2000');
  t.equal(d('cpu.idle'), '1');
  t.equal(d('cpuset.cpus'), '0');
  t.equal(d('pids.max'), 'max', '-1 -> max');
  t.same(log.filter(([p]) => p.endsWith('io.weight')).map(([, v]) => v), ['10000', '8:0 1'], 'blkio weights converted to io.weight');
  t.same(log.filter(([p]) => p.endsWith('io.max')).map(([, v]) => v), ['8:0 rbps=1048576', '8:16 wiops=max']);
  t.equal(d('hugetlb.2MB.max'), String(4 << 20));
  t.equal(d('rdma.max'), 'mlx5_0 hca_handle=3 hca_object=max');
  t.equal(d('memory.high'), '200000000', 'unified keys written as-is');
  t.equal(attached.length, 1, 'one device program attached');
  t.equal(attached[0].dir, join(root, 'ccrun/c1'));
  t.ok(decodeProgram(attached[0].insns).length > 10, 'with a block per rule');
});

t.test('v2: io.bfq.weight takes the v1 weight unconverted when BFQ is in use', async (t) => {
  const root = fakeV2(t);
  populateV2(root, 'ccrun/c1');
  writeFileSync(join(root, 'ccrun/c1/io.bfq.weight'), 'default 100\n');
  const cg = openV2(root, 'c1', []);
  cg.update({ blockIO: { weight: 300 } });
  t.equal(read(join(root, 'ccrun/c1/io.bfq.weight')), '300');
});

t.test('v2: update touches only the fields given; a swap-only update uses the current memory.max', async (t) => {
  const root = fakeV2(t);
  populateV2(root, 'ccrun/c1');
  writeFileSync(join(root, 'ccrun/c1/memory.max'), String(100 << 20));
  writeFileSync(join(root, 'ccrun/c1/cpu.max'), '20000 100000\n');
  const log = recordWrites(t, root);
  const cg = openV2(root, 'c1', []);
  cg.update({ memory: { swap: 150 << 20 } });
  t.same(log, [['/ccrun/c1/memory.swap.max', String(50 << 20)]]);
  log.length = 0;
  cg.update({ memory: { limit: 100 << 20, swap: 100 << 20 } });
  t.same(log[1], ['/ccrun/c1/memory.swap.max', '0'], 'swap == limit: no swap at all');
  log.length = 0;
  cg.update({ cpu: { period: 50000 } });
  t.same(log, [['/ccrun/c1/cpu.max', '20000 50000']], 'period alone keeps the quota');
  log.length = 0;
  cg.update({ cpu: { quota: -1 } });
  t.same(log, [['/ccrun/c1/cpu.max', 'max']]);
  log.length = 0;
  cg.update({ pids: { limit: 0 } });
  t.same(log, [['/ccrun/c1/pids.max', 'max']], 'pids limit 0 -> max');
  writeFileSync(join(root, 'ccrun/c1/memory.current'), String(300 << 20));
  t.throws(() => cg.update({ memory: { limit: 200 << 20, checkBeforeUpdate: true } }), /below the current usage/);
});

t.test('v2: what v2 or the host cannot honour is refused by name, before anything is written', async (t) => {
  const root = fakeV2(t);
  populateV2(root, 'ccrun/c1');
  const log = recordWrites(t, root);
  const cg = openV2(root, 'c1', []);
  const cases: [Resources, RegExp, typeof ConfigError | typeof HostError][] = [
    [{ memory: { limit: 1 << 20, swappiness: 10 } }, /^linux\.resources\.memory\.swappiness is not supported on cgroup v2/, ConfigError],
    [{ memory: { disableOOMKiller: true } }, /disableOOMKiller is not supported on cgroup v2/, ConfigError],
    [{ cpu: { realtimeRuntime: 1000 } }, /realtimeRuntime\/realtimePeriod are not supported on cgroup v2/, ConfigError],
    [{ network: { classID: 0x100001 } }, /network \(classID, priorities\) is not supported on cgroup v2/, ConfigError],
    [{ blockIO: { leafWeight: 100 } }, /leafWeight is not supported on cgroup v2/, ConfigError],
    [{ unified: { '../etc/passwd': 'x' } }, /unified\["\.\.\/etc\/passwd"\]: not a cgroup v2 file name/, ConfigError],
    [{ unified: { 'memory.nosuch': '1' } }, /unified\["memory\.nosuch"\]: no such file/, HostError],
    [{ hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }, /hugepageLimits\[0\] \(pageSize 1GB\): this host has no 1GB huge pages \(sizes: 2MB\)/, HostError],
    [{ memory: { limit: 100, swap: 50 } }, /must be >= linux\.resources\.memory\.limit/, ConfigError],
    [{ memory: { swap: 200 } }, /a swap limit needs a memory limit/, ConfigError],
  ];
  for (const [r, re, type] of cases) {
    t.throws(() => cg.update(r), type);
    t.throws(() => cg.update(r), re, re.source);
  }
  t.same(log, [], 'nothing written by a refused update');
  rmSync(join(root, 'ccrun/c1/memory.swap.max'));
  t.throws(() => cg.update({ memory: { limit: 100, swap: 200 } }), /linux\.resources\.memory\.swap: swap accounting is not enabled on this host/);
  writeFileSync(join(root, 'ccrun/c1/cgroup.controllers'), 'cpu memory\n');
  t.throws(() => cg.update({ pids: { limit: 5 } }), /linux\.resources\.pids\.limit: the cgroup v2 "pids" controller is not available/);
  cg.update({ memory: { kernelTCP: 1 } });
  t.match(cg.warnings.join('\n'), /deprecated and ignored/);
});

t.test('v2: a parent with processes cannot enable controllers for the container: said plainly', async (t) => {
  const root = fakeV2(t);
  files(join(root, 'user.slice/me'), { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': '', 'cgroup.procs': '4242\n' });
  const cg = openV2(root, 'c1', [], 'c1');
  t.equal(cg.path, '/user.slice/me/c1');
  t.throws(() => cg.create(), /cannot enable controllers in .*user\.slice\/me: it holds processes/);
  t.notOk(existsSync(join(root, 'user.slice/me/c1')));
});

t.test('v2: failed create removes the directories it made', async (t) => {
  const root = fakeV2(t);
  const cg = openV2(root, 'c9', [], '/a/b/c9');
  t.throws(() => cg.create({ pids: { limit: 3 } }), HostError, 'fake: the new dir has no kernel files');
  t.notOk(existsSync(join(root, 'a')), 'no half-made cgroup left');
});

t.test('v2: freeze, thaw, pids, oom kills, stats, destroy', async (t) => {
  const root = fakeV2(t);
  populateV2(root, 'ccrun/c1');
  const cg = openV2(root, 'c1', []);
  writeFileSync(join(root, 'ccrun/c1/cgroup.events'), 'populated 1\nfrozen 1\n');
  await cg.freeze();
  t.equal(read(join(root, 'ccrun/c1/cgroup.freeze')), '1');
  t.ok(cg.frozen());
  writeFileSync(join(root, 'ccrun/c1/cgroup.events'), 'populated 1\nfrozen 0\n');
  await cg.thaw();
  t.notOk(cg.frozen());
  t.equal(cg.oomKillCount(), 2);
  const s = JSON.parse(statsJson(cg.stats()));
  t.same(s.cpu, { usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 7, throttledPeriods: 3, throttledTime: 250000 } });
  t.same(s.memory.usage, { limit: 18446744073709551615, usage: 8192, max: 16384, failcnt: 5 });
  t.match(statsJson(cg.stats()), /"usage":\{"limit":18446744073709551615,/, 'max printed as Go\'s MaxUint64');
  t.same(s.memory.swap, { limit: 18446744073709551615, usage: 12288, failcnt: 0 }, 'v1-style memory+swap figures');
  t.equal(s.memory.cache, 300);
  t.same(s.pids, { current: 2 });
  t.same(s.blkio.ioServiceBytesRecursive, [{ major: 8, op: 'Read', value: 4096 }, { major: 8, op: 'Write' }]);
  t.same(s.blkio.ioServicedRecursive, [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write' }]);
  t.same(s.hugetlb, { '2MB': { failcnt: 0 } });

  const empty = openV2(root, 'c3', []);
  empty.create();
  t.ok(empty.exists());
  await empty.destroy();
  t.notOk(existsSync(join(root, 'ccrun/c3')));
  await empty.destroy();
});

t.test('rootless', async (t) => {
  const v1 = fakeV1(t);
  const cg = openCgroup({ id: 'r', mountRoot: v1, selfCgroup: V1_SELF, rootless: true });
  t.ok(cg instanceof NoCgroup, 'v1: no cgroup');
  t.match(cg.warnings[0], /rootless on cgroup v1: .*runs without resource limits/, 'said once, as a warning');
  cg.create({ devices: [{ allow: false, access: 'rwm' }] });
  t.throws(() => cg.create({ memory: { limit: 1 << 20 } }), /linux\.resources asks for limits, which need a cgroup/);

  const v2 = fakeV2(t);
  populateV2(v2, 'user.slice/user-1000.slice/user@1000.service/app.slice/me');
  const noDeleg = openCgroup({ id: 'r', mountRoot: v2, rootless: true, uid: 1000, selfCgroup: '0::/user.slice/user-1000.slice/user@1000.service/app.slice/me\n' });
  t.ok(noDeleg instanceof NoCgroup, 'v2 without a delegated cgroup: no cgroup');
  t.match(noDeleg.warnings[0], /no delegated cgroup/);
  for (const rel of ['user.slice/user-1000.slice/user@1000.service', 'user.slice/user-1000.slice/user@1000.service/app.slice', 'user.slice/user-1000.slice/user@1000.service/app.slice/me']) {
    chownSync(join(v2, rel), 1000, 1000);
    chownSync(join(v2, rel, 'cgroup.procs'), 1000, 1000);
  }
  const deleg = openCgroup({ id: 'r', mountRoot: v2, rootless: true, uid: 1000, selfCgroup: '0::/user.slice/user-1000.slice/user@1000.service/app.slice/me\n' });
  t.ok(deleg instanceof CgroupV2, 'v2 with delegation: a real cgroup');
  t.equal(deleg.path, '/user.slice/user-1000.slice/user@1000.service/ccrun/r', 'below the delegated root, the same for any of the user\'s shells');
  t.equal(dirname(deleg.path), '/user.slice/user-1000.slice/user@1000.service/ccrun');
});

t.test('destroy removes child cgroups below the container\'s, deepest first', async (t) => {
  const v1 = fakeV1(t);
  const cg1 = openCgroup({ id: 'n1', mountRoot: v1, selfCgroup: V1_SELF });
  cg1.create();
  mkdirSync(join(v1, 'pids/ccrun/n1/a/b'), { recursive: true });
  mkdirSync(join(v1, 'memory/ccrun/n1/c'), { recursive: true });
  await cg1.destroy();
  t.notOk(existsSync(join(v1, 'pids/ccrun/n1')) || existsSync(join(v1, 'memory/ccrun/n1')), 'v1: gone with its children');
  const v2 = fakeV2(t);
  const cg2 = openV2(v2, 'n2', []);
  cg2.create();
  mkdirSync(join(v2, 'ccrun/n2/a/b'), { recursive: true });
  await cg2.destroy();
  t.notOk(existsSync(join(v2, 'ccrun/n2')), 'v2: gone with its children');
});
