// What the container sees of each config.json setting.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ccrun, runBusybox, stateRoot, busyboxSpec, makeBundle, uniqueId, CCRUN, waitFor, busyboxRootfs } from '../helpers/runtime';

const root = stateRoot(t);
const run = (args: string[], mutate?: Parameters<typeof runBusybox>[3]) => runBusybox(t, root, args, mutate);

t.test('process: env, cwd, user, groups, umask, args on the PATH', async (t) => {
  const r = run(['sh', '-c', 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(id -G)|$(umask)"'], (s) => {
    s.process!.env!.push('FOO=bar baz');
    s.process!.cwd = '/tmp';
    s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 100], umask: 0o27 };
  });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'bar baz|/tmp|1000:1001|1001 5 100|0027');
  const missing = run(['definitely-not-here']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /executable file not found in \$PATH/);
  const badCwd = run(['true'], (s) => (s.process!.cwd = '/no/such/dir'));
  t.equal(badCwd.code, 1);
  t.match(badCwd.stderr, /cwd \("\/no\/such\/dir"\)/);
});

t.test('capabilities: all five sets as configured', async (t) => {
  const r = run(['grep', '^Cap', '/proc/self/status'], (s) => {
    s.process!.capabilities = {
      bounding: ['CAP_KILL', 'CAP_CHOWN', 'CAP_NET_RAW'],
      effective: ['CAP_KILL', 'CAP_CHOWN'],
      permitted: ['CAP_KILL', 'CAP_CHOWN'],
      inheritable: ['CAP_KILL'],
      ambient: ['CAP_KILL'],
    };
    s.process!.user = { uid: 1000, gid: 1000 };
  });
  t.equal(r.code, 0, r.stderr);
  const caps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
  // CHOWN=0, KILL=5, NET_RAW=13
  t.equal(BigInt('0x' + caps.CapBnd), (1n << 0n) | (1n << 5n) | (1n << 13n));
  // After execve as a non-root user only the ambient set survives into
  // permitted and effective (capabilities(7)); CHOWN was not ambient.
  t.equal(BigInt('0x' + caps.CapEff), 1n << 5n, 'effective: the ambient KILL');
  t.equal(BigInt('0x' + caps.CapPrm), 1n << 5n, 'permitted: the ambient KILL');
  t.equal(BigInt('0x' + caps.CapInh), 1n << 5n);
  t.equal(BigInt('0x' + caps.CapAmb), 1n << 5n);
});

t.test('noNewPrivileges, oomScoreAdj and rlimits', async (t) => {
  const r = run(['sh', '-c', 'grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj; ulimit -n; ulimit -Hn'], (s) => {
    s.process!.noNewPrivileges = true;
    s.process!.oomScoreAdj = 123;
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
  });
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n').map((l) => l.trim()), ['NoNewPrivs:\t1', '123', '321', '654']);
  const raise = run(['true'], (s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }];
  });
  t.equal(raise.code, 1, 'raising a hard limit without CAP_SYS_RESOURCE fails at create');
  t.match(raise.stderr, /setrlimit RLIMIT_NOFILE/);
});

t.test('root.readonly, mounts with options, tmpfs, bind ro', async (t) => {
  const host = fs.mkdtempSync('/tmp/ccrun-bind-');
  t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
  fs.writeFileSync(path.join(host, 'hello.txt'), 'from host\n');
  fs.writeFileSync(path.join(host, 'single'), 'one file\n');
  const r = run(
    ['sh', '-c', 'touch /x 2>&1 | grep -q Read-only && echo root-ro; cat /data/hello.txt; echo w > /data/w 2>/dev/null || echo data-ro; cat /etc/single-file; echo ok > /scratch/f && cat /scratch/f; grep " /scratch " /proc/mounts'],
    (s) => {
      s.root!.readonly = true;
      s.mounts!.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
      s.mounts!.push({ destination: '/etc/single-file', type: 'bind', source: path.join(host, 'single'), options: ['bind', 'ro'] });
      s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'size=1m'] });
    },
  );
  t.equal(r.code, 0, r.stderr);
  const out = r.stdout.split('\n');
  t.ok(out.includes('root-ro'), 'the root is read-only');
  t.ok(out.includes('from host'), 'bind mount visible');
  t.ok(out.includes('data-ro'), 'ro bind mount refuses writes');
  t.ok(out.includes('one file'), 'a file bind-mounted on a file');
  t.ok(out.includes('ok'), 'tmpfs writable');
  t.match(r.stdout, /tmpfs \/scratch tmpfs rw,.*noexec.*size=1024k/);
  t.notOk(fs.existsSync(path.join(host, 'w')), 'nothing written to the host directory');
});

t.test('devices: defaults, /dev links, linux.devices', async (t) => {
  const r = run(['sh', '-c', 'ls -ln /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mydev; for l in fd stdin stdout stderr; do readlink /dev/$l; done; echo x > /dev/null && echo null-ok'], (s) => {
    s.linux!.devices = [{ path: '/dev/mydev', type: 'c', major: 1, minor: 5, fileMode: 0o600, uid: 7, gid: 8 }];
    s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }] };
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^crw-rw-rw-\s+1 0\s+0\s+1,\s+3 .* \/dev\/null$/m);
  t.match(r.stdout, /^crw-------\s+1 7\s+8\s+1,\s+5 .* \/dev\/mydev$/m);
  t.match(r.stdout, /^\/proc\/self\/fd\n\/proc\/self\/fd\/0\n\/proc\/self\/fd\/1\n\/proc\/self\/fd\/2$/m);
  t.match(r.stdout, /null-ok/);
});

