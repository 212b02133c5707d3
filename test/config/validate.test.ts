// config.json validation: what a user sees for each kind of mistake.
// Needs the built validator (npx tsc -p . && node scripts/build-validators.js).
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { validateConfig } from '../../src/runtime/config/validate';
import { defaultSpec } from '../../src/runtime/config/default-spec';
import { ConfigError } from '../../src/runtime/errors';
import { CAPABILITIES, RLIMITS } from '../../src/runtime/config/tables';
import { spawnSync } from 'child_process';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const repo = path.resolve(__dirname, '../..');

/** A fresh, valid config to break. */
function base(): Json {
  return JSON.parse(JSON.stringify(defaultSpec())) as Json;
}

/** The ConfigError message validateConfig gives for the config mutate makes, or "valid". */
function messageFor(mutate: (c: Json) => void): string {
  const c = base();
  mutate(c);
  try {
    validateConfig(c);
    return 'valid';
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message;
  }
}

t.test('the default spec, the rootless spec and the busybox bundle validate', async (t) => {
  t.doesNotThrow(() => validateConfig(defaultSpec()));
  t.doesNotThrow(() => validateConfig(defaultSpec({ rootless: true, uid: 1000, gid: 1000 })));
  const busybox = JSON.parse(fs.readFileSync(path.join(repo, 'bundles/busybox/config.json'), 'utf8')) as unknown;
  t.doesNotThrow(() => validateConfig(busybox));
});

t.test('unknown properties are allowed, as the spec requires', async (t) => {
  t.equal(
    messageFor((c) => {
      c.futureField = { x: 1 };
      c.process.somethingNew = true;
      c.linux.resources.newController = {};
      c.mounts[0].extra = 'y';
    }),
    'valid',
  );
});

t.test('a config using every section of runtime-spec 1.2 validates', async (t) => {
  const full = base();
  Object.assign(full.process, {
    consoleSize: { height: 24, width: 80 },
    user: { uid: 1, gid: 1, umask: 0o22, additionalGids: [5, 6] },
    apparmorProfile: 'p',
    selinuxLabel: 'l',
    oomScoreAdj: -500,
    ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
    scheduler: { policy: 'SCHED_BATCH', nice: 5, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
    execCPUAffinity: { initial: '0-3,7', final: '1' },
  });
  full.process.capabilities.ambient = ['CAP_KILL'];
  full.process.capabilities.inheritable = ['CAP_KILL'];
  full.domainname = 'example.org';
  full.annotations = { 'org.example.key': 'value' };
  full.hooks = {
    prestart: [{ path: '/bin/true' }],
    createRuntime: [{ path: '/bin/true', args: ['true'], env: ['A=1'], timeout: 5 }],
    createContainer: [],
    startContainer: [],
    poststart: [],
    poststop: [{ path: '/bin/true' }],
  };
  full.mounts.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'idmap'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] });
  Object.assign(full.linux, {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    timeOffsets: { boottime: { secs: 10, nanosecs: 0 }, monotonic: { secs: -5 } },
    devices: [
      { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { type: 'p', path: '/dev/fifo' },
    ],
    cgroupsPath: '/ccrun/test',
    rootfsPropagation: 'rslave',
    seccomp: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }],
    },
    sysctl: { 'net.ipv4.ip_forward': '1' },
    mountLabel: 'system_u:object_r:container_file_t:s0',
    personality: { domain: 'LINUX32', flags: [] },
    intelRdt: { closID: 'g1', l3CacheSchema: 'L3:0=ff', enableCMT: true },
  });
  full.linux.namespaces.push({ type: 'user' }, { type: 'time' });
  full.linux.resources = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: null, access: 'rw' }],
    memory: { limit: 1 << 30, reservation: -1, swap: -1, swappiness: 60, disableOOMKiller: false, checkBeforeUpdate: true },
    cpu: { shares: 1024, quota: 50000, period: 100000, burst: 0, cpus: '0-1', mems: '0', idle: 0 },
    pids: { limit: 100 },
    blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
    network: { classID: 1, priorities: [{ name: 'eth0', priority: 1 }] },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    unified: { 'memory.high': '1G' },
  };
  t.doesNotThrow(() => validateConfig(full));
});

