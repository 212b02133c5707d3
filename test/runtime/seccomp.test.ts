// linux.seccomp as a container process feels it: every action, every
// operator, defaultErrnoRet, flags, the default profile, and the errors for
// profiles ccrun cannot honour. SCMP_ACT_NOTIFY and its agent:
// seccomp-notify.test.ts.
import t from 'tap';
import * as os from 'os';
import * as fs from 'fs';
import * as path from 'path';
import { ccrun, busyboxSpec, makeBundle, stateRoot, uniqueId, type Tap } from '../helpers/runtime';
import type { Seccomp, Spec } from '../../src/runtime/config/types';
import { defaultSeccompProfile } from '../../src/runtime/default-seccomp';

const root = stateRoot(t);
const SIGSYS = 31;

function run(t: Tap, args: string[], seccomp: Seccomp, mutate?: (s: Spec) => void) {
  const spec = busyboxSpec(args);
  spec.linux!.seccomp = seccomp;
  mutate?.(spec);
  return ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('sc')]);
}

t.test('SCMP_ACT_ERRNO returns errnoRet; names unknown to this architecture are skipped', async (t) => {
  const r = run(t, ['sh', '-c', 'mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched'], {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['no_such_syscall', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /can't create directory '\/tmp\/x': Permission denied/);
  t.match(r.stdout, /rc=1\ntouched/);
  const eperm = run(t, ['mkdir', '/tmp/x'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] });
  t.match(eperm.stderr, /Operation not permitted/, 'errnoRet defaults to EPERM');
});

t.test('defaultAction SCMP_ACT_ERRNO with defaultErrnoRet', async (t) => {
  const profile = defaultSeccompProfile([]);
  profile.defaultErrnoRet = 13;
  profile.syscalls = profile.syscalls!.map((s) => ({ ...s, names: s.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat') }));
  const r = run(t, ['sh', '-c', 'mkdir /tmp/x; echo after'], profile);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /Permission denied/);
  t.equal(r.stdout, 'after\n');
});

for (const action of ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP']) {
  t.test(`${action} ends the process with SIGSYS`, async (t) => {
    const r = run(t, ['mkdir', '/tmp/x'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action }] });
    t.equal(r.code, 128 + SIGSYS, r.stderr);
  });
}

t.test('SCMP_ACT_TRACE without a tracer fails the call with ENOSYS; SCMP_ACT_LOG lets it through', async (t) => {
  const trace = run(t, ['mkdir', '/tmp/x'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_TRACE' }] });
  t.equal(trace.code, 1);
  t.match(trace.stderr, /Function not implemented/);
  const log = run(t, ['sh', '-c', 'mkdir /tmp/x && echo made'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_LOG' }] });
  t.equal(log.stdout, 'made\n', log.stderr);
  const logDefault = run(t, ['echo', 'logged'], { defaultAction: 'SCMP_ACT_LOG' });
  t.equal(logDefault.stdout, 'logged\n', logDefault.stderr);
});

// kill(pid, 0) from the shell (pid 1): EPERM when the rule matches the pid,
// ESRCH ("No such process") for a free pid it does not match.
const PIDS = [1, 50, 100, 200];
const probe = PIDS.map((p) => `if kill -0 ${p} 2>&1 | grep -q "not permitted"; then echo ${p}:EPERM; else echo ${p}:ok; fi`).join('; ');
const operators: [string, number, number | undefined, number[]][] = [
  ['SCMP_CMP_EQ', 100, undefined, [100]],
  ['SCMP_CMP_NE', 100, undefined, [1, 50, 200]],
  ['SCMP_CMP_LT', 100, undefined, [1, 50]],
  ['SCMP_CMP_LE', 100, undefined, [1, 50, 100]],
  ['SCMP_CMP_GT', 100, undefined, [200]],
  ['SCMP_CMP_GE', 100, undefined, [100, 200]],
  // (pid & 0x3) == 0: 100 and 200
  ['SCMP_CMP_MASKED_EQ', 0x3, 0, [100, 200]],
];
for (const [op, value, valueTwo, denied] of operators) {
  t.test(`argument condition ${op}`, async (t) => {
    const r = run(t, ['sh', '-c', probe], {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op, value, valueTwo }] }],
    });
    t.equal(r.code, 0, r.stderr);
    t.same(r.stdout.trim().split('\n'), PIDS.map((p) => `${p}:${denied.includes(p) ? 'EPERM' : 'ok'}`));
  });
}

t.test('several conditions on one argument match any of them; on different arguments, all', async (t) => {
  const r = run(t, ['sh', '-c', probe], {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 50 }, { index: 0, op: 'SCMP_CMP_EQ', value: 200 }] },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 100 }, { index: 1, op: 'SCMP_CMP_EQ', value: 9 }] },
    ],
  });
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.trim().split('\n'), ['1:ok', '50:EPERM', '100:ok', '200:EPERM']);
});

