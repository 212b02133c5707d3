import type { CommandSpec } from '../command';
import { CREATE_OPTIONS } from './create';

export const command: CommandSpec = {
  name: 'run',
  summary: 'create and start a container from a bundle; in the foreground, wait and exit with its status',
  usage: '[options] <container-id>',
  options: [
    ...CREATE_OPTIONS,
    { name: 'detach', short: 'd', kind: 'boolean', description: 'return once the container has started' },
    { name: 'keep', kind: 'boolean', description: 'keep the stopped container (no delete) after a foreground run' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext, refuseSystemdCgroup } = await import('../runtime-context');
    const { runContainer } = await import('../../runtime/container');
    refuseSystemdCgroup(ctx);
    return runContainer(runtimeContext(ctx), {
      id,
      bundle: opts.bundle as string,
      pidFile: opts.pidFile as string | undefined,
      consoleSocket: opts.consoleSocket as string | undefined,
      noPivot: Boolean(opts.noPivot),
      preserveFds: opts.preserveFds as number,
      detach: Boolean(opts.detach),
      keep: Boolean(opts.keep),
    });
  },
};