t.test('messages name the JSON path and the problem', async (t) => {
  const cases: [string, (c: Json) => void, string][] = [
    ['empty args', (c) => (c.process.args = []), 'config.json: /process/args must be a non-empty array'],
    ['missing args', (c) => delete c.process.args, 'config.json: /process is missing required field "args"'],
    ['missing cwd', (c) => delete c.process.cwd, 'config.json: /process is missing required field "cwd"'],
    ['relative cwd', (c) => (c.process.cwd = 'tmp'), 'config.json: /process/cwd must be an absolute path'],
    [
      'unknown namespace',
      (c) => (c.linux.namespaces[2].type = 'net'),
      'config.json: /linux/namespaces/2/type must be one of pid, network, mount, ipc, uts, user, cgroup, time',
    ],
    ['relative mount destination', (c) => (c.mounts[0].destination = 'proc'), 'config.json: /mounts/0/destination must be an absolute path'],
    ['missing ociVersion', (c) => delete c.ociVersion, 'config.json: missing required field "ociVersion"'],
    ['missing root', (c) => delete c.root, 'config.json: missing required field "root"'],
    ['empty root path', (c) => (c.root.path = ''), 'config.json: /root/path must not be empty'],
    ['bad ociVersion', (c) => (c.ociVersion = '1.2'), 'config.json: /ociVersion must be a SemVer version such as 1.2.0'],
    ['ociVersion 2', (c) => (c.ociVersion = '2.0.0'), 'config.json: /ociVersion "2.0.0" is not supported: ccrun accepts runtime-spec 1.x'],
    ['string uid', (c) => (c.process.user.uid = '0'), 'config.json: /process/user/uid must be an integer'],
    ['negative gid', (c) => (c.process.user.gid = -1), 'config.json: /process/user/gid must be at least 0'],
    ['uid above uint32', (c) => (c.process.user.uid = 2 ** 32), 'config.json: /process/user/uid must be at most 4294967295'],
    ['fractional id', (c) => (c.process.user.additionalGids = [1.5]), 'config.json: /process/user/additionalGids/0 must be an integer'],
    ['missing user', (c) => delete c.process.user, 'config.json: /process is missing required field "user"'],
    [
      'unknown capability',
      (c) => (c.process.capabilities.bounding[1] = 'CAP_FLY'),
      'config.json: /process/capabilities/bounding/1 must be a capability name such as CAP_KILL, not "CAP_FLY"',
    ],
    [
      'capability without prefix',
      (c) => (c.process.capabilities.ambient = ['KILL']),
      'config.json: /process/capabilities/ambient/0 must be a capability name such as CAP_KILL, not "KILL"',
    ],
    [
      'unknown rlimit',
      (c) => (c.process.rlimits[0].type = 'RLIMIT_FILES'),
      'config.json: /process/rlimits/0/type must be an rlimit name such as RLIMIT_NOFILE, not "RLIMIT_FILES"',
    ],
    ['rlimit without soft', (c) => delete c.process.rlimits[0].soft, 'config.json: /process/rlimits/0 is missing required field "soft"'],
    [
      'rlimit soft above hard',
      (c) => (c.process.rlimits[0].soft = 2048),
      'config.json: /process/rlimits/0 has soft limit 2048 above its hard limit 1024',
    ],
    [
      'duplicate rlimit',
      (c) => c.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }),
      'config.json: /process/rlimits/1 duplicates rlimit type "RLIMIT_NOFILE"',
    ],
    ['terminal as string', (c) => (c.process.terminal = 'yes'), 'config.json: /process/terminal must be true or false'],
    ['env without =', (c) => c.process.env.push('DEBUG'), 'config.json: /process/env/2 must look like NAME=value'],
    ['args of numbers', (c) => (c.process.args = ['sleep', 5]), 'config.json: /process/args/1 must be a string'],
    ['process not an object', (c) => (c.process = 'sh'), 'config.json: /process must be an object'],
    ['mounts not an array', (c) => (c.mounts = {}), 'config.json: /mounts must be an array'],
    ['mount without destination', (c) => delete c.mounts[1].destination, 'config.json: /mounts/1 is missing required field "destination"'],
    ['mount options not strings', (c) => (c.mounts[1].options = 'ro'), 'config.json: /mounts/1/options must be an array'],
    [
      'duplicate namespace',
      (c) => c.linux.namespaces.push({ type: 'pid' }),
      'config.json: /linux/namespaces/6 duplicates namespace type "pid"',
    ],
    [
      'relative namespace path',
      (c) => (c.linux.namespaces[1].path = 'proc/1/ns/net'),
      'config.json: /linux/namespaces/1/path must be an absolute path',
    ],
    ['namespace without type', (c) => (c.linux.namespaces[0] = {}), 'config.json: /linux/namespaces/0 is missing required field "type"'],
    [
      'id mapping without size',
      (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000 }]),
      'config.json: /linux/uidMappings/0 is missing required field "size"',
    ],
    [
      'device without numbers',
      (c) => (c.linux.devices = [{ type: 'c', path: '/dev/x' }]),
      'config.json: /linux/devices/0 is missing required field "major"\nconfig.json: /linux/devices/0 is missing required field "minor"',
    ],
    ['device of unknown type', (c) => (c.linux.devices = [{ type: 'x', path: '/dev/x', major: 1, minor: 1 }]), 'config.json: /linux/devices/0/type must be one of c, b, u, p'],
    ['device rule access', (c) => (c.linux.resources.devices[0].access = 'rwx'), 'config.json: /linux/resources/devices/0/access must be made of the letters r, w and m'],
    ['device rule without allow', (c) => delete c.linux.resources.devices[0].allow, 'config.json: /linux/resources/devices/0 is missing required field "allow"'],
    ['memory limit as string', (c) => (c.linux.resources.memory = { limit: '1G' }), 'config.json: /linux/resources/memory/limit must be an integer'],
    ['pids without limit', (c) => (c.linux.resources.pids = {}), 'config.json: /linux/resources/pids is missing required field "limit"'],
    ['cpus not a list', (c) => (c.linux.resources.cpu = { cpus: 'all' }), 'config.json: /linux/resources/cpu/cpus must be a CPU list such as 0-3,7'],
    ['rootfsPropagation', (c) => (c.linux.rootfsPropagation = 'recursive'), 'config.json: /linux/rootfsPropagation must be one of private, shared, slave, unbindable, rprivate, rshared, rslave, runbindable'],
    ['masked path relative', (c) => c.linux.maskedPaths.push('proc/kcore'), 'config.json: /linux/maskedPaths/10 must be an absolute path'],
    ['sysctl value number', (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'config.json: /linux/sysctl/net.ipv4.ip_forward must be a string'],
    ['annotation with empty key', (c) => (c.annotations = { '': 'x' }), 'config.json: /annotations has an empty key'],
    ['seccomp without default action', (c) => (c.linux.seccomp = {}), 'config.json: /linux/seccomp is missing required field "defaultAction"'],
    [
      'seccomp unknown action',
      (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_DENY' }),
      'config.json: /linux/seccomp/defaultAction must be one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY',
    ],
    [
      'seccomp syscall without names',
      (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }),
      'config.json: /linux/seccomp/syscalls/0/names must be a non-empty array',
    ],
    ['relative hook path', (c) => (c.hooks = { poststop: [{ path: 'cleanup.sh' }] }), 'config.json: /hooks/poststop/0/path must be an absolute path'],
    ['hook timeout zero', (c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 0 }] }), 'config.json: /hooks/prestart/0/timeout must be at least 1'],
    ['oomScoreAdj out of range', (c) => (c.process.oomScoreAdj = 1001), 'config.json: /process/oomScoreAdj must be at most 1000'],
    ['consoleSize incomplete', (c) => (c.process.consoleSize = { height: 24 }), 'config.json: /process/consoleSize is missing required field "width"'],
    ['personality domain', (c) => (c.linux.personality = { domain: 'LINUX64' }), 'config.json: /linux/personality/domain must be one of LINUX, LINUX32'],
    ['timeOffsets clock', (c) => (c.linux.timeOffsets = { realtime: { secs: 1 } }), 'config.json: /linux/timeOffsets/realtime is not a clock: use "boottime" or "monotonic"'],
    ['ioPriority without priority', (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_RT' }), 'config.json: /process/ioPriority is missing required field "priority"'],
    ['scheduler without policy', (c) => (c.process.scheduler = { nice: 1 }), 'config.json: /process/scheduler is missing required field "policy"'],
    ['ioPriority class', (c) => (c.process.ioPriority = { class: 'BE', priority: 4 }), 'config.json: /process/ioPriority/class must be one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE'],
  ];
  for (const [name, mutate, expected] of cases) t.equal(messageFor(mutate), expected, name);
});

