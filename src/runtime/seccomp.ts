// linux.seccomp -> plan records for ccrun-init (native/init/seccomp.c builds
// the filter with libseccomp and loads it with seccomp(2)). Everything
// checkable is checked here, by name: unknown actions, operators,
// architectures and flags, argument indices, flags this kernel lacks, and a
// SCMP_ACT_NOTIFY without an agent to hand the notifications to.
import type { Seccomp } from './config/types';
import { ConfigError } from './errors';
import { stateJson, type HookState } from './hooks';
import { native } from '../native';

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_TRAP',
] as const;

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_LE',
  'SCMP_CMP_LT',
  'SCMP_CMP_MASKED_EQ',
  'SCMP_CMP_NE',
] as const;

/** Architectures libseccomp 2.5 knows (runtime-spec names). */
export const SECCOMP_ARCHS = [
  'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
  'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64',
] as const;

export const SECCOMP_KNOWN_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;

/** The seccomp(2) bits (linux/seccomp.h). */
const FLAG_BITS: Record<(typeof SECCOMP_KNOWN_FLAGS)[number], number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1 << 0,
  SECCOMP_FILTER_FLAG_LOG: 1 << 1,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 1 << 2,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 1 << 5,
};
const FLAG_NEW_LISTENER = 1 << 3;
const WAIT_KILLABLE_RECV = 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';

let supportedFlags: string[] | undefined;

/**
 * The known flags this kernel takes (WAIT_KILLABLE_RECV came with 5.19):
 * the init loads the filter with seccomp(2) itself, so libseccomp's version
 * does not matter, only the kernel's. Asked once per process.
 */
export function supportedSeccompFlags(): readonly string[] {
  if (!supportedFlags) {
    const addon = native();
    // The kernel takes WAIT_KILLABLE_RECV only along with NEW_LISTENER.
    supportedFlags = SECCOMP_KNOWN_FLAGS.filter((f) => addon.seccompFlagsSupported(FLAG_BITS[f] | (f === WAIT_KILLABLE_RECV ? FLAG_NEW_LISTENER : 0)));
  }
  return supportedFlags;
}

const EPERM = 1;
/** sizeof(sockaddr_un.sun_path) less the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface SeccompRule {
  syscall: string;
  action: string;
  errnoRet: number;
  args: { index: number; op: string; value: bigint; valueTwo: bigint }[];
}

export interface SeccompPlan {
  defaultAction: string;
  defaultErrnoRet: number;
  flags: string[];
  /** libseccomp's architecture names (x86_64, aarch64, ...). */
  archs: string[];
  rules: SeccompRule[];
  /** Set when SCMP_ACT_NOTIFY is used: the seccomp agent's unix socket. */
  listenerPath?: string;
  listenerMetadata?: string;
}

function checkAction(action: string, where: string): void {
  if (!(SECCOMP_ACTIONS as readonly string[]).includes(action)) {
    throw new ConfigError(`config.json: ${where} "${action}" is not a seccomp action (one of ${SECCOMP_ACTIONS.join(', ')})`);
  }
}

function toU64(v: number | undefined, where: string): bigint {
  if (v === undefined) return 0n;
  if (!Number.isInteger(v) || v < 0) throw new ConfigError(`config.json: ${where} must be a non-negative integer`);
  return BigInt(v);
}

