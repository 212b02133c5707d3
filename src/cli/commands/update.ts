import type { CommandSpec, OptionSpec } from '../command';

const s = (name: string, value: string, description: string, hidden = false): OptionSpec => ({ name, kind: 'string', value, description, hidden });

export const command: CommandSpec = {
  name: 'update',
  summary: "change a running container's resource limits",
  usage: '[options] <container-id>',
  options: [
    { name: 'resources', short: 'r', kind: 'string', value: 'FILE|-', description: 'linux.resources JSON to apply (- reads stdin); the flags below are ignored with it, as in runc' },
    s('memory', 'BYTES', 'memory limit (bytes, or with k/m/g/t: 512m, 1g; -1 for none)'),
    s('memory-swap', 'BYTES', 'memory+swap limit (as --memory; -1 for unlimited swap)'),
    s('memory-reservation', 'BYTES', 'memory soft limit (v2: memory.low)'),
    s('cpu-quota', 'USEC', 'CPU time per period in microseconds (-1 for none)'),
    s('cpu-period', 'USEC', 'CPU CFS period in microseconds'),
    s('cpu-share', 'N', 'CPU shares (relative weight; v2: converted to cpu.weight)'),
    s('cpu-shares', 'N', 'same as --cpu-share', true),
    s('cpu-rt-period', 'USEC', 'real-time period in microseconds (cgroup v1 only)'),
    s('cpu-rt-runtime', 'USEC', 'real-time runtime in microseconds (cgroup v1 only)'),
    s('cpuset-cpus', 'LIST', 'CPUs allowed, e.g. 0-2,4'),
    s('cpuset-mems', 'LIST', 'memory nodes allowed, e.g. 0'),
    s('pids-limit', 'N', 'maximum number of processes (0 or -1 for none)'),
    s('blkio-weight', 'N', 'block I/O weight, 10..1000 (v2: converted to io.weight)'),
    s('kernel-memory', 'BYTES', 'refused: kernel memory limits are not supported'),
    s('kernel-memory-tcp', 'BYTES', 'refused: kernel memory limits are not supported'),
    s('l3-cache-schema', 'S', 'refused: Intel RDT is not supported', true),
    s('mem-bw-schema', 'S', 'refused: Intel RDT is not supported', true),
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { updateContainer } = await import('../../runtime/container-cgroups');
    const { resourcesFromFlags, parseResourcesJson } = await import('../../cgroups/update-request');
    const { UsageError } = await import('../../runtime/errors');
    if (opts.l3CacheSchema !== undefined || opts.memBwSchema !== undefined) {
      throw new UsageError('--l3-cache-schema / --mem-bw-schema: Intel RDT is not supported by ccrun');
    }
    const str = (k: string): string | undefined => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
    let resources;
    const file = str('resources');
    if (file !== undefined) {
      const { readFileSync } = await import('fs');
      let text: string;
      try {
        text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`--resources: cannot read ${file === '-' ? 'stdin' : file}: ${(e as Error).message}`);
      }
      resources = parseResourcesJson(text, file === '-' ? 'stdin' : file);
    } else {
      resources = resourcesFromFlags({
        memory: str('memory'),
        memorySwap: str('memorySwap'),
        memoryReservation: str('memoryReservation'),
        cpuQuota: str('cpuQuota'),
        cpuPeriod: str('cpuPeriod'),
        cpuShare: str('cpuShare') ?? str('cpuShares'),
        cpuRtPeriod: str('cpuRtPeriod'),
        cpuRtRuntime: str('cpuRtRuntime'),
        cpusetCpus: str('cpusetCpus'),
        cpusetMems: str('cpusetMems'),
        pidsLimit: str('pidsLimit'),
        blkioWeight: str('blkioWeight'),
        kernelMemory: str('kernelMemory'),
        kernelMemoryTcp: str('kernelMemoryTcp'),
      });
      if (Object.keys(resources).length === 0) throw new UsageError('update: nothing to change: give --resources FILE or at least one limit flag (see ccrun update --help)');
    }
    const warnings = await updateContainer(runtimeContext(ctx), id, resources);
    for (const w of warnings) ctx.log.warn(w);
    return 0;
  },
};
