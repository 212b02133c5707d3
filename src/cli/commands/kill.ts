import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'kill',
  summary: "send a signal (default TERM) to a container's init, or with --all to all its processes",
  usage: '[--all] <container-id> [signal]',
  options: [{ name: 'all', short: 'a', kind: 'boolean', description: 'signal every process in the container' }],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, opts, [id, sig]) {
    const { runtimeContext } = await import('../runtime-context');
    const { killContainer, parseKillSignal } = await import('../../runtime/container');
    const signal = parseKillSignal(sig);
    await killContainer(runtimeContext(ctx), id, signal, Boolean(opts.all));
    return 0;
  },
};
