import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'events',
  summary: "print a container's resource usage and OOM events as JSON lines, until it stops",
  usage: '[--stats] [--interval 5s] <container-id>',
  options: [
    { name: 'stats', kind: 'boolean', description: 'print the current figures once and exit' },
    { name: 'interval', kind: 'string', value: 'DURATION', description: 'time between stats events (e.g. 5s, 500ms)', default: '5s' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { containerEvents, parseInterval } = await import('../../runtime/container-cgroups');
    await containerEvents(runtimeContext(ctx), id, {
      statsOnce: Boolean(opts.stats),
      intervalMs: parseInterval(String(opts.interval)),
      emit: (line) => process.stdout.write(line + '\n'),
    });
    return 0;
  },
};
