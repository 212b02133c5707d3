// planSeccomp: linux.seccomp -> the helper's records, without running anything.
import t from 'tap';
import { planSeccomp, seccompRecords } from '../../src/runtime/seccomp';
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
  t.throws(() => planSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }), /defaultAction SCMP_ACT_NOTIFY is not supported/);
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
