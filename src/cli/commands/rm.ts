// `ccrun rm [-f] NAME...`: remove image containers (root, logs, record).
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'rm',
  summary: 'remove image containers with their writable layer and logs',
  usage: '[-f] NAME|ID...',
  options: [{ name: 'force', short: 'f', kind: 'boolean', description: 'kill a running container first' }],
  minArgs: 1,
  async run(ctx, opts, refs) {
    const { frontendContext } = await import('../../frontend/context');
    const { removeContainer } = await import('../../frontend/manage');
    const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: ctx.log.debugEnabled, warn: (m) => ctx.log.warn(m) });
    for (const ref of refs) {
      await removeContainer(fx, ref, Boolean(opts.force));
      process.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};
