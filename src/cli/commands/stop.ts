// `ccrun stop [-t SECONDS] NAME...`: the image's StopSignal, then SIGKILL.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'stop',
  summary: "stop image containers: their StopSignal (default SIGTERM), then SIGKILL after a grace time",
  usage: '[-t SECONDS] NAME|ID...',
  options: [{ name: 'time', short: 't', kind: 'number', value: 'SECONDS', description: 'seconds to wait before SIGKILL', default: 10 }],
  minArgs: 1,
  async run(ctx, opts, refs) {
    const { frontendContext } = await import('../../frontend/context');
    const { stopContainer } = await import('../../frontend/manage');
    const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: ctx.log.debugEnabled, warn: (m) => ctx.log.warn(m) });
    for (const ref of refs) {
      await stopContainer(fx, ref, Math.max(0, opts.time as number));
      process.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};
