// Cgroup v1: one hierarchy per controller (or per group of controllers, such
// as cpu,cpuacct), each with its own copy of the container's cgroup.
import { existsSync, mkdirSync, readdirSync } from 'fs';
import { join, posix } from 'path';
import type { Resources } from '../runtime/config/types';
import { ConfigError, HostError } from '../runtime/errors';
import { frozenFromText, type CgroupManager } from './index';
import { isDir, procsBelow, readKeyValues, readNumber, readText, removeCgroupTree, removeMadeDirs, signalPids, sleep, writeCgroupFile } from './cgroupfs';
// devices (create, update) and stats (events) are loaded where used: delete, kill --all and ps need neither.
import type { CgroupStats, MemoryEntry } from './stats';

/** The v1 controllers a container gets a cgroup in, when the host mounts them. */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb', 'net_cls', 'net_prio', 'rdma', 'perf_event'];

/** Where each mounted controller's hierarchy is, found by name under the mount root ("cpu" or "cpu,cpuacct"). */
export function findV1Hierarchies(mountRoot: string): Record<string, string> {
  const out: Record<string, string> = {};
  let entries: string[] = [];
  try {
    entries = readdirSync(mountRoot);
  } catch {
    return out;
  }
  for (const c of V1_CONTROLLERS) {
    // Only names the readdir listed are looked at (~15 stat fewer on every open); cgroup.procs there means a hierarchy.
    if (entries.includes(c) && existsSync(join(mountRoot, c, 'cgroup.procs'))) {
      out[c] = join(mountRoot, c);
      continue;
    }
    const combined = entries.find((e) => e.split(',').includes(c) && isDir(join(mountRoot, e)));
    if (combined) out[c] = join(mountRoot, combined);
  }
  return out;
}

export class CgroupV1 implements CgroupManager {
  readonly version = 1 as const;
  readonly warnings: string[] = [];
  /** controller -> the container's cgroup directory in that controller's hierarchy. */
  private readonly dirs: Record<string, string> = {};
  /** controller -> its hierarchy's root directory. */
  private readonly roots: Record<string, string>;

  /** self: the caller's cgroups per controller, given when path is relative to them. */
  constructor(
    mountRoot: string,
    readonly path: string,
    self?: Record<string, string>,
  ) {
    this.roots = findV1Hierarchies(mountRoot);
    for (const [c, root] of Object.entries(this.roots)) {
      const rel = self ? posix.join(self[c] ?? '/', path) : path;
      this.dirs[c] = join(root, rel);
    }
  }

  paths(): Record<string, string> {
    return { ...this.dirs };
  }

  exists(): boolean {
    return Object.values(this.dirs).some(isDir);
  }

  /** The directory for a controller, or an error naming the field that needs it. */
  private dir(controller: string, field: string): string {
    const d = this.dirs[controller];
    if (!d) throw new HostError(`${field}: the cgroup v1 "${controller}" controller is not mounted on this host`);
    return d;
  }

  private write(controller: string, file: string, value: string, field: string): void {
    writeCgroupFile(this.dir(controller, field), file, value, field);
  }

  create(resources?: Resources): void {
    const made: string[] = [];
    try {
      for (const [c, dir] of Object.entries(this.dirs)) {
        // mkdir level by level: cpuset needs each new level's cpus/mems copied
        // from its parent before a process can join (they start empty).
        const root = this.roots[c];
        const rel = dir.slice(root.length).split('/').filter(Boolean);
        for (let i = 1; i <= rel.length; i++) {
          const d = join(root, ...rel.slice(0, i));
          if (!isDir(d)) {
            mkdirSync(d);
            made.push(d);
          }
          // Also an existing level (e.g. a /ccrun someone else made) may still be empty.
          if (c === 'cpuset') {
            const parent = join(root, ...rel.slice(0, i - 1));
            for (const f of ['cpuset.cpus', 'cpuset.mems']) {
              if (existsSync(join(d, f)) && !(readText(join(d, f)) ?? '').trim()) {
                const v = (readText(join(parent, f)) ?? '').trim();
                if (v) writeCgroupFile(d, f, v, `cgroup ${d} (copying ${f} from the parent)`);
              }
            }
          }
        }
      }
      if (resources) this.apply(resources, false);
    } catch (e) {
      removeMadeDirs(made);
      throw e;
    }
  }

