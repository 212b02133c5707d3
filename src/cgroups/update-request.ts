// What `update` asks for, as linux.resources: either a LinuxResources JSON
// document (--resources FILE or -) or runc's individual flags. Pure: no
// files are touched here beyond reading the document.
import type { Resources } from '../runtime/config/types';
import { ConfigError, UsageError } from '../runtime/errors';
import { parseByteSize } from './convert';

/** The update flags, named as runc names them (values as given on the command line). */
export interface UpdateFlags {
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
}

function integer(text: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag}: "${text}" is not a whole number`);
  const n = Number(text);
  if (n < min) throw new UsageError(`--${flag}: ${n} is below ${min}`);
  return n;
}

function size(text: string, flag: string): number {
  try {
    return parseByteSize(text, `--${flag}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Resources from runc's update flags; only the flags given appear. */
export function resourcesFromFlags(f: UpdateFlags): Resources {
  if (f.kernelMemory !== undefined || f.kernelMemoryTcp !== undefined) {
    throw new UsageError('--kernel-memory / --kernel-memory-tcp: kernel memory limits are not supported (deprecated in the kernel and ignored by runc; remove the flag)');
  }
  const r: Resources = {};
  const memory: NonNullable<Resources['memory']> = {};
  if (f.memory !== undefined) memory.limit = size(f.memory, 'memory');
  if (f.memorySwap !== undefined) memory.swap = size(f.memorySwap, 'memory-swap');
  if (f.memoryReservation !== undefined) memory.reservation = size(f.memoryReservation, 'memory-reservation');
  if (Object.keys(memory).length) r.memory = memory;
  const cpu: NonNullable<Resources['cpu']> = {};
  if (f.cpuShare !== undefined) cpu.shares = integer(f.cpuShare, 'cpu-share', 0);
  if (f.cpuQuota !== undefined) cpu.quota = integer(f.cpuQuota, 'cpu-quota', -1);
  if (f.cpuPeriod !== undefined) cpu.period = integer(f.cpuPeriod, 'cpu-period', 0);
  if (f.cpuRtPeriod !== undefined) cpu.realtimePeriod = integer(f.cpuRtPeriod, 'cpu-rt-period', 0);
  if (f.cpuRtRuntime !== undefined) cpu.realtimeRuntime = integer(f.cpuRtRuntime, 'cpu-rt-runtime', -1);
  if (f.cpusetCpus !== undefined) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) cpu.mems = f.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (f.pidsLimit !== undefined) r.pids = { limit: integer(f.pidsLimit, 'pids-limit', -1) };
  if (f.blkioWeight !== undefined) {
    const w = integer(f.blkioWeight, 'blkio-weight', 0);
    if (w !== 0 && (w < 10 || w > 1000)) throw new UsageError(`--blkio-weight: ${w} is not in 10..1000`);
    r.blockIO = { weight: w };
  }
  return r;
}

type Shape = 'number' | 'string' | 'boolean' | 'object' | 'array' | { [key: string]: Shape } | Shape[];

// The LinuxResources fields (runtime-spec config-linux.md) and their types.
const THROTTLE: Shape = [{ major: 'number', minor: 'number', rate: 'number' }];
const RESOURCES_SHAPE: { [key: string]: Shape } = {
  devices: [{ allow: 'boolean', type: 'string', major: 'number', minor: 'number', access: 'string' }],
  memory: { limit: 'number', reservation: 'number', swap: 'number', kernel: 'number', kernelTCP: 'number', swappiness: 'number', disableOOMKiller: 'boolean', useHierarchy: 'boolean', checkBeforeUpdate: 'boolean' },
  cpu: { shares: 'number', quota: 'number', burst: 'number', period: 'number', realtimeRuntime: 'number', realtimePeriod: 'number', cpus: 'string', mems: 'string', idle: 'number' },
  pids: { limit: 'number' },
  blockIO: {
    weight: 'number', leafWeight: 'number',
    weightDevice: [{ major: 'number', minor: 'number', weight: 'number', leafWeight: 'number' }],
    throttleReadBpsDevice: THROTTLE, throttleWriteBpsDevice: THROTTLE, throttleReadIOPSDevice: THROTTLE, throttleWriteIOPSDevice: THROTTLE,
  },
  hugepageLimits: [{ pageSize: 'string', limit: 'number' }],
  network: { classID: 'number', priorities: [{ name: 'string', priority: 'number' }] },
  rdma: 'object',
  unified: 'object',
};

function check(value: unknown, shape: Shape, where: string): void {
  if (value === null && where.includes('.devices[')) return; // major/minor null means "*"
  if (typeof shape === 'string') {
    const ok = shape === 'array' ? Array.isArray(value) : shape === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value) : typeof value === shape;
    if (!ok) throw new ConfigError(`${where}: must be ${shape === 'array' || shape === 'object' ? `an ${shape}` : `a ${shape}`}, not ${JSON.stringify(value)}`);
    if (shape === 'number' && !Number.isFinite(value as number)) throw new ConfigError(`${where}: must be a number`);
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) throw new ConfigError(`${where}: must be an array`);
    value.forEach((v, i) => check(v, shape[0], `${where}[${i}]`));
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${where}: must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (!(k in shape)) throw new ConfigError(`${where}.${k}: unknown field (known: ${Object.keys(shape).join(', ')})`);
    if (v !== undefined) check(v, shape[k], `${where}.${k}`);
  }
}

/** Parses and checks a LinuxResources JSON document (what `update --resources` reads). */
export function parseResourcesJson(text: string, source: string): Resources {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  check(value, RESOURCES_SHAPE, 'linux.resources');
  return value as Resources;
}
