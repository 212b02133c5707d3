// `ccrun logs [-f] NAME`: the output of a detached image container.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'logs',
  summary: 'print the output (stdout and stderr) of a detached image container',
  usage: '[-f] NAME|ID',
  options: [{ name: 'follow', short: 'f', kind: 'boolean', description: 'keep printing new output until the container stops' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [ref]) {
    const { frontendContext } = await import('../../frontend/context');
    const { showLogs } = await import('../../frontend/manage');
    const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: ctx.log.debugEnabled, warn: (m) => ctx.log.warn(m) });
    await showLogs(fx, ref, Boolean(opts.follow), process.stdout);
    return 0;
  },
};
