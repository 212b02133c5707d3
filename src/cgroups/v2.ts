// Cgroup v2 (the unified hierarchy): one directory per container; the
// controllers it needs are enabled in every ancestor's cgroup.subtree_control.
import { existsSync, mkdirSync, readdirSync } from 'fs';
import { join } from 'path';
import type { Resources } from '../runtime/config/types';
import { ConfigError, HostError } from '../runtime/errors';
import { frozenFromText, type CgroupManager } from './index';
import { blkioWeightToIoWeight, cpuSharesToWeight, maxOrNumber, memorySwapToV2 } from './convert';
import { isDir, procsBelow, readKeyValues, readNumber, readText, removeCgroupTree, removeMadeDirs, signalPids, sleep, writeCgroupFile } from './cgroupfs';
import { rulesFromConfig } from './devices';
import { buildDeviceFilter, encodeProgram } from './v2-device-filter';
import { emptyStats, limitValue, parseCpuList, parseIoStatV2, setNonZero, type CgroupStats } from './stats';

/** Controllers we enable for the container's cgroup when the host offers them. */
const WANTED_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids', 'hugetlb', 'rdma', 'misc'];

type NativeAddon = { bpfAttachDeviceProgram(cgroupDir: string, insns: Buffer): void };

function loadAddon(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(join(__dirname, '..', '..', 'build', 'Release', 'ccrun_native.node')) as NativeAddon;
}

export class CgroupV2 implements CgroupManager {
  readonly version = 2 as const;
  readonly warnings: string[] = [];
  readonly dir: string;
  /** Replaced by tests: the fake tree has no kernel to run a BPF program. */
  attachDeviceProgram: (dir: string, insns: Buffer) => void = (dir, insns) => loadAddon().bpfAttachDeviceProgram(dir, insns);

  constructor(
    private readonly mountRoot: string,
    readonly path: string,
  ) {
    this.dir = join(mountRoot, path);
  }

  paths(): Record<string, string> {
    return { unified: this.dir };
  }

  exists(): boolean {
    return isDir(this.dir);
  }

