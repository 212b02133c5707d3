// The known runtime escapes, attempted from inside a container; each must fail
// and leave the host as it was.
//   CVE-2019-5736: overwrite the runtime through /proc/PID/exe
//   CVE-2024-21626: a leaked host fd or host working directory
//   CVE-2025-31133 class: image symlinks redirecting mounts, masks, devices, /proc writes
//   maskedPaths / readonlyPaths against the default capabilities
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import { CCRUN, REPO, ccrun, busyboxRootfs, busyboxSpec, makeBundle, stateRoot, uniqueId, hostMountsMentioning, type Tap } from '../helpers/runtime';
import type { Spec } from '../../src/runtime/config/types';

const root = stateRoot(t);
const HELPER = path.join(REPO, 'build', 'Release', 'ccrun-init');
const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function tempDir(t: Tap, prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A host directory with a file the container must never reach. */
function hostCanary(t: Tap): { dir: string; file: string } {
  const dir = tempDir(t, 'ccrun-canary-');
  const file = path.join(dir, 'canary');
  fs.writeFileSync(file, 'original\n');
  return { dir, file };
}

/** A private writable copy of the busybox rootfs, for hostile fixtures. */
function writableRootfs(t: Tap): string {
  const d = tempDir(t, 'ccrun-evilroot-');
  const r = spawnSync('cp', ['-a', `${busyboxRootfs()}/.`, d]);
  if (r.status !== 0) throw new Error(`cp: ${r.stderr}`);
  return d;
}

function specOn(rootfs: string, args: string[]): Spec {
  const s = busyboxSpec(args);
  s.root = { path: rootfs, readonly: false };
  return s;
}

function pidOf(id: string): number {
  return JSON.parse(ccrun(root, ['state', id]).stdout).pid as number;
}

t.test('CVE-2019-5736: /proc/PID/exe of a process ccrun put in the container cannot reach the runtime binary', async (t) => {
  const helperBefore = sha(HELPER);
  const nodeBefore = sha(process.execPath);
  // A created container: its pid 1 is ccrun-init, parked until start.
  const parked = uniqueId('parked');
  t.equal(ccrun(root, ['create', '--bundle', makeBundle(t, busyboxSpec(['sleep', '100'])), parked], { files: true }).code, 0);
  const pid = pidOf(parked);
  const exe = fs.readlinkSync(`/proc/${pid}/exe`);
  t.match(exe, /^\/memfd:ccrun-init/, 'the parked init runs from a sealed memfd copy, not the host file');
  t.not(exe, process.execPath, 'Node never enters the container');
  t.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+0/m);

  // An attacker sharing its pid namespace reaches it as pid 1.
  const attack = [
    'ls -l /proc/1/exe 2>&1',
    'if echo pwned >> /proc/1/exe; then echo BREACH-append; fi',
    'if cat /proc/1/exe > /tmp/copy && echo pwned > /proc/1/exe; then echo BREACH-write; fi',
    'if (exec 5</proc/1/exe && echo pwned >/proc/self/fd/5); then echo BREACH-reopen; fi',
    'echo done',
  ].join('; ');
  for (const ptrace of [false, true]) {
    const spec = busyboxSpec(['sh', '-c', attack]);
    spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${pid}/ns/pid` } : n));
    if (ptrace) {
      const c = spec.process!.capabilities!;
      for (const set of [c.bounding!, c.effective!, c.permitted!]) set.push('CAP_SYS_PTRACE');
    }
    const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('attacker')]);
    t.equal(r.code, 0, r.stderr);
    t.notMatch(r.stdout, /BREACH/, `no write through /proc/1/exe (CAP_SYS_PTRACE: ${ptrace})`);
    t.match(r.stdout, /done/);
    if (!ptrace) t.match(r.stdout + r.stderr, /Permission denied/, 'non-dumpable: without CAP_SYS_PTRACE not even the link is readable');
    else t.match(r.stdout, /memfd:ccrun-init/, 'with CAP_SYS_PTRACE it sees only the sealed copy');
  }
  t.equal(sha(HELPER), helperBefore, 'the host ccrun-init is unchanged');
  t.equal(sha(process.execPath), nodeBefore, 'the host node is unchanged');
  ccrun(root, ['delete', '--force', parked], { files: true });
});

t.test('CVE-2024-21626: no host fd reaches the container, only stdio and preserved fds', async (t) => {
  const canary = hostCanary(t);
  const dirFd = fs.openSync(canary.dir, 'r');
  const fileFd = fs.openSync(canary.file, 'r');
  t.teardown(() => {
    fs.closeSync(dirFd);
    fs.closeSync(fileFd);
  });
  const listFds = (extra: string[]): { code: number; fds: Map<number, string> } => {
    const spec = busyboxSpec(['ls', '-l', '/proc/self/fd/']);
    // ccrun itself holds the host directory and file at fds 3 and 4.
    const r = spawnSync(CCRUN, ['--root', root, 'run', ...extra, '--bundle', makeBundle(t, spec), uniqueId('fds')], {
      stdio: ['ignore', 'pipe', 'pipe', fileFd, dirFd],
      encoding: 'utf8',
      timeout: 30_000,
    });
    const fds = new Map<number, string>();
    for (const m of (r.stdout ?? '').matchAll(/ (\d+) -> (.*)$/gm)) fds.set(Number(m[1]), m[2]);
    return { code: r.status ?? 255, fds };
  };
  const plain = listFds([]);
  t.equal(plain.code, 0);
  t.same([...plain.fds.keys()].sort(), [0, 1, 2], JSON.stringify([...plain.fds]));
  for (const target of plain.fds.values()) t.notMatch(target, canary.dir, 'no host path behind any fd');

  const preserved = listFds(['--preserve-fds', '1']);
  t.equal(preserved.code, 0);
  t.same([...preserved.fds.keys()].sort(), [0, 1, 2, 3], 'fd 4 (not preserved) is not there');
  t.equal(preserved.fds.get(3), canary.file, 'the preserved fd 3 is there');
});

t.test('CVE-2024-21626: the working directory is inside the container, whatever process.cwd says', async (t) => {
  const canary = hostCanary(t);
  const rootfs = writableRootfs(t);
  fs.symlinkSync('../../../../../../../../..', path.join(rootfs, 'up'));
  fs.symlinkSync(canary.dir, path.join(rootfs, 'hostdir'));
  const look = ['sh', '-c', 'readlink /proc/self/cwd; ls; cat canary 2>/dev/null; ls .. | grep -c canary; true'];

  const inside = (cwd: string): ReturnType<typeof ccrun> => {
    const spec = specOn(rootfs, look);
    spec.process!.cwd = cwd;
    return ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('cwd')]);
  };
  const tmp = inside('/tmp');
  t.equal(tmp.code, 0, tmp.stderr);
  t.equal(tmp.stdout.split('\n')[0], '/tmp');

  const up = inside('/up');
  t.equal(up.code, 0, up.stderr);
  t.equal(up.stdout.split('\n')[0], '/', 'a symlink climbing out ends at the container root');
  t.match(up.stdout, /^linuxrc$/m, 'the busybox root, not the host one');
  t.notMatch(up.stdout, /original/);

  const host = inside('/hostdir');
  t.equal(host.code, 1, 'a symlink to a host path does not resolve to the host');
  t.match(host.stderr, /cwd/);
  t.notMatch(host.stdout, /original/);

  const missing = inside('/does/not/exist');
  t.equal(missing.code, 1);
  t.match(missing.stderr, /chdir to cwd \("\/does\/not\/exist"\)/);

  // The CVE itself: cwd through a leaked fd of the runtime.
  for (let fd = 3; fd <= 8; fd++) {
    const r = inside(`/proc/self/fd/${fd}`);
    t.notMatch(r.stdout, /original/, `cwd /proc/self/fd/${fd} does not reach the host`);
    if (r.code === 0) t.notMatch(r.stdout.split('\n')[0], /^\/(?!proc)|\(unreachable\)/, `cwd /proc/self/fd/${fd}: ${r.stdout.split('\n')[0]}`);
  }
  t.equal(fs.readFileSync(canary.file, 'utf8'), 'original\n');
});

t.test('CVE-2025-31133 class: image symlinks cannot redirect mounts, masks, devices or /proc writes to the host', async (t) => {
  const canary = hostCanary(t);
  const hostUnchanged = (what: string): void => {
    t.equal(fs.readFileSync(canary.file, 'utf8'), 'original\n', `${what}: host file content unchanged`);
    t.ok(fs.lstatSync(canary.file).isFile(), `${what}: host file is still a plain file`);
    t.same(fs.readdirSync(canary.dir), ['canary'], `${what}: nothing new in the host directory`);
    t.same(hostMountsMentioning(canary.dir), [], `${what}: no mount on the host path`);
  };
  const attempt = (what: string, build: (rootfs: string, spec: Spec) => void, script = 'echo pwned > /target/canary 2>/dev/null; echo pwned > /target 2>/dev/null; echo ran'): void => {
    const rootfs = writableRootfs(t);
    const spec = specOn(rootfs, ['sh', '-c', script]);
    build(rootfs, spec);
    const r = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('sym')]);
    t.ok(r.code === 0 || /config|set-up|cwd|refus|not/.test(r.stderr), `${what}: ran or refused (${r.code} ${r.stderr.trim()})`);
    hostUnchanged(what);
  };

  attempt('mount destination symlinked to a host dir (absolute)', (rootfs, spec) => {
    fs.symlinkSync(canary.dir, path.join(rootfs, 'target'));
    spec.mounts!.push({ destination: '/target', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  });
  attempt('mount destination symlinked to a host dir (relative, climbing)', (rootfs, spec) => {
    fs.symlinkSync(`../../../../../../../../../..${canary.dir}`, path.join(rootfs, 'target'));
    spec.mounts!.push({ destination: '/target', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  });
  attempt('bind mount over a symlinked file destination', (rootfs, spec) => {
    fs.symlinkSync(canary.file, path.join(rootfs, 'target'));
    spec.mounts!.push({ destination: '/target', type: 'bind', source: '/etc/hostname', options: ['bind', 'ro'] });
  });
  attempt('masked path symlinked to a host file', (rootfs, spec) => {
    fs.symlinkSync(canary.file, path.join(rootfs, 'target'));
    spec.linux!.maskedPaths!.push('/target');
  });
  attempt('readonly path symlinked to a host dir', (rootfs, spec) => {
    fs.symlinkSync(canary.dir, path.join(rootfs, 'target'));
    spec.linux!.readonlyPaths!.push('/target');
  });
  attempt('/dev/null symlinked to a host file, with no /dev tmpfs', (rootfs, spec) => {
    fs.rmSync(path.join(rootfs, 'dev'), { recursive: true, force: true });
    fs.mkdirSync(path.join(rootfs, 'dev'));
    fs.symlinkSync(canary.file, path.join(rootfs, 'dev', 'null'));
    spec.mounts = spec.mounts!.filter((m) => !m.destination.startsWith('/dev'));
  }, 'echo pwned > /dev/null; echo ran');
  attempt('/dev/console symlinked to a host file', (rootfs, spec) => {
    fs.rmSync(path.join(rootfs, 'dev'), { recursive: true, force: true });
    fs.mkdirSync(path.join(rootfs, 'dev'));
    fs.symlinkSync(canary.file, path.join(rootfs, 'dev', 'console'));
    spec.mounts = spec.mounts!.filter((m) => !m.destination.startsWith('/dev'));
  }, 'echo pwned > /dev/console; echo ran');
  attempt('/proc symlinked to a host dir, with a sysctl to write', (rootfs, spec) => {
    fs.rmSync(path.join(rootfs, 'proc'), { recursive: true, force: true });
    fs.symlinkSync(canary.dir, path.join(rootfs, 'proc'));
    spec.linux!.sysctl = { 'kernel.domainname': 'pwned' };
  });
  attempt('/proc/sys symlinked into a host dir inside a proc-less image', (rootfs, spec) => {
    spec.mounts = spec.mounts!.filter((m) => m.destination !== '/proc');
    spec.linux!.maskedPaths = [];
    spec.linux!.readonlyPaths = [];
    fs.symlinkSync(canary.dir, path.join(rootfs, 'proc', 'sys'));
    spec.linux!.sysctl = { 'kernel.domainname': 'pwned' };
  });
});

t.test('maskedPaths and readonlyPaths hold against a process with the default capabilities', async (t) => {
  const panicBefore = fs.readFileSync('/proc/sys/kernel/panic', 'utf8');
  const tries: [string, string][] = [
    ['write a sysctl', 'echo 7 > /proc/sys/kernel/panic'],
    ['write sysrq-trigger', 'echo h > /proc/sysrq-trigger'],
    ['read timer_list', 'grep -q . /proc/timer_list'],
    ['read keys', 'grep -q . /proc/keys'],
    ['write into a masked dir', 'touch /proc/acpi/x || touch /proc/scsi/x'],
    ['list sys firmware', 'ls /sys/firmware | grep -q .'],
    ['umount a masked file', 'umount /proc/timer_list'],
    ['umount a read-only dir', 'umount /proc/sys'],
    ['lazy umount a read-only dir', 'umount -l /proc/sys'],
    ['remount a read-only dir rw', 'mount -o remount,rw /proc/sys'],
    ['remount a read-only bind rw', 'mount -o remount,bind,rw /proc/sys'],
    ['bind over a mask', 'mount --bind /tmp /proc/acpi'],
    ['remount proc rw elsewhere', 'mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo 7 > /tmp/p/sys/kernel/panic'],
  ];
  const script = tries.map(([name, cmd]) => `if ( ${cmd} ) >/dev/null 2>&1; then echo "BREACH: ${name}"; else echo "held: ${name}"; fi`).join('\n') + '\nwc -c < /proc/timer_list';
  const r = ccrun(root, ['run', '--bundle', makeBundle(t, busyboxSpec(['sh', '-c', script])), uniqueId('mask')]);
  t.equal(r.code, 0, r.stderr);
  for (const [name] of tries) t.match(r.stdout, new RegExp(`^held: ${name.replace(/[()]/g, '\\$&')}$`, 'm'), name);
  t.notMatch(r.stdout, /BREACH/);
  t.match(r.stdout, /^0$/m, 'timer_list still reads as empty after the attempts');
  t.equal(fs.readFileSync('/proc/sys/kernel/panic', 'utf8'), panicBefore, 'the host sysctl is unchanged');

  // The control: without the masks the same reads do get through (only
  // reads: an unmasked /proc/sys would let the container write host sysctls).
  const reads = tries.slice(2, 4).concat([tries[5]]);
  const readScript = reads.map(([name, cmd]) => `if ( ${cmd} ) >/dev/null 2>&1; then echo "BREACH: ${name}"; fi`).join('\n');
  const open = busyboxSpec(['sh', '-c', readScript]);
  open.linux!.maskedPaths = [];
  const c = ccrun(root, ['run', '--bundle', makeBundle(t, open), uniqueId('unmasked')]);
  for (const [name] of reads) t.match(c.stdout, `BREACH: ${name}`, `without maskedPaths: ${name} succeeds`);
});

t.test('apparmorProfile on a host without AppArmor: a clear error, nothing made', async (t) => {
  const hasAppArmor = fs.existsSync('/sys/module/apparmor/parameters/enabled') && fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  if (hasAppArmor) {
    t.skip('this host runs AppArmor, so the refusal cannot be shown here');
  } else {
    const spec = busyboxSpec(['true']);
    spec.process!.apparmorProfile = 'docker-default';
    const id = uniqueId('lsm');
    const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
    t.equal(r.code, 1);
    t.match(r.stderr, /apparmorProfile asks for AppArmor profile "docker-default", but this host does not run AppArmor/);
    t.equal(ccrun(root, ['state', id]).code, 1, 'no container left');
  }
  t.equal(JSON.parse(ccrun(root, ['features']).stdout).linux.apparmor.enabled, hasAppArmor);
});

t.test('selinuxLabel and mountLabel on a host without SELinux: ignored with a debug line, as runc and crun', async (t) => {
  const hasSelinux = fs.existsSync('/sys/fs/selinux/enforce');
  t.equal(JSON.parse(ccrun(root, ['features']).stdout).linux.selinux.enabled, hasSelinux);
  if (hasSelinux) {
    t.skip('this host runs SELinux, so the labels would be applied, not ignored');
    return;
  }
  const spec = busyboxSpec(['sh', '-c', 'cat /proc/self/attr/current 2>/dev/null; grep -c context= /proc/self/mountinfo; echo ran']);
  spec.process!.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2';
  spec.linux!.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';
  const id = uniqueId('selinux');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const r = ccrun(root, ['--debug', 'run', '--bundle', makeBundle(t, spec), id], { files: true });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^0\nran\n$/m, 'the container runs, and no mount got a context= option');
  t.match(r.stderr, /debug.*\/process\/selinuxLabel "system_u:system_r:container_t:s0:c1,c2" ignored: this host does not run SELinux/, 'a debug line for the process label');
  t.match(r.stderr, /debug.*\/linux\/mountLabel "system_u:object_r:container_file_t:s0:c1,c2" ignored: this host does not run SELinux/, 'a debug line for the mount label');
  const quiet = ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('selinux')], { files: true });
  t.equal(quiet.code, 0, quiet.stderr);
  t.notMatch(quiet.stderr, /selinux/i, 'nothing said without --debug');
});
