// planSeccomp: linux.seccomp -> the helper's records, without running anything.
import t from 'tap';
import { containerProcessState, planSeccomp, seccompRecords } from '../../src/runtime/seccomp';
import { planToRecords } from '../../src/runtime/plan-encoding';
import type { LaunchPlan } from '../../src/runtime/plan';
import { defaultSeccompProfile } from '../../src/runtime/default-seccomp';

t.test('conditions on one argument become separate rules; on different arguments, one rule', async (t) => {
  const p = planSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 0, op: 'SCMP_CMP_EQ', value: 2 }] },
      { names: ['tkill', 'tgkill'], action: 'SCMP_ACT_KILL', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 1, op: 'SCMP_CMP_MASKED_EQ', value: 3, valueTwo: 1 }] },
    ],
  });
  t.same(
    seccompRecords(p),
    [
      ['seccomp', 'SCMP_ACT_ALLOW', '1'],
      ['scrule', 'kill', 'SCMP_ACT_ERRNO', '1', '1', '0', 'SCMP_CMP_EQ', '1', '0'],
      ['scrule', 'kill', 'SCMP_ACT_ERRNO', '1', '1', '0', 'SCMP_CMP_EQ', '2', '0'],
      ['scrule', 'tkill', 'SCMP_ACT_KILL', '5', '2', '0', 'SCMP_CMP_EQ', '1', '0', '1', 'SCMP_CMP_MASKED_EQ', '3', '1'],
      ['scrule', 'tgkill', 'SCMP_ACT_KILL', '5', '2', '0', 'SCMP_CMP_EQ', '1', '0', '1', 'SCMP_CMP_MASKED_EQ', '3', '1'],
    ],
  );
});

t.test('rules with the default action are dropped; architectures take libseccomp names; flags pass through', async (t) => {
  const p = planSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['exit'], action: 'SCMP_ACT_ALLOW' },
    ],
  });
  t.same(p.archs, ['x86_64', 'aarch64']);
  t.same(p.flags, ['SECCOMP_FILTER_FLAG_LOG']);
  t.same(p.rules.map((r) => `${r.syscall}:${r.action}:${r.errnoRet}`), ['write:SCMP_ACT_ERRNO:13', 'exit:SCMP_ACT_ALLOW:1']);
  t.same(seccompRecords(p)[0], ['seccomp', 'SCMP_ACT_ERRNO', '38', 'SECCOMP_FILTER_FLAG_LOG']);
});

t.test('refusals name the field', async (t) => {
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }), /SCMP_ACT_NOTIFY needs \/linux\/seccomp\/listenerPath/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }), /syscalls\/0\/names must list/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x; rm'], action: 'SCMP_ACT_ERRNO' }] }), /not a syscall name/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: -1 }] }] }), /value must be a non-negative integer/);
});

t.test('the default profile opens syscalls by capability and limits clone without CAP_SYS_ADMIN', async (t) => {
  const plain = planSeccomp(defaultSeccompProfile(['CAP_CHOWN']));
  const names = (p: typeof plain, action = 'SCMP_ACT_ALLOW'): Set<string> => new Set(p.rules.filter((r) => r.action === action && r.args.length === 0).map((r) => r.syscall));
  t.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
  t.ok(names(plain).has('read') && names(plain).has('execve'));
  t.notOk(names(plain).has('mount') || names(plain).has('unshare') || names(plain).has('ptrace') || names(plain).has('clone'));
  t.ok(plain.rules.some((r) => r.syscall === 'clone' && r.args[0]?.op === 'SCMP_CMP_MASKED_EQ'), 'clone only without namespace flags');
  t.ok(names(plain, 'SCMP_ACT_ERRNO').has('clone3'), 'clone3 answers ENOSYS');
  const admin = planSeccomp(defaultSeccompProfile(['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']));
  t.ok(names(admin).has('mount') && names(admin).has('unshare') && names(admin).has('clone') && names(admin).has('ptrace'));
});

const AGENT = '/run/agent.sock';