t.test('a non-object document', async (t) => {
  t.throws(() => validateConfig([]), { message: 'config.json: the document must be an object' });
  t.throws(() => validateConfig(null), { message: 'config.json: the document must be an object' });
});

t.test('the file name given is the prefix', async (t) => {
  const c = base();
  c.process.args = [];
  t.throws(() => validateConfig(c, '/b/config.json'), { message: '/b/config.json: /process/args must be a non-empty array' });
});

t.test('only the first five problems are listed, one per line, then a count', async (t) => {
  const msg = messageFor((c) => {
    c.process.args = [];
    c.process.cwd = 'x';
    c.mounts.forEach((m: Json) => (m.destination = 'rel'));
  });
  const lines = msg.split('\n');
  t.equal(lines.length, 6);
  t.ok(lines.slice(0, 5).every((l) => l.startsWith('config.json: /')), 'problems are prefixed and located');
  t.equal(lines[5], 'config.json: ... and 4 more problems');
});

t.test('a type error hides the follow-on errors at the same path', async (t) => {
  t.equal(
    messageFor((c) => (c.process.user.uid = -1.5)),
    'config.json: /process/user/uid must be an integer',
  );
});

t.test('the schema lists exactly the capabilities and rlimits of tables.ts', async (t) => {
  const schema = JSON.parse(fs.readFileSync(path.join(repo, 'schema/config.schema.json'), 'utf8')) as Json;
  t.same(schema.definitions.capability.enum, [...CAPABILITIES]);
  t.same(schema.definitions.rlimitType.enum, [...RLIMITS.keys()]);
});

