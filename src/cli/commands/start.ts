import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'start',
  summary: 'start the user process of a created container',
  usage: '<container-id>',
  options: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { startContainer } = await import('../../runtime/container');
    await startContainer(runtimeContext(ctx), id);
    return 0;
  },
};