t.test('SCMP_ACT_NOTIFY takes the agent from listenerPath, with its metadata', async (t) => {
  const p = planSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: AGENT,
    listenerMetadata: 'who=test',
    flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  });
  t.equal(p.listenerPath, AGENT);
  t.equal(p.listenerMetadata, 'who=test');
  t.same(seccompRecords(p), [
    ['seccomp', 'SCMP_ACT_ALLOW', '1', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    ['scrule', 'mkdir', 'SCMP_ACT_NOTIFY', '1', '0'],
    ['sclistener', AGENT],
  ]);
  const notifyAll = planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: AGENT, syscalls: [{ names: ['sendmsg', 'read'], action: 'SCMP_ACT_ALLOW' }] });
  t.equal(notifyAll.listenerPath, AGENT, 'as defaultAction too, when sendmsg is let through');
});

t.test('without SCMP_ACT_NOTIFY listenerPath is ignored (runtime-spec) and WAIT_KILLABLE_RECV, which only a listener takes, is dropped', async (t) => {
  const p = planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: AGENT, flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] });
  t.equal(p.listenerPath, undefined);
  t.same(seccompRecords(p), [['seccomp', 'SCMP_ACT_ALLOW', '1', 'SECCOMP_FILTER_FLAG_LOG']]);
});

t.test('a NOTIFY profile the init could not hand over is refused, naming the field', async (t) => {
  const notifyMkdir = [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }];
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: notifyMkdir }), /SCMP_ACT_NOTIFY needs \/linux\/seccomp\/listenerPath/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'x' }), /listenerMetadata is set without \/linux\/seccomp\/listenerPath/);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: `/run/${'x'.repeat(110)}`, syscalls: notifyMkdir }), /listenerPath .* is longer than a unix socket path can be/);
  const sendmsg = /does not let sendmsg through.*"names": \["sendmsg"\]/;
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: AGENT }), sendmsg, 'NOTIFY by default catches sendmsg');
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: AGENT, syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] }), sendmsg);
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: AGENT, syscalls: [...notifyMkdir, { names: ['sendmsg'], action: 'SCMP_ACT_ERRNO' }] }), sendmsg);
  t.throws(
    () => planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: AGENT, syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 3 }] }] }),
    sendmsg,
    'a conditional allow may miss our sendmsg',
  );
});

t.test('the container process state follows runtime-spec', async (t) => {
  const state = { ociVersion: '1.2.0', id: 'c1', status: 'creating' as const, pid: 42, bundle: '/b', annotations: { a: 'b' } };
  t.same(JSON.parse(containerProcessState(42, 'meta', state)), { ociVersion: '1.2.0', fds: ['seccompFd'], pid: 42, metadata: 'meta', state });
  t.notOk('metadata' in JSON.parse(containerProcessState(42, undefined, state)), 'no metadata when none is set (omitempty, as runc)');
});

t.test('with a listener the init asks the runtime before pivot_root even without hooks', async (t) => {
  const seccomp = planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: AGENT, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] });
  const plan = {
    mode: 'create', wait: false, preserveFds: 0, namespaces: [], uidMappings: [], gidMappings: [], fsOps: [], sysctl: [], maskedPaths: [], readonlyPaths: [], capLast: 40,
    rootPropagation: 0, rootfsPropagation: 0, noPivot: false, readonlyRoot: false,
    process: { args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, rlimits: [], noNewPrivileges: true },
    seccomp,
  } as unknown as LaunchPlan;
  const tags = (p: LaunchPlan): string[] => planToRecords(p).map((r) => r[0]);
  t.equal(tags(plan).filter((x) => x === 'hooksync').length, 1);
  t.equal(tags({ ...plan, hooks: { createRuntime: [{ path: '/bin/true' }] } }).filter((x) => x === 'hooksync').length, 1, 'once, with hooks');
  t.notOk(tags({ ...plan, mode: 'exec' }).includes('hooksync'), 'exec has no pivot_root: it waits for its own seccompstate');
  t.notOk(tags({ ...plan, seccomp: planSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }) }).includes('hooksync'));
});
