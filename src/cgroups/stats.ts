// Cgroup statistics in the shape runc's `events --stats` prints (runc
// types/events.go): field names, nesting and which zero fields are left out
// (Go's omitempty) match, so tools that parse runc's output parse ours.

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

/** runc's CPUSet figures (v1 files; on v2 only cpus and mems). */
export interface CpusetStats {
  cpus?: number[];
  cpu_exclusive: number;
  mems?: number[];
  mem_hardwall: number;
  mem_exclusive: number;
  memory_migrate: number;
  memory_spread_page: number;
  memory_spread_slab: number;
  memory_pressure: number;
  sched_load_balance: number;
  sched_relax_domain_level: number;
}

export interface CgroupStats {
  cpu: {
    usage: { total?: number; percpu?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[];
    ioServicedRecursive?: BlkioEntry[];
    ioQueueRecursive?: BlkioEntry[];
    ioServiceTimeRecursive?: BlkioEntry[];
    ioWaitTimeRecursive?: BlkioEntry[];
    ioMergedRecursive?: BlkioEntry[];
    ioTimeRecursive?: BlkioEntry[];
    sectorsRecursive?: BlkioEntry[];
  };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
  cpuset: CpusetStats;
}

/** The `data` of a runc stats event: the cgroup figures plus what ccrun does not measure, empty as runc prints it. */
export interface StatsEventData {
  cpu: CgroupStats['cpu'];
  cpuset: CpusetStats;
  memory: CgroupStats['memory'];
  pids: CgroupStats['pids'];
  blkio: CgroupStats['blkio'];
  hugetlb: CgroupStats['hugetlb'];
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

/** Copies obj with its keys in runc's order (Go prints struct fields in declaration order); absent keys stay absent. */
function ordered<T extends object>(obj: T, keys: (keyof T)[]): T {
  const out = {} as T;
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

const entryOrder = (e: MemoryEntry): MemoryEntry => ordered(e, ['limit', 'usage', 'max', 'failcnt']);

/** The event data, with fields in the order runc's types.Stats prints them. */
export function statsEventData(s: CgroupStats): StatsEventData {
  const blkioKeys: (keyof CgroupStats['blkio'])[] = [
    'ioServiceBytesRecursive', 'ioServicedRecursive', 'ioQueueRecursive', 'ioServiceTimeRecursive',
    'ioWaitTimeRecursive', 'ioMergedRecursive', 'ioTimeRecursive', 'sectorsRecursive',
  ];
  const hugetlb: CgroupStats['hugetlb'] = {};
  for (const [k, v] of Object.entries(s.hugetlb)) hugetlb[k] = ordered(v, ['usage', 'max', 'failcnt']);
  return {
    cpu: { usage: ordered(s.cpu.usage, ['total', 'percpu', 'kernel', 'user']), throttling: ordered(s.cpu.throttling, ['periods', 'throttledPeriods', 'throttledTime']) },
    cpuset: ordered(s.cpuset, [
      'cpus', 'cpu_exclusive', 'mems', 'mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page',
      'memory_spread_slab', 'memory_pressure', 'sched_load_balance', 'sched_relax_domain_level',
    ]),
    memory: {
      ...(s.memory.cache !== undefined ? { cache: s.memory.cache } : {}),
      usage: entryOrder(s.memory.usage),
      swap: entryOrder(s.memory.swap),
      kernel: entryOrder(s.memory.kernel),
      kernelTCP: entryOrder(s.memory.kernelTCP),
      ...(s.memory.raw ? { raw: s.memory.raw } : {}),
    },
    pids: ordered(s.pids, ['current', 'limit']),
    blkio: ordered(s.blkio, blkioKeys),
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** "0-2,4" -> [0, 1, 2, 4] (cpuset lists). */
export function parseCpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    for (let i = a; i <= (Number.isInteger(b) ? b : a); i++) out.push(i);
  }
  return out;
}

export function emptyCpuset(): CpusetStats {
  return {
    cpu_exclusive: 0, mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0,
    memory_spread_slab: 0, memory_pressure: 0, sched_load_balance: 0, sched_relax_domain_level: 0,
  };
}

/** Go's math.MaxUint64, what runc reports for "no limit". */
export const UNLIMITED = 2 ** 64 - 1;

export function emptyMemoryEntry(): MemoryEntry {
  return { limit: 0, failcnt: 0 };
}

export function emptyStats(): CgroupStats {
  return {
    cpu: { usage: { kernel: 0, user: 0 }, throttling: {} },
    memory: { usage: emptyMemoryEntry(), swap: emptyMemoryEntry(), kernel: emptyMemoryEntry(), kernelTCP: emptyMemoryEntry() },
    pids: {},
    blkio: {},
    hugetlb: {},
    cpuset: emptyCpuset(),
  };
}

/** Sets obj[key] = value unless value is 0/undefined/empty (Go omitempty). */
export function setNonZero<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value === undefined || value === 0 || (Array.isArray(value) && value.length === 0)) return;
  obj[key] = value;
}

/** Infinity ("max") becomes UNLIMITED, as runc prints it. */
export function limitValue(n: number | undefined): number {
  if (n === undefined) return 0;
  return n === Infinity ? UNLIMITED : n;
}

/**
 * JSON with integers beyond 2^53 written exactly (JSON.stringify would print
 * 18446744073709552000 for runc's 18446744073709551615).
 */
export function statsJson(value: unknown): string {
  const marks: string[] = [];
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && Number.isInteger(v) && v > Number.MAX_SAFE_INTEGER) {
      marks.push(v >= UNLIMITED ? '18446744073709551615' : BigInt(v).toString());
      return `\u0000${marks.length - 1}\u0000`;
    }
    return v;
  });
  return json.replace(/"\\u0000(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]);
}

/** v1 blkio.*_recursive lines ("8:0 Read 4096", "Total 4096") -> entries. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 3) {
      const [maj, min] = f[0].split(':').map(Number);
      const e: BlkioEntry = {};
      setNonZero(e, 'major', maj);
      setNonZero(e, 'minor', min);
      setNonZero(e, 'op', f[1]);
      setNonZero(e, 'value', Number(f[2]));
      out.push(e);
    }
  }
  return out;
}

/** v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0") -> runc's v1-shaped entries. */
export function parseIoStatV2(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  const entry = (maj: number, min: number, op: string, value: number): BlkioEntry => {
    const e: BlkioEntry = {};
    setNonZero(e, 'major', maj);
    setNonZero(e, 'minor', min);
    e.op = op;
    setNonZero(e, 'value', value);
    return e;
  };
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const [maj, min] = f[0].split(':').map(Number);
    const kv: Record<string, number> = {};
    for (const p of f.slice(1)) {
      const [k, v] = p.split('=');
      kv[k] = Number(v);
    }
    if ('rbytes' in kv) bytes.push(entry(maj, min, 'Read', kv.rbytes));
    if ('wbytes' in kv) bytes.push(entry(maj, min, 'Write', kv.wbytes));
    if ('rios' in kv) ios.push(entry(maj, min, 'Read', kv.rios));
    if ('wios' in kv) ios.push(entry(maj, min, 'Write', kv.wios));
  }
  return { bytes, ios };
}
