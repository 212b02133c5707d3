// Cgroup v2 has no devices.allow/deny files: device access is decided by a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup. This builds that
// program from the same rule list v1 writes, with the semantics of
// evaluateRules() in devices.ts (start from deny-all, the last rule that
// decides a request wins), as runc's devicefilter and crun's ebpf.c do.
//
// The kernel calls the program with R1 = struct bpf_cgroup_dev_ctx:
//   u32 access_type  (device type in the low 16 bits: 1 block, 2 char;
//                     access in the high 16 bits: 1 mknod, 2 read, 4 write)
//   u32 major; u32 minor;
// and R0 = 1 allows, 0 denies.
import { DeviceRule, isWildcardRule, WILDCARD } from './devices';

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

// The handful of opcodes the filter uses (linux/bpf.h, linux/bpf_common.h).
export const OP = {
  LDX_MEM_W: 0x61, // dst = *(u32 *)(src + off)
  ALU32_AND_K: 0x54, // dst = (u32)dst & imm
  ALU32_RSH_K: 0x74, // dst = (u32)dst >> imm
  ALU32_MOV_K: 0xb4, // dst = (u32)imm
  ALU32_MOV_X: 0xbc, // dst = (u32)src
  JMP_JEQ_K: 0x15, // if dst == imm goto pc + 1 + off
  JMP_JNE_K: 0x55, // if dst != imm goto pc + 1 + off
  JMP_EXIT: 0x95,
} as const;

export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

function ins(code: number, dst: number, src: number, off: number, imm: number): BpfInsn {
  return { code, dst, src, off, imm };
}

export function accessBits(access: string): number {
  return (access.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0) | (access.includes('r') ? BPF_DEVCG_ACC_READ : 0) | (access.includes('w') ? BPF_DEVCG_ACC_WRITE : 0);
}

/** One block: falls through to the next block when the rule does not decide the request. */
function ruleBlock(rule: DeviceRule): BpfInsn[] {
  // Jumps are emitted with off = -1 and patched to "end of block" below.
  const block: BpfInsn[] = [];
  const NEXT = -1;
  if (rule.type !== 'a') block.push(ins(OP.JMP_JNE_K, R2, 0, NEXT, rule.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
  const bits = accessBits(rule.access);
  if (bits !== 7) {
    block.push(ins(OP.ALU32_MOV_X, R1, R3, 0, 0));
    if (rule.allow) {
      // allow decides only if every requested access is allowed: (req & ~bits) == 0
      block.push(ins(OP.ALU32_AND_K, R1, 0, 0, ~bits & 7));
      block.push(ins(OP.JMP_JNE_K, R1, 0, NEXT, 0));
    } else {
      // deny decides if any requested access is denied: (req & bits) != 0
      block.push(ins(OP.ALU32_AND_K, R1, 0, 0, bits));
      block.push(ins(OP.JMP_JEQ_K, R1, 0, NEXT, 0));
    }
  }
  if (rule.major !== WILDCARD) block.push(ins(OP.JMP_JNE_K, R4, 0, NEXT, rule.major));
  if (rule.minor !== WILDCARD) block.push(ins(OP.JMP_JNE_K, R5, 0, NEXT, rule.minor));
  block.push(ins(OP.ALU32_MOV_K, R0, 0, 0, rule.allow ? 1 : 0));
  block.push(ins(OP.JMP_EXIT, 0, 0, 0, 0));
  const isJump = (x: BpfInsn): boolean => x.code === OP.JMP_JNE_K || x.code === OP.JMP_JEQ_K;
  return block.map((x, i) => (isJump(x) && x.off === NEXT ? { ...x, off: block.length - 1 - i } : x));
}

/** The filter program for a rule list, as instructions. */
export function buildDeviceFilter(rules: readonly DeviceRule[]): BpfInsn[] {
  // A full wildcard rule decides everything, so the rules before it never
  // matter: it becomes the default, and only the later rules are emitted.
  let start = 0;
  let defaultAllow = false;
  for (let i = rules.length - 1; i >= 0; i--) {
    if (isWildcardRule(rules[i])) {
      start = i + 1;
      defaultAllow = rules[i].allow;
      break;
    }
  }
  const prog: BpfInsn[] = [
    ins(OP.LDX_MEM_W, R2, R1, 0, 0),
    ins(OP.ALU32_AND_K, R2, 0, 0, 0xffff),
    ins(OP.LDX_MEM_W, R3, R1, 0, 0),
    ins(OP.ALU32_RSH_K, R3, 0, 0, 16),
    ins(OP.LDX_MEM_W, R4, R1, 4, 0),
    ins(OP.LDX_MEM_W, R5, R1, 8, 0),
  ];
  // Last rule first: the first block that decides wins.
  for (let i = rules.length - 1; i >= start; i--) prog.push(...ruleBlock(rules[i]));
  prog.push(ins(OP.ALU32_MOV_K, R0, 0, 0, defaultAllow ? 1 : 0));
  prog.push(ins(OP.JMP_EXIT, 0, 0, 0, 0));
  return prog;
}

/** struct bpf_insn encoding: code u8, dst:4|src:4 u8, off s16, imm s32 (little endian). */
export function encodeProgram(prog: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((x, i) => {
    buf.writeUInt8(x.code, i * 8);
    buf.writeUInt8(((x.src & 0xf) << 4) | (x.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(x.off, i * 8 + 2);
    buf.writeInt32LE(x.imm | 0, i * 8 + 4);
  });
  return buf;
}

export function decodeProgram(buf: Buffer): BpfInsn[] {
  const out: BpfInsn[] = [];
  for (let o = 0; o + 8 <= buf.length; o += 8) {
    const regs = buf.readUInt8(o + 1);
    out.push({ code: buf.readUInt8(o), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(o + 2), imm: buf.readInt32LE(o + 4) });
  }
  return out;
}