  private available(dir: string): Set<string> {
    return new Set((readText(join(dir, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean));
  }

  create(resources?: Resources): void {
    const parts = this.path.split('/').filter(Boolean);
    const made: string[] = [];
    try {
      // Walk down from the root: enable controllers in each ancestor, then make the next level.
      for (let i = 0; i < parts.length; i++) {
        const parent = join(this.mountRoot, ...parts.slice(0, i));
        const avail = this.available(parent);
        const enabled = new Set((readText(join(parent, 'cgroup.subtree_control')) ?? '').split(/\s+/).filter(Boolean));
        const missing = WANTED_CONTROLLERS.filter((c) => avail.has(c) && !enabled.has(c));
        if (missing.length) {
          if (i > 0 && (readText(join(parent, 'cgroup.procs')) ?? '').trim()) {
            // cgroup v2's "no internal processes" rule.
            throw new HostError(
              `linux.cgroupsPath: cannot enable controllers in ${parent}: it holds processes, and cgroup v2 lets only a cgroup without processes of its own delegate controllers (use a path under a cgroup with no processes, e.g. an absolute one)`,
            );
          }
          writeCgroupFile(parent, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '), `linux.cgroupsPath (enabling ${missing.join(', ')} in ${parent})`);
        }
        const child = join(parent, parts[i]);
        if (!isDir(child)) {
          mkdirSync(child);
          made.push(child);
        }
      }
      if (resources) this.apply(resources, false);
    } catch (e) {
      removeMadeDirs(made);
      throw e;
    }
  }

  addProcess(pid: number): void {
    writeCgroupFile(this.dir, 'cgroup.procs', String(pid), `cgroup ${this.path} (adding pid ${pid})`);
  }

  /** cgroup.procs takes the lock even for "0", and cgroup.threads needs a threaded cgroup. */
  selfJoinFiles(): undefined {
    return undefined;
  }

  update(resources: Resources): void {
    if (!this.exists()) throw new HostError(`cgroup ${this.dir} does not exist`);
    this.apply(resources, true);
  }

  private need(controller: string, field: string): void {
    if (!this.available(this.dir).has(controller)) {
      // The container cgroup's cgroup.controllers lists what its parent enabled for it.
      throw new HostError(`${field}: the cgroup v2 "${controller}" controller is not available for ${this.path} (not enabled in the parent's cgroup.subtree_control, or not in the kernel)`);
    }
  }

  private write(file: string, value: string, field: string, controller?: string): void {
    if (controller) this.need(controller, field);
    writeCgroupFile(this.dir, file, value, field);
  }

  private apply(r: Resources, live: boolean): void {
    const F = 'linux.resources';
    // Refuse first what v2 cannot express, so nothing is half-applied.
    if (r.memory?.swappiness !== undefined && r.memory.swappiness !== null) throw new ConfigError(`${F}.memory.swappiness is not supported on cgroup v2 (remove it)`);
    if (r.memory?.disableOOMKiller) throw new ConfigError(`${F}.memory.disableOOMKiller is not supported on cgroup v2 (cgroup v2 has no way to turn the OOM killer off)`);
    if (r.memory?.useHierarchy === false) throw new ConfigError(`${F}.memory.useHierarchy=false is not supported on cgroup v2 (memory accounting is always hierarchical)`);
    if (r.cpu?.realtimeRuntime !== undefined || r.cpu?.realtimePeriod !== undefined) {
      throw new ConfigError(`${F}.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2 (the v2 cpu controller has no real-time bandwidth)`);
    }
    if (r.network && (r.network.classID !== undefined || (r.network.priorities?.length ?? 0) > 0)) {
      throw new ConfigError(`${F}.network (classID, priorities) is not supported on cgroup v2: net_cls and net_prio are v1-only controllers`);
    }
    if (r.blockIO?.leafWeight !== undefined || r.blockIO?.weightDevice?.some((d) => d.leafWeight !== undefined)) {
      throw new ConfigError(`${F}.blockIO.leafWeight is not supported on cgroup v2 (remove it)`);
    }
    if (r.memory && (r.memory.kernel !== undefined || r.memory.kernelTCP !== undefined)) {
      this.warnings.push(`${F}.memory.kernel and kernelTCP are deprecated and ignored (as runc does): kernel memory is part of memory.max on cgroup v2`);
    }

    const m = r.memory;
    if (m) {
      if (m.checkBeforeUpdate && live && m.limit !== undefined && m.limit > 0) {
        const current = readNumber(join(this.dir, 'memory.current')) ?? 0;
        if (current > m.limit) throw new ConfigError(`${F}.memory.limit ${m.limit} is below the current usage ${current} (checkBeforeUpdate)`);
      }
      // Convert (and so check) swap before writing anything.
      let swap: number | undefined;
      if (m.swap !== undefined && m.swap !== 0) {
        let limit = m.limit;
        if (limit === undefined) {
          const cur = readNumber(join(this.dir, 'memory.max'));
          limit = cur === undefined || cur === Infinity ? -1 : cur;
        }
        // swap == limit converts to 0: no swap at all (not "unset"), as runc writes it.
        swap = memorySwapToV2(m.swap, limit);
        // Unlimited swap is what a host without swap accounting does anyway.
        if (swap !== -1 && !existsSync(join(this.dir, 'memory.swap.max'))) {
          throw new HostError(`${F}.memory.swap: swap accounting is not enabled on this host (no memory.swap.max; boot with swapaccount=1 or remove the swap limit)`);
        }
      } else if (m.limit === -1) {
        swap = -1; // as runc: unlimited memory with swap unset means unlimited swap
      }
      if (m.limit !== undefined) this.write('memory.max', maxOrNumber(m.limit), `${F}.memory.limit`, 'memory');
      if (m.reservation !== undefined) this.write('memory.low', maxOrNumber(m.reservation), `${F}.memory.reservation`, 'memory');
      if (swap !== undefined && existsSync(join(this.dir, 'memory.swap.max'))) this.write('memory.swap.max', maxOrNumber(swap), `${F}.memory.swap`, 'memory');
    }

    const c = r.cpu;
    if (c) {
      if (c.shares !== undefined && c.shares !== 0) this.write('cpu.weight', String(cpuSharesToWeight(c.shares)), `${F}.cpu.shares`, 'cpu');
      if ((c.quota !== undefined && c.quota !== 0) || (c.period !== undefined && c.period !== 0)) {
        let v = c.quota !== undefined && c.quota > 0 ? String(c.quota) : 'max';
        if (c.quota === undefined || c.quota === 0) {
          // Only the period changes: keep the current quota.
          v = (readText(join(this.dir, 'cpu.max')) ?? 'max').trim().split(/\s+/)[0] || 'max';
        }
        if (c.period !== undefined && c.period !== 0) v += ` ${c.period}`;
        this.write('cpu.max', v, `${F}.cpu.quota/period`, 'cpu');
      }
      if (c.burst !== undefined) this.write('cpu.max.burst', String(c.burst), `${F}.cpu.burst`, 'cpu');
      if (c.idle !== undefined) this.write('cpu.idle', String(c.idle), `${F}.cpu.idle`, 'cpu');
      if (c.cpus) this.write('cpuset.cpus', c.cpus, `${F}.cpu.cpus`, 'cpuset');
      if (c.mems) this.write('cpuset.mems', c.mems, `${F}.cpu.mems`, 'cpuset');
    }

    if (r.pids && r.pids.limit !== undefined) this.write('pids.max', r.pids.limit <= 0 ? 'max' : String(r.pids.limit), `${F}.pids.limit`, 'pids');

    const b = r.blockIO;
    if (b) {
      const bfq = existsSync(join(this.dir, 'io.bfq.weight'));
      if (b.weight !== undefined && b.weight !== 0) {
        if (bfq) this.write('io.bfq.weight', String(b.weight), `${F}.blockIO.weight`, 'io');
        else this.write('io.weight', String(blkioWeightToIoWeight(b.weight)), `${F}.blockIO.weight`, 'io');
      }
      for (const [i, d] of (b.weightDevice ?? []).entries()) {
        if (d.weight === undefined) continue;
        const field = `${F}.blockIO.weightDevice[${i}]`;
        if (bfq) this.write('io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`, field, 'io');
        else this.write('io.weight', `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}`, field, 'io');
      }
      const throttles: [keyof typeof b, string][] = [
        ['throttleReadBpsDevice', 'rbps'],
        ['throttleWriteBpsDevice', 'wbps'],
        ['throttleReadIOPSDevice', 'riops'],
        ['throttleWriteIOPSDevice', 'wiops'],
      ];
      for (const [key, io] of throttles) {
        const list = b[key] as { major: number; minor: number; rate: number }[] | undefined;
        for (const [i, d] of (list ?? []).entries()) {
          this.write('io.max', `${d.major}:${d.minor} ${io}=${d.rate === 0 ? 'max' : d.rate}`, `${F}.blockIO.${key}[${i}]`, 'io');
        }
      }
    }

    for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
      const field = `${F}.hugepageLimits[${i}] (pageSize ${h.pageSize})`;
      this.need('hugetlb', field);
      if (!/^\d+[KMG]B$/.test(h.pageSize) || !existsSync(join(this.dir, `hugetlb.${h.pageSize}.max`))) {
        const sizes = readdirSync(this.dir).filter((f) => /^hugetlb\.[^.]+\.max$/.test(f)).map((f) => f.split('.')[1]);
        throw new HostError(`${field}: this host has no ${h.pageSize} huge pages (sizes: ${sizes.join(', ') || 'none'})`);
      }
      this.write(`hugetlb.${h.pageSize}.max`, maxOrNumber(h.limit), field);
    }

    for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
      const field = `${F}.rdma["${dev}"]`;
      const v = (n: number | undefined): string => (n === undefined ? 'max' : String(n));
      this.write('rdma.max', `${dev} hca_handle=${v(lim.hcaHandles)} hca_object=${v(lim.hcaObjects)}`, field, 'rdma');
    }

    for (const [key, value] of Object.entries(r.unified ?? {})) {
      const field = `${F}.unified["${key}"]`;
      if (!/^[a-z_]+(\.[a-zA-Z0-9_]+)+$/.test(key) || key.includes('/')) throw new ConfigError(`${field}: not a cgroup v2 file name`);
      const controller = key.split('.')[0];
      if (controller !== 'cgroup' && !existsSync(join(this.dir, key))) {
        this.need(controller, field);
        throw new HostError(`${field}: no such file in the container's cgroup (kernel too old for it?)`);
      }
      this.write(key, value, field);
    }

    if (r.devices) {
      const insns = encodeProgram(buildDeviceFilter(rulesFromConfig(r.devices)));
      try {
        this.attachDeviceProgram(this.dir, insns);
      } catch (e) {
        throw new HostError(`${F}.devices: cannot attach the cgroup v2 device filter (eBPF) to ${this.dir}: ${(e as Error).message}`);
      }
    }
  }

  async freeze(): Promise<void> {
    this.write('cgroup.freeze', '1', `pause ${this.path}`);
    const deadline = Date.now() + 10_000;
    while (readKeyValues(join(this.dir, 'cgroup.events')).frozen !== 1) {
      if (Date.now() > deadline) {
        this.write('cgroup.freeze', '0', `resume ${this.path}`);
        throw new HostError(`cgroup ${this.path} did not freeze within 10 s`);
      }
      await sleep(10);
    }
  }

  async thaw(): Promise<void> {
    this.write('cgroup.freeze', '0', `resume ${this.path}`);
    const deadline = Date.now() + 10_000;
    while (readKeyValues(join(this.dir, 'cgroup.events')).frozen === 1 && Date.now() < deadline) await sleep(10);
  }

  freezeStateFile(): string {
    return join(this.dir, 'cgroup.freeze');
  }

  frozen(): boolean {
    return frozenFromText(readText(this.freezeStateFile()));
  }

  procsDir(): string {
    return this.dir;
  }

  pids(): number[] {
    return procsBelow(this.dir);
  }

  signalAll(signal: number): void {
    signalPids(this.pids(), signal);
  }

  async destroy(): Promise<void> {
    if (!this.exists()) return;
    if (existsSync(join(this.dir, 'cgroup.kill'))) {
      // Kernel 5.14+: kills the whole subtree at once, no fork race.
      if (this.pids().length) writeCgroupFile(this.dir, 'cgroup.kill', '1', `delete ${this.path}`);
    } else if (this.pids().length) {
      // Freeze first so nothing forks between listing and killing.
      try {
        await Promise.race([this.freeze(), sleep(1000)]);
      } catch {
        /* kill anyway */
      }
      this.signalAll(9);
      await this.thaw().catch(() => undefined);
    }
    const deadline = Date.now() + 5000;
    while (this.pids().length && Date.now() < deadline) await sleep(10);
    await removeCgroupTree(this.dir);
  }

  oomKillCount(): number {
    return readKeyValues(join(this.dir, 'memory.events')).oom_kill ?? 0;
  }

  stats(): CgroupStats {
    const s = emptyStats();
    const d = this.dir;
    const cpu = readKeyValues(join(d, 'cpu.stat'));
    setNonZero(s.cpu.usage, 'total', (cpu.usage_usec ?? 0) * 1000);
    s.cpu.usage.kernel = (cpu.system_usec ?? 0) * 1000;
    s.cpu.usage.user = (cpu.user_usec ?? 0) * 1000;
    setNonZero(s.cpu.throttling, 'periods', cpu.nr_periods);
    setNonZero(s.cpu.throttling, 'throttledPeriods', cpu.nr_throttled);
    setNonZero(s.cpu.throttling, 'throttledTime', (cpu.throttled_usec ?? 0) * 1000);

    if (existsSync(join(d, 'memory.current'))) {
      const raw = readKeyValues(join(d, 'memory.stat'));
      setNonZero(s.memory, 'cache', raw.file);
      const usage = readNumber(join(d, 'memory.current')) ?? 0;
      const events = readKeyValues(join(d, 'memory.events'));
      s.memory.usage = { limit: limitValue(readNumber(join(d, 'memory.max'))), failcnt: events.max ?? 0 };
      setNonZero(s.memory.usage, 'usage', usage);
      setNonZero(s.memory.usage, 'max', readNumber(join(d, 'memory.peak')));
      if (existsSync(join(d, 'memory.swap.current'))) {
        // As runc: v1's memsw figures (memory + swap) so consumers see one meaning.
        const swapMax = readNumber(join(d, 'memory.swap.max'));
        const memMax = readNumber(join(d, 'memory.max'));
        const limit = swapMax === Infinity || memMax === Infinity ? Infinity : (swapMax ?? 0) + (memMax ?? 0);
        s.memory.swap = { limit: limitValue(limit), failcnt: 0 };
        setNonZero(s.memory.swap, 'usage', (readNumber(join(d, 'memory.swap.current')) ?? 0) + usage);
      }
      if (Object.keys(raw).length) s.memory.raw = raw;
    }

    setNonZero(s.pids, 'current', readNumber(join(d, 'pids.current')));
    const pmax = readNumber(join(d, 'pids.max'));
    if (pmax !== Infinity) setNonZero(s.pids, 'limit', pmax);

    setNonZero(s.cpuset, 'cpus', parseCpuList(readText(join(d, 'cpuset.cpus.effective'))));
    setNonZero(s.cpuset, 'mems', parseCpuList(readText(join(d, 'cpuset.mems.effective'))));

    const io = parseIoStatV2(readText(join(d, 'io.stat')));
    setNonZero(s.blkio, 'ioServiceBytesRecursive', io.bytes);
    setNonZero(s.blkio, 'ioServicedRecursive', io.ios);

    let files: string[] = [];
    try {
      files = readdirSync(d);
    } catch {
      /* removed meanwhile */
    }
    for (const f of files) {
      const m = /^hugetlb\.([^.]+)\.current$/.exec(f);
      if (!m) continue;
      const e: { usage?: number; max?: number; failcnt: number } = { failcnt: readKeyValues(join(d, `hugetlb.${m[1]}.events`)).max ?? 0 };
      setNonZero(e, 'usage', readNumber(join(d, f)));
      s.hugetlb[m[1]] = e;
    }
    return s;
  }
}