t.test('validating at run time loads the generated validator, never ajv', async (t) => {
  const script = `
    const t0 = process.hrtime.bigint();
    const { validateConfig } = require('./dist/runtime/config/validate.js');
    const t1 = process.hrtime.bigint();
    validateConfig(require('./bundles/busybox/config.json'));
    const t2 = process.hrtime.bigint();
    const ajv = Object.keys(require.cache).filter((f) => f.includes('/node_modules/ajv/'));
    console.log(JSON.stringify({ ajv, requireMs: Number(t1 - t0) / 1e6, firstValidateMs: Number(t2 - t1) / 1e6 }));
  `;
  // A clean environment: tap's NODE_OPTIONS would preload its own modules.
  const r = spawnSync(process.execPath, ['-e', script], { cwd: repo, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ajv: string[]; requireMs: number; firstValidateMs: number };
  t.same(out.ajv, [], 'no module of ajv is loaded');
  t.comment(`require validate.js: ${out.requireMs.toFixed(2)} ms; first validation (loads the validator): ${out.firstValidateMs.toFixed(2)} ms`);
  // Generous bounds for a loaded CI machine; typical is well under 1 ms and 3 ms.
  t.ok(out.requireMs < 20, `require(validate.js) took ${out.requireMs} ms`);
});
