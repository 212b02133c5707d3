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