t.test('with no_new_privs the filter is the last step: it may deny what the set-up itself uses', async (t) => {
  const denySetup: Seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['capset', 'setresuid', 'setresgid', 'setgroups', 'prctl', 'umask', 'close_range', 'chdir'], action: 'SCMP_ACT_ERRNO' }],
  };
  const r = run(t, ['echo', 'started'], denySetup, (s) => (s.process!.noNewPrivileges = true));
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'started\n');
});

t.test('without no_new_privs the filter loads while the init still holds CAP_SYS_ADMIN, even for an unprivileged user', async (t) => {
  const r = run(
    t,
    ['sh', '-c', 'id -u; mkdir /tmp/x'],
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] },
    (s) => {
      s.process!.noNewPrivileges = false;
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    },
  );
  t.equal(r.stdout, '1000\n', r.stderr);
  t.match(r.stderr, /Permission denied/);
  t.equal(r.code, 1);
});

t.test('flags and architectures that work are accepted', async (t) => {
  const r = run(t, ['echo', 'ok'], {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
  });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'ok\n');
});

t.test('the default profile runs ordinary programs and keeps mount from a container given CAP_SYS_ADMIN', async (t) => {
  const script = 'ls / > /dev/null && mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && sh -c "exit 0" && mount -t tmpfs none /tmp/d && echo mounted';
  const withAdmin = (s: Spec): void => {
    const c = s.process!.capabilities!;
    for (const set of [c.bounding!, c.effective!, c.permitted!]) set.push('CAP_SYS_ADMIN');
  };
  const denied = run(t, ['sh', '-c', script], defaultSeccompProfile(['CAP_CHOWN']), withAdmin);
  t.equal(denied.stdout, 'hi\n', 'ordinary programs work');
  t.match(denied.stderr, /mount.*(Operation not permitted|permission denied)/i, 'mount is filtered');
  const allowed = run(t, ['sh', '-c', script], defaultSeccompProfile(['CAP_SYS_ADMIN']), withAdmin);
  t.equal(allowed.stdout, 'hi\nmounted\n', 'CAP_SYS_ADMIN in the profile opens mount');
});

t.test('the default profile refuses namespace-making clone and unshare without CAP_SYS_ADMIN', async (t) => {
  const r = run(t, ['sh', '-c', 'unshare -U true; echo rc=$?; (true) && echo forked'], defaultSeccompProfile([]));
  t.match(r.stdout, /rc=[1-9]/);
  t.match(r.stdout, /forked/, 'plain fork/clone still works');
});

// The schema check (before the planner) names some of these by their JSON path.
const refusals: [string, Partial<Seccomp>, RegExp][] = [
  ['listenerMetadata without listenerPath', { listenerMetadata: 'x' }, /listenerMetadata is set without \/linux\/seccomp\/listenerPath/],
  ['an unknown action', { syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_EXPLODE' }] }, /\/linux\/seccomp\/syscalls\/0\/action/],
  ['an unknown operator', { syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }] }, /\/linux\/seccomp\/syscalls\/0\/args\/0\/op/],
  ['an argument index past 5', { syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }, /index must be 0 to 5/],
  ['an unknown flag', { flags: ['SECCOMP_FILTER_FLAG_FAST'] }, /\/linux\/seccomp\/flags/],
  ['an unknown architecture', { architectures: ['SCMP_ARCH_Z80'] }, /"SCMP_ARCH_Z80" is not a known architecture/],
];
for (const [what, extra, message] of refusals) {
  t.test(`a profile with ${what} fails create, by name, and leaves nothing`, async (t) => {
    const spec = busyboxSpec(['true']);
    spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', ...extra } as Seccomp;
    const id = uniqueId('bad');
    const r = ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true });
    t.equal(r.code, 1);
    t.match(r.stderr, message);
    t.equal(ccrun(root, ['state', id]).code, 1, 'no container');
  });
}

