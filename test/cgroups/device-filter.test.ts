// The cgroup v2 device filter is checked by running the generated BPF program
// in a small interpreter of the instructions it uses, against the reference
// semantics (evaluateRules) that cgroup v1's devices.allow/deny list has.
import t, { type Test } from 'tap';
import {
  buildDeviceFilter,
  decodeProgram,
  encodeProgram,
  OP,
  type BpfInsn,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  accessBits,
} from '../../src/cgroups/v2-device-filter';
import {
  containerDeviceRules,
  DEFAULT_ALLOWED_DEVICES,
  evaluateRules,
  rulesFromConfig,
  v1RuleLine,
  withDefaultDevices,
  type DeviceRule,
} from '../../src/cgroups/devices';

/** Runs a program on bpf_cgroup_dev_ctx { access_type, major, minor }; returns R0. */
function run(prog: BpfInsn[], type: 'c' | 'b', major: number, minor: number, access: string): number {
  const ctx = [((accessBits(access) << 16) | (type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)) >>> 0, major, minor];
  const r = new Array<number>(11).fill(0);
  const CTX = 0xc0de0000;
  r[1] = CTX;
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    if (pc < 0 || pc >= prog.length) throw new Error(`pc ${pc} out of the program`);
    if (steps > 10000) throw new Error('loop');
    const x = prog[pc];
    switch (x.code) {
      case OP.LDX_MEM_W:
        if (r[x.src] !== CTX || x.off % 4 || x.off < 0 || x.off > 8) throw new Error(`bad load at ${pc}`);
        r[x.dst] = ctx[x.off / 4];
        break;
      case OP.ALU32_AND_K:
        r[x.dst] = (r[x.dst] & x.imm) >>> 0;
        break;
      case OP.ALU32_RSH_K:
        r[x.dst] = r[x.dst] >>> x.imm;
        break;
      case OP.ALU32_MOV_K:
        r[x.dst] = x.imm >>> 0;
        break;
      case OP.ALU32_MOV_X:
        r[x.dst] = r[x.src] >>> 0;
        break;
      case OP.JMP_JEQ_K:
        if (r[x.dst] === x.imm) pc += x.off;
        break;
      case OP.JMP_JNE_K:
        if (r[x.dst] !== x.imm) pc += x.off;
        break;
      case OP.JMP_EXIT:
        return r[0];
      default:
        throw new Error(`unknown opcode 0x${x.code.toString(16)} at ${pc}`);
    }
  }
}

const ACCESSES = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];
const DEVICES: [('c' | 'b'), number, number][] = [
  ['c', 1, 3], ['c', 1, 5], ['c', 1, 9], ['c', 5, 0], ['c', 5, 1], ['c', 5, 2], ['c', 136, 0], ['c', 136, 7],
  ['c', 10, 200], ['c', 4, 1], ['b', 8, 0], ['b', 8, 1], ['b', 7, 0], ['c', 8, 0],
];

function agree(t: Test, rules: DeviceRule[], label: string): void {
  const prog = decodeProgram(encodeProgram(buildDeviceFilter(rules)));
  let mismatches = 0;
  for (const [type, maj, min] of DEVICES) {
    for (const a of ACCESSES) {
      const want = evaluateRules(rules, type, maj, min, a) ? 1 : 0;
      const got = run(prog, type, maj, min, a);
      if (want !== got) {
        mismatches++;
        t.fail(`${label}: ${type} ${maj}:${min} ${a}: program says ${got}, rules say ${want}`);
      }
    }
  }
  t.equal(mismatches, 0, `${label}: program agrees with the rules on ${DEVICES.length * ACCESSES.length} requests`);
}

t.test('default container rules: standard devices allowed, everything else denied', async (t) => {
  const rules = containerDeviceRules(undefined, undefined);
  const prog = buildDeviceFilter(rules);
  t.equal(run(prog, 'c', 1, 3, 'rw'), 1, '/dev/null rw');
  t.equal(run(prog, 'c', 1, 9, 'r'), 1, '/dev/urandom r');
  t.equal(run(prog, 'c', 136, 4, 'rw'), 1, '/dev/pts/4');
  t.equal(run(prog, 'c', 5, 2, 'rw'), 1, '/dev/ptmx');
  t.equal(run(prog, 'b', 8, 0, 'r'), 0, '/dev/sda read denied');
  t.equal(run(prog, 'b', 8, 0, 'm'), 1, 'mknod of any block device allowed (as runc)');
  t.equal(run(prog, 'c', 1, 1, 'r'), 0, '/dev/mem denied');
  t.equal(run(prog, 'c', 10, 200, 'rw'), 0, '/dev/net/tun is not in the defaults');
  agree(t, rules, 'defaults');
});