t.test('maskedPaths and readonlyPaths', async (t) => {
  const r = run(['sh', '-c', 'cat /proc/kcore | wc -c; ls /proc/acpi 2>/dev/null | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro; echo 1 > /proc/sysrq-trigger 2>/dev/null || echo sysrq-ro']);
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n').map((l) => l.trim()), ['0', '0', 'sys-ro', 'sysrq-ro']);
});

t.test('sysctl in the container namespaces, not on the host', async (t) => {
  const hostValue = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const r = run(['cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmni'], (s) => {
    s.linux!.sysctl = { 'net.ipv4.ip_forward': hostValue === '1' ? '0' : '1', 'kernel.shmmni': '1234' };
  });
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), [hostValue === '1' ? '0' : '1', '1234']);
  t.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostValue, 'host value unchanged');
  const refused = run(['true'], (s) => {
    s.linux!.sysctl = { 'kernel.panic': '1' };
  });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /kernel.panic" is not namespaced/);
});

t.test('hostname and domainname; uts namespace required', async (t) => {
  const r = run(['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname'], (s) => {
    s.hostname = 'inner';
    s.domainname = 'example.org';
  });
  t.equal(r.stdout, 'inner\nexample.org\n');
  const noUts = run(['true'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts');
  });
  t.equal(noUts.code, 1);
  t.match(noUts.stderr, /hostname needs a new uts namespace/);
});

t.test('--preserve-fds passes fd 3, and no other host fd reaches the container', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'cat <&3; exec sleep 30']));
  const file = path.join(bundle, 'extra.txt');
  const out = path.join(bundle, 'out.txt');
  fs.writeFileSync(file, 'through fd 3\n');
  const id = uniqueId('fds');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  // fd 3 is preserved; the caller's fd 4 must not cross.
  const r = spawnSync('sh', ['-c', `exec 3<${file} 4<${file} >${out} 2>&1; ${CCRUN} --root ${root} run --detach --preserve-fds 1 --bundle ${bundle} ${id}`], { encoding: 'utf8' });
  t.equal(r.status, 0, fs.readFileSync(out, 'utf8'));
  const pid = JSON.parse(ccrun(root, ['state', id]).stdout).pid;
  t.ok(await waitFor(() => fs.readlinkSync(`/proc/${pid}/exe`).endsWith('busybox') && fs.readFileSync(out, 'utf8').includes('through')), 'sleeping');
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort();
  t.same(fds, [0, 1, 2, 3], 'only stdio and the preserved fd');
  t.equal(fs.readlinkSync(`/proc/${pid}/fd/3`), file, 'fd 3 is the preserved file');
  t.equal(fs.readFileSync(out, 'utf8'), 'through fd 3\n');
});

t.test('joining an existing namespace by path', async (t) => {
  const a = uniqueId('nsA');
  const bundleA = makeBundle(t, busyboxSpec(['sleep', '30']));
  t.teardown(() => void ccrun(root, ['delete', '--force', a]));
  t.equal(ccrun(root, ['run', '--detach', '--bundle', bundleA, a], { files: true }).code, 0);
  const pidA = JSON.parse(ccrun(root, ['state', a]).stdout).pid;
  const r = run(['sh', '-c', 'hostname; ls -l /proc/self/ns/uts /proc/self/ns/net'], (s) => {
    s.hostname = undefined;
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'uts' || n.type === 'network' ? { type: n.type, path: `/proc/${pidA}/ns/${n.type === 'uts' ? 'uts' : 'net'}` } : n));
  });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.split('\n')[0], 'box', 'hostname of the joined uts namespace');
  t.match(r.stdout, new RegExp(fs.readlinkSync(`/proc/${pidA}/ns/net`).replace(/[[\]]/g, '\\$&')));
});

t.test('--no-pivot runs with MS_MOVE + chroot', async (t) => {
  const spec = busyboxSpec(['sh', '-c', 'ls / | head -1']);
  const bundle = makeBundle(t, spec);
  const r = ccrun(root, ['run', '--no-pivot', '--bundle', bundle, uniqueId('nopivot')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'bin');
});

t.test('rootfsPropagation and mount propagation options are applied', async (t) => {
  const r = run(['awk', '$5 == "/"', '/proc/self/mountinfo'], (s) => {
    s.linux!.rootfsPropagation = 'private';
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, / \/ r[ow],/, 'the root mount is listed');
  t.notMatch(r.stdout, /shared:|master:/, 'the root mount is private');
  const shared = run(['awk', '$5 == "/"', '/proc/self/mountinfo'], (s) => {
    s.linux!.rootfsPropagation = 'rshared';
  });
  t.equal(shared.code, 0, shared.stderr);
  t.match(shared.stdout, /shared:\d+/, 'rshared makes the root a shared mount');
});

t.test('tmpcopyup: a tmpfs starts with a copy of what it covers; the rootfs is untouched', async (t) => {
  const r = run(['sh', '-c', 'cat /etc/hostname; ls -ln /etc/passwd; echo new > /etc/added && cat /etc/added; grep " /etc " /proc/mounts'], (s) => {
    s.mounts!.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'nodev', 'mode=755'] });
  });
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'busybox', 'the covered file is there');
  t.match(lines[1], /^-rw-r--r--\s+1 0\s+0\s/, 'with its mode and owner');
  t.equal(lines[2], 'new', 'and the tmpfs is writable');
  t.match(lines[3], /^tmpfs \/etc tmpfs rw,nosuid,nodev/);
  t.notOk(fs.existsSync(path.join(busyboxRootfs(), 'etc', 'added')), 'nothing written to the rootfs');
  const onBind = run(['true'], (s) => {
    s.mounts!.push({ destination: '/etc', type: 'bind', source: '/tmp', options: ['rbind', 'tmpcopyup'] });
  });
  t.equal(onBind.code, 1);
  t.match(onBind.stderr, /tmpcopyup" applies to tmpfs mounts only/);
});