t.test('features lists what works', async (t) => {
  const f = JSON.parse(ccrun(root, ['features']).stdout).linux.seccomp;
  t.equal(f.enabled, true);
  t.ok(f.actions.includes('SCMP_ACT_KILL_PROCESS') && f.actions.includes('SCMP_ACT_NOTIFY'));
  t.same(f.operators.length, 7);
  t.ok(f.archs.includes('SCMP_ARCH_X86_64'));
  t.ok(f.knownFlags.includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'));
  // The init loads the filter with seccomp(2): the kernel decides (5.19 added it).
  const [major, minor] = os.release().split('.').map(Number);
  t.equal(f.supportedFlags.includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'), major > 5 || (major === 5 && minor >= 19));
  t.ok(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'].every((x) => f.supportedFlags.includes(x)));
});

t.test('a process started with exec gets the container\'s filter too', async (t) => {
  const spec = busyboxSpec(['sleep', '30']);
  spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
  const id = uniqueId('exec');
  t.equal(ccrun(root, ['create', '--bundle', makeBundle(t, spec), id], { files: true }).code, 0);
  t.teardown(() => void ccrun(root, ['delete', '--force', id], { files: true }));
  t.equal(ccrun(root, ['start', id], { files: true }).code, 0);
  const r = ccrun(root, ['exec', id, 'mkdir', '/tmp/x']);
  t.equal(r.code, 1);
  t.match(r.stderr, /Permission denied/);
});

t.test('compiled filters are kept and reused only for exactly the rules they came from', async (t) => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-seccomp-cache-'));
  t.teardown(() => fs.rmSync(cache, { recursive: true, force: true }));
  const env = { ...process.env, CCRUN_SECCOMP_CACHE: cache };
  const runWith = (seccomp: Seccomp) => {
    const spec = busyboxSpec(['sh', '-c', 'mkdir /tmp/x; echo rc=$?']);
    spec.linux!.seccomp = seccomp;
    return ccrun(root, ['run', '--bundle', makeBundle(t, spec), uniqueId('scc')], { env });
  };
  const denyWith = (errnoRet: number): Seccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet }] });
  const files = (): string[] => fs.readdirSync(cache).sort();

  const first = runWith(denyWith(13));
  t.match(first.stderr, /Permission denied/, first.stderr);
  const [fileA] = files();
  t.ok(fileA, 'the compiled program was kept');
  const again = runWith(denyWith(13));
  t.match(again.stderr, /Permission denied/, 'the kept program filters the same');
  t.same(files(), [fileA], 'and nothing new was compiled');

  const other = runWith(denyWith(30));
  t.match(other.stderr, /Read-only file system/, other.stderr);
  const fileB = files().find((f) => f !== fileA)!;
  t.ok(fileB, 'other rules, another program');
  // B's file replaced by A's (what a name collision or a planted file would
  // give): B's rules must not load A's program.
  fs.copyFileSync(path.join(cache, fileA), path.join(cache, fileB));
  const planted = runWith(denyWith(30));
  t.match(planted.stderr, /Read-only file system/, 'the program compiled from its own rules');
  t.notSame(fs.readFileSync(path.join(cache, fileB)), fs.readFileSync(path.join(cache, fileA)), 'and the file was rewritten');
  fs.writeFileSync(path.join(cache, fileA), 'garbage');
  t.match(runWith(denyWith(13)).stderr, /Permission denied/, 'a damaged file is compiled again');

  const offSpec = busyboxSpec(['true']);
  offSpec.linux!.seccomp = denyWith(5);
  const off = ccrun(root, ['run', '--bundle', makeBundle(t, offSpec), uniqueId('scc')], { env: { ...process.env, CCRUN_SECCOMP_CACHE: 'off' } });
  t.equal(off.code, 0, off.stderr);
  t.equal(files().length, 2, 'CCRUN_SECCOMP_CACHE=off keeps nothing');
});