t.test('config rules: later rules win; deny a subset of access', async (t) => {
  const rules = containerDeviceRules(
    [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
      { allow: true, type: 'b', major: 8, minor: null, access: 'r' },
    ],
    [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }],
  );
  const prog = buildDeviceFilter(rules);
  t.equal(run(prog, 'c', 10, 200, 'rw'), 1, 'tun allowed by the config');
  t.equal(run(prog, 'b', 8, 3, 'r'), 1, 'sd* read allowed');
  t.equal(run(prog, 'b', 8, 3, 'rw'), 0, 'sd* write not allowed');
  t.equal(run(prog, 'c', 10, 229, 'rw'), 1, 'linux.devices entries are allowed rwm');
  agree(t, rules, 'config');

  const denyWrite: DeviceRule[] = [...DEFAULT_ALLOWED_DEVICES, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
  const p2 = buildDeviceFilter(denyWrite);
  t.equal(run(p2, 'c', 1, 3, 'r'), 1, 'null still readable after deny w');
  t.equal(run(p2, 'c', 1, 3, 'w'), 0, 'null not writable');
  t.equal(run(p2, 'c', 1, 3, 'rw'), 0, 'rw includes the denied w');
  agree(t, denyWrite, 'deny w');
});

t.test('a trailing allow-all wildcard makes the default allow; rules after it can deny', async (t) => {
  const rules = rulesFromConfig([
    { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, access: 'rwm' },
    { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
  ]);
  const prog = buildDeviceFilter(rules);
  t.equal(run(prog, 'c', 1, 3, 'rw'), 1, 'rules before the wildcard no longer matter');
  t.equal(run(prog, 'b', 8, 0, 'w'), 0);
  t.equal(run(prog, 'b', 8, 0, 'r'), 1);
  t.equal(run(prog, 'c', 99, 9, 'rwm'), 1);
  t.ok(prog.length < 20, 'rules before the wildcard are not emitted');
  agree(t, rules, 'wildcard');
});

t.test('randomised rule lists: program == reference semantics', async (t) => {
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 40; i++) {
    const rules: DeviceRule[] = [];
    const n = 1 + rnd(8);
    for (let j = 0; j < n; j++) {
      const type = (['a', 'c', 'b'] as const)[rnd(3)];
      const access = ACCESSES[rnd(ACCESSES.length)];
      rules.push(...rulesFromConfig([{ allow: rnd(2) === 0, type, major: rnd(3) ? [1, 5, 8, 136][rnd(4)] : null, minor: rnd(3) ? [0, 1, 3][rnd(3)] : null, access }]));
    }
    agree(t, rules, `random list ${i} (${rules.map((r) => (r.allow ? '+' : '-') + v1RuleLine(r)).join(', ')})`);
  }
});

t.test('rule checks and v1 lines', async (t) => {
  t.equal(v1RuleLine({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }), 'c 1:3 rwm');
  t.equal(v1RuleLine({ allow: true, type: 'c', major: 136, minor: -1, access: 'rw' }), 'c 136:* rw');
  t.same(rulesFromConfig([{ allow: false, access: 'mwr' }]), [{ allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' }], 'type defaults to a, access canonical');
  t.throws(() => rulesFromConfig([{ allow: true, type: 'c', access: 'rx' }]), /linux\.resources\.devices\[0\]\.access: "rx"/);
  t.throws(() => rulesFromConfig([{ allow: true, type: 'x' as 'c', access: 'r' }]), /devices\[0\]\.type/);
  const r = withDefaultDevices({ memory: { limit: 1 } }, []);
  t.equal(r.memory?.limit, 1, 'other resources kept');
  t.equal(r.devices?.length, DEFAULT_ALLOWED_DEVICES.length);
  t.same(r.devices?.[2], { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
});

t.test('encoding is struct bpf_insn, little endian', async (t) => {
  const buf = encodeProgram([{ code: OP.LDX_MEM_W, dst: 4, src: 1, off: 4, imm: 0 }, { code: OP.JMP_JNE_K, dst: 2, src: 0, off: 3, imm: -2 }]);
  t.same([...buf], [0x61, 0x14, 4, 0, 0, 0, 0, 0, 0x55, 0x02, 3, 0, 0xfe, 0xff, 0xff, 0xff]);
});
