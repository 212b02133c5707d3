import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'pause',
  summary: 'freeze every process of a container (cgroup freezer); state then shows "paused"',
  usage: '<container-id>',
  options: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { pauseContainer } = await import('../../runtime/container-cgroups');
    await pauseContainer(runtimeContext(ctx), id);
    return 0;
  },
};
