import type { CommandSpec } from '../command';
import { writeOut } from '../output';

export const command: CommandSpec = {
  name: 'state',
  summary: "print a container's state as JSON",
  usage: '<container-id>',
  options: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { containerState } = await import('../../runtime/status');
    writeOut(JSON.stringify(containerState(runtimeContext(ctx), id), null, 2) + '\n');
    return 0;
  },
};
