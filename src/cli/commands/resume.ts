import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'resume',
  summary: 'thaw a paused container',
  usage: '<container-id>',
  options: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { resumeContainer } = await import('../../runtime/container-cgroups');
    await resumeContainer(runtimeContext(ctx), id);
    return 0;
  },
};