/** Checks linux.seccomp and turns it into the helper's plan. */
export function planSeccomp(s: Seccomp): SeccompPlan {
  checkAction(s.defaultAction, '/linux/seccomp/defaultAction');
  const flags = s.flags ?? [];
  for (const f of flags) {
    if (!(SECCOMP_KNOWN_FLAGS as readonly string[]).includes(f)) throw new ConfigError(`config.json: /linux/seccomp/flags "${f}" is not a seccomp filter flag`);
    if (!supportedSeccompFlags().includes(f)) throw new ConfigError(`config.json: /linux/seccomp/flags "${f}" is not supported by this kernel (see \`ccrun features\`)`);
  }
  const archs = (s.architectures ?? []).map((a, i) => {
    if (!(SECCOMP_ARCHS as readonly string[]).includes(a)) throw new ConfigError(`config.json: /linux/seccomp/architectures/${i} "${a}" is not a known architecture`);
    return a.slice('SCMP_ARCH_'.length).toLowerCase();
  });
  const defaultErrnoRet = s.defaultErrnoRet ?? EPERM;
  const rules: SeccompRule[] = [];
  (s.syscalls ?? []).forEach((sc, i) => {
    const where = `/linux/seccomp/syscalls/${i}`;
    checkAction(sc.action, `${where}/action`);
    if (!Array.isArray(sc.names) || sc.names.length === 0) throw new ConfigError(`config.json: ${where}/names must list at least one syscall`);
    const args = (sc.args ?? []).map((a, j) => {
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new ConfigError(`config.json: ${where}/args/${j}/index must be 0 to 5`);
      if (!(SECCOMP_OPERATORS as readonly string[]).includes(a.op)) {
        throw new ConfigError(`config.json: ${where}/args/${j}/op "${a.op}" is not a seccomp operator (one of ${SECCOMP_OPERATORS.join(', ')})`);
      }
      return { index: a.index, op: a.op, value: toU64(a.value, `${where}/args/${j}/value`), valueTwo: toU64(a.valueTwo, `${where}/args/${j}/valueTwo`) };
    });
    // A rule with the default action is what the filter does anyway (and
    // libseccomp refuses it); skip it, as runc does.
    const errnoRet = sc.errnoRet ?? EPERM;
    if (sc.action === s.defaultAction && (sc.action !== 'SCMP_ACT_ERRNO' || errnoRet === defaultErrnoRet)) return;
    // libseccomp takes one condition per argument in a rule; several on the
    // same argument become separate rules (any of them matches), as in runc.
    const indices = new Set(args.map((a) => a.index));
    const groups = indices.size === args.length ? [args] : args.map((a) => [a]);
    for (const name of sc.names) {
      if (typeof name !== 'string' || !/^[a-z0-9_]+$/.test(name)) throw new ConfigError(`config.json: ${where}/names has "${String(name)}", not a syscall name`);
      for (const g of groups) rules.push({ syscall: name, action: sc.action, errnoRet, args: g });
    }
  });
  const plan: SeccompPlan = { defaultAction: s.defaultAction, defaultErrnoRet, flags, archs, rules };
  const notify = s.defaultAction === 'SCMP_ACT_NOTIFY' || rules.some((r) => r.action === 'SCMP_ACT_NOTIFY');
  if (s.listenerMetadata !== undefined && !s.listenerPath) {
    throw new ConfigError('config.json: /linux/seccomp/listenerMetadata is set without /linux/seccomp/listenerPath (the metadata goes to the agent listening there): set both or neither');
  }
  // runtime-spec: without SCMP_ACT_NOTIFY, listenerPath is ignored; and the
  // kernel takes WAIT_KILLABLE_RECV only with a listener, where alone it matters.
  if (!notify) {
    plan.flags = flags.filter((f) => f !== WAIT_KILLABLE_RECV);
    return plan;
  }
  if (!s.listenerPath) {
    throw new ConfigError(
      'config.json: SCMP_ACT_NOTIFY needs /linux/seccomp/listenerPath, the unix socket of the seccomp agent that answers the notified syscalls: set it, or use another action',
    );
  }
  if (Buffer.byteLength(s.listenerPath) > MAX_SOCKET_PATH) {
    throw new ConfigError(`config.json: /linux/seccomp/listenerPath "${s.listenerPath}" is longer than a unix socket path can be (${MAX_SOCKET_PATH} bytes): use a shorter path`);
  }
  checkSendmsgPasses(plan);
  plan.listenerPath = s.listenerPath;
  if (s.listenerMetadata) plan.listenerMetadata = s.listenerMetadata;
  return plan;
}

const LETS_THROUGH = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG'];

/**
 * The init hands the notification fd to the agent with sendmsg once the
 * filter is loaded; a filter that notifies, denies or kills that sendmsg
 * would hang or end the container before the agent has the fd. (runc, which
 * writes to a pipe there, refuses NOTIFY on write and as defaultAction.)
 */
function checkSendmsgPasses(p: SeccompPlan): void {
  const rules = p.rules.filter((r) => r.syscall === 'sendmsg');
  const passes = rules.every((r) => LETS_THROUGH.includes(r.action)) && (LETS_THROUGH.includes(p.defaultAction) || rules.some((r) => r.args.length === 0));
  if (!passes) {
    throw new ConfigError(
      'config.json: /linux/seccomp uses SCMP_ACT_NOTIFY but does not let sendmsg through, and ccrun hands the notification fd to the agent with sendmsg: add a rule {"names": ["sendmsg"], "action": "SCMP_ACT_ALLOW"}',
    );
  }
}

/**
 * runtime-spec config-linux.md, "The Container Process State": the JSON the
 * agent at listenerPath gets along with the notification fd. pid is the
 * process the filter is on (the init, or an exec'd process).
 */
export function containerProcessState(pid: number, metadata: string | undefined, state: HookState): string {
  const meta = metadata ? `,"metadata":${JSON.stringify(metadata)}` : '';
  return `{"ociVersion":${JSON.stringify(state.ociVersion)},"fds":["seccompFd"],"pid":${pid}${meta},"state":${stateJson(state)}}`;
}

export function seccompRecords(p: SeccompPlan): string[][] {
  const r: string[][] = [['seccomp', p.defaultAction, String(p.defaultErrnoRet), ...p.flags]];
  for (const a of p.archs) r.push(['scarch', a]);
  for (const rule of p.rules) {
    const f = ['scrule', rule.syscall, rule.action, String(rule.errnoRet), String(rule.args.length)];
    for (const a of rule.args) f.push(String(a.index), a.op, a.value.toString(), a.valueTwo.toString());
    r.push(f);
  }
  if (p.listenerPath) r.push(['sclistener', p.listenerPath]);
  return r;
}