  addProcess(pid: number): void {
    for (const [c, d] of Object.entries(this.dirs)) writeCgroupFile(d, 'cgroup.procs', String(pid), `cgroup ${this.path} (${c}: adding pid ${pid})`);
  }

  selfJoinFiles(): string[] {
    return [...new Set(Object.values(this.dirs))].map((d) => join(d, 'tasks'));
  }

  update(resources: Resources): void {
    if (!this.exists()) throw new HostError(`cgroup ${this.path} does not exist`);
    this.apply(resources, true);
  }

  private apply(r: Resources, live: boolean): void {
    const F = 'linux.resources';
    // Refuse what v1 cannot express before writing anything.
    if (r.unified && Object.keys(r.unified).length) {
      throw new ConfigError(`${F}.unified["${Object.keys(r.unified)[0]}"]: unified (cgroup v2) settings need cgroup v2, and this host uses cgroup v1 controllers`);
    }
    const need: [boolean, string, string][] = [
      [!!r.memory && Object.values(r.memory).some((v) => v !== undefined), 'memory', `${F}.memory`],
      [r.cpu?.shares !== undefined || r.cpu?.quota !== undefined || r.cpu?.period !== undefined || r.cpu?.realtimeRuntime !== undefined || r.cpu?.realtimePeriod !== undefined || r.cpu?.burst !== undefined || r.cpu?.idle !== undefined, 'cpu', `${F}.cpu`],
      [!!r.cpu?.cpus || !!r.cpu?.mems, 'cpuset', `${F}.cpu.cpus/mems`],
      [r.pids?.limit !== undefined, 'pids', `${F}.pids.limit`],
      [!!r.blockIO && Object.values(r.blockIO).some((v) => v !== undefined), 'blkio', `${F}.blockIO`],
      [(r.hugepageLimits?.length ?? 0) > 0, 'hugetlb', `${F}.hugepageLimits`],
      [r.network?.classID !== undefined, 'net_cls', `${F}.network.classID`],
      [(r.network?.priorities?.length ?? 0) > 0, 'net_prio', `${F}.network.priorities`],
      [Object.keys(r.rdma ?? {}).length > 0, 'rdma', `${F}.rdma`],
      [!!r.devices, 'devices', `${F}.devices`],
    ];
    for (const [wanted, c, field] of need) if (wanted) this.dir(c, field);
    const m = r.memory;
    if (m) this.checkMemoryFiles(m);

    if (m) {
      const md = this.dirs.memory;
      if (m.checkBeforeUpdate && live && m.limit !== undefined && m.limit > 0) {
        const current = readNumber(join(md, 'memory.usage_in_bytes')) ?? 0;
        if (current > m.limit) throw new ConfigError(`${F}.memory.limit ${m.limit} is below the current usage ${current} (checkBeforeUpdate)`);
      }
      let swap = m.swap;
      if (m.limit === -1 && swap === undefined) swap = -1; // unlimited memory: unlimited memory+swap too, as runc
      if (swap !== undefined && swap !== 0 && !existsSync(join(md, 'memory.memsw.limit_in_bytes'))) {
        if (swap !== -1) throw new HostError(`${F}.memory.swap: swap accounting is not enabled on this host (no memory.memsw.limit_in_bytes; boot with swapaccount=1 or remove the swap limit)`);
        swap = undefined;
      }
      if (swap !== undefined && swap !== 0 && swap !== -1 && m.limit !== undefined && m.limit !== -1 && swap < m.limit) {
        throw new ConfigError(`${F}.memory.swap (${swap}) must be >= ${F}.memory.limit (${m.limit}): it is memory+swap`);
      }
      if (m.swappiness !== undefined && m.swappiness !== null && (m.swappiness < 0 || m.swappiness > 100)) {
        throw new ConfigError(`${F}.memory.swappiness: ${m.swappiness} is not in 0..100`);
      }
      // The first writes, those a kernel may refuse or ignore (use_hierarchy 0
      // is refused by kernels that are always hierarchical): refused before anything changed.
      if (m.useHierarchy !== undefined) this.write('memory', 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', `${F}.memory.useHierarchy`);
      if (m.kernel !== undefined && m.kernel !== 0) this.writeKernelMemory(m.kernel);
      if (m.kernelTCP !== undefined && m.kernelTCP !== 0) this.write('memory', 'memory.kmem.tcp.limit_in_bytes', String(m.kernelTCP), `${F}.memory.kernelTCP`);
      const writeLimit = (): void => {
        if (m.limit !== undefined) this.write('memory', 'memory.limit_in_bytes', String(m.limit), `${F}.memory.limit`);
      };
      const writeSwap = (): void => {
        if (swap !== undefined && swap !== 0) this.write('memory', 'memory.memsw.limit_in_bytes', String(swap), `${F}.memory.swap`);
      };
      // memsw must stay >= limit at every step: raise memsw first, lower it last.
      const curSwap = readNumber(join(md, 'memory.memsw.limit_in_bytes'));
      if (swap === -1 || (swap !== undefined && curSwap !== undefined && swap > curSwap)) {
        writeSwap();
        writeLimit();
      } else {
        writeLimit();
        writeSwap();
      }
      if (m.reservation !== undefined) this.write('memory', 'memory.soft_limit_in_bytes', String(m.reservation), `${F}.memory.reservation`);
      if (m.swappiness !== undefined && m.swappiness !== null) this.write('memory', 'memory.swappiness', String(m.swappiness), `${F}.memory.swappiness`);
      if (m.disableOOMKiller !== undefined) this.write('memory', 'memory.oom_control', m.disableOOMKiller ? '1' : '0', `${F}.memory.disableOOMKiller`);
    }

    const c = r.cpu;
    if (c) {
      if (c.shares !== undefined && c.shares !== 0) this.write('cpu', 'cpu.shares', String(c.shares), `${F}.cpu.shares`);
      if (c.period !== undefined && c.period !== 0) this.write('cpu', 'cpu.cfs_period_us', String(c.period), `${F}.cpu.period`);
      if (c.quota !== undefined && c.quota !== 0) this.write('cpu', 'cpu.cfs_quota_us', String(c.quota), `${F}.cpu.quota`);
      if (c.burst !== undefined) this.write('cpu', 'cpu.cfs_burst_us', String(c.burst), `${F}.cpu.burst`);
      if (c.idle !== undefined) this.write('cpu', 'cpu.idle', String(c.idle), `${F}.cpu.idle`);
      // The kernel checks runtime against period: set the period first.
      if (c.realtimePeriod !== undefined && c.realtimePeriod !== 0) this.write('cpu', 'cpu.rt_period_us', String(c.realtimePeriod), `${F}.cpu.realtimePeriod`);
      if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) this.write('cpu', 'cpu.rt_runtime_us', String(c.realtimeRuntime), `${F}.cpu.realtimeRuntime`);
      if (c.cpus) this.write('cpuset', 'cpuset.cpus', c.cpus, `${F}.cpu.cpus`);
      if (c.mems) this.write('cpuset', 'cpuset.mems', c.mems, `${F}.cpu.mems`);
    }

    if (r.pids && r.pids.limit !== undefined) this.write('pids', 'pids.max', r.pids.limit <= 0 ? 'max' : String(r.pids.limit), `${F}.pids.limit`);

    const b = r.blockIO;
    if (b) {
      const bd = this.dirs.blkio;
      // blkio.weight is CFQ's; with BFQ the files are blkio.bfq.*.
      const weightFile = existsSync(join(bd, 'blkio.weight')) ? 'blkio.weight' : existsSync(join(bd, 'blkio.bfq.weight')) ? 'blkio.bfq.weight' : undefined;
      const noWeight = (field: string): HostError =>
        new HostError(`${field}: this host's blkio controller has no weight files (blkio.weight / blkio.bfq.weight: the CFQ or BFQ I/O scheduler is not in use)`);
      if (b.weight !== undefined && b.weight !== 0) {
        if (!weightFile) throw noWeight(`${F}.blockIO.weight`);
        this.write('blkio', weightFile, String(b.weight), `${F}.blockIO.weight`);
      }
      if (b.leafWeight !== undefined && b.leafWeight !== 0) this.write('blkio', 'blkio.leaf_weight', String(b.leafWeight), `${F}.blockIO.leafWeight`);
      for (const [i, d] of (b.weightDevice ?? []).entries()) {
        const field = `${F}.blockIO.weightDevice[${i}]`;
        if (d.weight !== undefined) {
          if (!weightFile) throw noWeight(field);
          this.write('blkio', `${weightFile}_device`, `${d.major}:${d.minor} ${d.weight}`, field);
        }
        if (d.leafWeight !== undefined) this.write('blkio', 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`, field);
      }
      const throttles: [keyof typeof b, string][] = [
        ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
        ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
        ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
        ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
      ];
      for (const [key, file] of throttles) {
        const list = b[key] as { major: number; minor: number; rate: number }[] | undefined;
        for (const [i, d] of (list ?? []).entries()) this.write('blkio', file, `${d.major}:${d.minor} ${d.rate}`, `${F}.blockIO.${key}[${i}]`);
      }
    }

    for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
      const field = `${F}.hugepageLimits[${i}] (pageSize ${h.pageSize})`;
      const hd = this.dirs.hugetlb;
      if (!/^\d+[KMG]B$/.test(h.pageSize) || !existsSync(join(hd, `hugetlb.${h.pageSize}.limit_in_bytes`))) {
        const sizes = readdirSync(hd).filter((f) => /^hugetlb\.[^.]+\.limit_in_bytes$/.test(f)).map((f) => f.split('.')[1]);
        throw new HostError(`${field}: this host has no ${h.pageSize} huge pages (sizes: ${sizes.join(', ') || 'none'})`);
      }
      this.write('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, String(h.limit), field);
    }

    if (r.network?.classID !== undefined) this.write('net_cls', 'net_cls.classid', String(r.network.classID), `${F}.network.classID`);
    for (const [i, p] of (r.network?.priorities ?? []).entries()) {
      this.write('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `${F}.network.priorities[${i}]`);
    }
    for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
      const v = (n: number | undefined): string => (n === undefined ? 'max' : String(n));
      this.write('rdma', 'rdma.max', `${dev} hca_handle=${v(lim.hcaHandles)} hca_object=${v(lim.hcaObjects)}`, `${F}.rdma["${dev}"]`);
    }

    if (r.devices) {
      // Start from nothing allowed, then apply the rules in order (later rules win).
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { rulesFromConfig, v1RuleLine } = require('./devices') as typeof import('./devices');
      const rules = rulesFromConfig(r.devices);
      this.write('devices', 'devices.deny', 'a', `${F}.devices`);
      for (const [i, rule] of rules.entries()) {
        this.write('devices', rule.allow ? 'devices.allow' : 'devices.deny', v1RuleLine(rule), `${F}.devices[${i}]`);
      }
    }
  }

  /** Each memory field's file must be there (a kernel built without it, or newer than it): refused by name before anything is written. */
  private checkMemoryFiles(m: NonNullable<Resources['memory']>): void {
    const F = 'linux.resources.memory';
    const files: [boolean, string, string][] = [
      [m.kernel !== undefined && m.kernel !== 0, 'memory.kmem.limit_in_bytes', 'kernel'],
      [m.kernelTCP !== undefined && m.kernelTCP !== 0, 'memory.kmem.tcp.limit_in_bytes', 'kernelTCP'],
      [m.reservation !== undefined, 'memory.soft_limit_in_bytes', 'reservation'],
      [m.swappiness !== undefined && m.swappiness !== null, 'memory.swappiness', 'swappiness'],
      [m.disableOOMKiller !== undefined, 'memory.oom_control', 'disableOOMKiller'],
      [m.useHierarchy !== undefined, 'memory.use_hierarchy', 'useHierarchy'],
    ];
    for (const [wanted, file, field] of files) {
      if (wanted && !existsSync(join(this.dirs.memory, file))) {
        throw new HostError(`${F}.${field}: this kernel has no ${file} (${join(this.dirs.memory, file)} does not exist): remove ${field} from linux.resources.memory`);
      }
    }
  }

  /**
   * memory.kmem.limit_in_bytes, read back: newer kernels keep the file but
   * accept a write without limiting anything, and a limit asked for must not
   * silently be none.
   */
  private writeKernelMemory(limit: number): void {
    const field = 'linux.resources.memory.kernel';
    this.write('memory', 'memory.kmem.limit_in_bytes', String(limit), field);
    const now = readNumber(join(this.dirs.memory, 'memory.kmem.limit_in_bytes'));
    // The kernel rounds a limit down to whole pages; -1 reads back as its largest value.
    const held = now !== undefined && (limit < 0 ? now >= 2 ** 62 : now <= limit && limit - now < 65536);
    if (!held) {
      throw new HostError(`${field}: this kernel does not limit kernel memory (it accepted ${limit} for memory.kmem.limit_in_bytes but still reads ${now}): remove memory.kernel (memory.limit covers kernel memory on such kernels)`);
    }
  }

  freezeStateFile(): string | undefined {
    const d = this.dirs.freezer;
    return d ? join(d, 'freezer.state') : undefined;
  }

  private freezerState(): string | undefined {
    const f = this.freezeStateFile();
    return f ? readText(f)?.trim() : undefined;
  }

  async freeze(): Promise<void> {
    this.write('freezer', 'freezer.state', 'FROZEN', `pause ${this.path}`);
    const deadline = Date.now() + 10_000;
    // FREEZING until every task stopped; rewriting FROZEN retries stuck ones.
    while (this.freezerState() !== 'FROZEN') {
      if (Date.now() > deadline) {
        this.write('freezer', 'freezer.state', 'THAWED', `resume ${this.path}`);
        throw new HostError(`cgroup ${this.path} did not freeze within 10 s`);
      }
      await sleep(10);
      this.write('freezer', 'freezer.state', 'FROZEN', `pause ${this.path}`);
    }
  }

  async thaw(): Promise<void> {
    this.write('freezer', 'freezer.state', 'THAWED', `resume ${this.path}`);
    const deadline = Date.now() + 10_000;
    while (this.freezerState() !== 'THAWED' && Date.now() < deadline) await sleep(10);
  }

  frozen(): boolean {
    return frozenFromText(this.freezerState());
  }

  procsDir(): string | undefined {
    const c = ['pids', 'freezer', 'memory', 'cpu', 'devices'].find((x) => this.dirs[x]) ?? Object.keys(this.dirs)[0];
    return c ? this.dirs[c] : undefined;
  }

  pids(): number[] {
    const d = this.procsDir();
    return d ? procsBelow(d) : [];
  }

  signalAll(signal: number): void {
    signalPids(this.pids(), signal);
  }

  async destroy(): Promise<void> {
    if (!this.exists()) return;
    if (this.pids().length) {
      if (this.dirs.freezer && isDir(this.dirs.freezer)) {
        // Frozen, nothing can fork between listing and killing.
        await Promise.race([this.freeze().catch(() => undefined), sleep(1000)]);
      }
      this.signalAll(9);
      if (this.dirs.freezer && isDir(this.dirs.freezer)) await this.thaw().catch(() => undefined);
      const deadline = Date.now() + 5000;
      while (this.pids().length && Date.now() < deadline) {
        await sleep(10);
        this.signalAll(9);
      }
    }
    for (const d of Object.values(this.dirs)) await removeCgroupTree(d);
  }

  oomKillCount(): number {
    const d = this.dirs.memory;
    return d ? readKeyValues(join(d, 'memory.oom_control')).oom_kill ?? 0 : 0;
  }

  stats(): CgroupStats {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { emptyStats, limitValue, parseBlkioV1, parseCpuList, setNonZero } = require('./stats') as typeof import('./stats');
    const s = emptyStats();
    const cpuacct = this.dirs.cpuacct;
    if (cpuacct) {
      setNonZero(s.cpu.usage, 'total', readNumber(join(cpuacct, 'cpuacct.usage')));
      const percpu = (readText(join(cpuacct, 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
      setNonZero(s.cpu.usage, 'percpu', percpu);
      // cpuacct.stat is in USER_HZ (100 per second on Linux); runc reports nanoseconds.
      const st = readKeyValues(join(cpuacct, 'cpuacct.stat'));
      s.cpu.usage.kernel = (st.system ?? 0) * 10_000_000;
      s.cpu.usage.user = (st.user ?? 0) * 10_000_000;
    }
    if (this.dirs.cpu) {
      const st = readKeyValues(join(this.dirs.cpu, 'cpu.stat'));
      setNonZero(s.cpu.throttling, 'periods', st.nr_periods);
      setNonZero(s.cpu.throttling, 'throttledPeriods', st.nr_throttled);
      setNonZero(s.cpu.throttling, 'throttledTime', st.throttled_time);
    }
    const md = this.dirs.memory;
    if (md && isDir(md)) {
      const entry = (prefix: string): MemoryEntry => {
        const e: MemoryEntry = { limit: limitValue(readNumber(join(md, `${prefix}.limit_in_bytes`))), failcnt: readNumber(join(md, `${prefix}.failcnt`)) ?? 0 };
        setNonZero(e, 'usage', readNumber(join(md, `${prefix}.usage_in_bytes`)));
        setNonZero(e, 'max', readNumber(join(md, `${prefix}.max_usage_in_bytes`)));
        return e;
      };
      const raw = readKeyValues(join(md, 'memory.stat'));
      setNonZero(s.memory, 'cache', raw.total_cache ?? raw.cache);
      s.memory.usage = entry('memory');
      if (existsSync(join(md, 'memory.memsw.usage_in_bytes'))) s.memory.swap = entry('memory.memsw');
      if (existsSync(join(md, 'memory.kmem.usage_in_bytes'))) s.memory.kernel = entry('memory.kmem');
      if (existsSync(join(md, 'memory.kmem.tcp.usage_in_bytes'))) s.memory.kernelTCP = entry('memory.kmem.tcp');
      if (Object.keys(raw).length) s.memory.raw = raw;
    }
    if (this.dirs.pids) {
      setNonZero(s.pids, 'current', readNumber(join(this.dirs.pids, 'pids.current')));
      const max = readNumber(join(this.dirs.pids, 'pids.max'));
      if (max !== Infinity) setNonZero(s.pids, 'limit', max);
    }
    const bd = this.dirs.blkio;
    if (bd) {
      // CFQ/BFQ files when the scheduler provides them, else the throttle layer's.
      const pick = (names: string[]): string | undefined => {
        for (const n of names) {
          const t = readText(join(bd, n));
          if (t !== undefined && t.trim() && t.trim() !== 'Total 0') return t;
        }
        return undefined;
      };
      setNonZero(s.blkio, 'ioServiceBytesRecursive', parseBlkioV1(pick(['blkio.io_service_bytes_recursive', 'blkio.bfq.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes_recursive'])));
      setNonZero(s.blkio, 'ioServicedRecursive', parseBlkioV1(pick(['blkio.io_serviced_recursive', 'blkio.bfq.io_serviced_recursive', 'blkio.throttle.io_serviced_recursive'])));
      setNonZero(s.blkio, 'ioQueueRecursive', parseBlkioV1(readText(join(bd, 'blkio.io_queued_recursive'))));
      setNonZero(s.blkio, 'ioServiceTimeRecursive', parseBlkioV1(readText(join(bd, 'blkio.io_service_time_recursive'))));
      setNonZero(s.blkio, 'ioWaitTimeRecursive', parseBlkioV1(readText(join(bd, 'blkio.io_wait_time_recursive'))));
      setNonZero(s.blkio, 'ioMergedRecursive', parseBlkioV1(readText(join(bd, 'blkio.io_merged_recursive'))));
      setNonZero(s.blkio, 'ioTimeRecursive', parseBlkioV1(readText(join(bd, 'blkio.time_recursive'))));
      setNonZero(s.blkio, 'sectorsRecursive', parseBlkioV1(readText(join(bd, 'blkio.sectors_recursive'))));
    }
    const cs = this.dirs.cpuset;
    if (cs && isDir(cs)) {
      const n = (f: string): number => readNumber(join(cs, `cpuset.${f}`)) ?? 0;
      setNonZero(s.cpuset, 'cpus', parseCpuList(readText(join(cs, 'cpuset.effective_cpus')) ?? readText(join(cs, 'cpuset.cpus'))));
      setNonZero(s.cpuset, 'mems', parseCpuList(readText(join(cs, 'cpuset.effective_mems')) ?? readText(join(cs, 'cpuset.mems'))));
      s.cpuset.cpu_exclusive = n('cpu_exclusive');
      s.cpuset.mem_hardwall = n('mem_hardwall');
      s.cpuset.mem_exclusive = n('mem_exclusive');
      s.cpuset.memory_migrate = n('memory_migrate');
      s.cpuset.memory_spread_page = n('memory_spread_page');
      s.cpuset.memory_spread_slab = n('memory_spread_slab');
      s.cpuset.memory_pressure = n('memory_pressure');
      s.cpuset.sched_load_balance = n('sched_load_balance');
      s.cpuset.sched_relax_domain_level = n('sched_relax_domain_level');
    }
    const hd = this.dirs.hugetlb;
    if (hd && isDir(hd)) {
      for (const f of readdirSync(hd)) {
        const m = /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(f);
        if (!m) continue;
        const e: { usage?: number; max?: number; failcnt: number } = { failcnt: readNumber(join(hd, `hugetlb.${m[1]}.failcnt`)) ?? 0 };
        setNonZero(e, 'usage', readNumber(join(hd, f)));
        setNonZero(e, 'max', readNumber(join(hd, `hugetlb.${m[1]}.max_usage_in_bytes`)));
        s.hugetlb[m[1]] = e;
      }
    }
    return s;
  }
}
