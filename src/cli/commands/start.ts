// `ccrun start ID` is runc's: start the user process of a created container.
// A name or id that is no runtime container but a stopped Docker-style one
// (ccrun run IMAGE) runs its command again on its kept root, detached.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'start',
  summary: 'start a created container (runc), or start a stopped image container again by name',
  usage: '<container-id | name>',
  options: [{ name: 'monitor', kind: 'boolean', description: 'internal: run as the monitor of a detached image container', hidden: true }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const rt = runtimeContext(ctx);
    const frontend = async () => {
      const { frontendContext } = await import('../../frontend/context');
      return frontendContext({
        root: ctx.globals.root,
        store: ctx.globals.store,
        debug: ctx.log.debugEnabled,
        warn: (m) => ctx.log.warn(m),
        debugLog: ctx.log.debugEnabled ? (m) => ctx.log.debug(m) : undefined,
      });
    };
    if (opts.monitor) {
      const { monitorMain } = await import('../../frontend/run');
      return monitorMain(await frontend(), id);
    }
    let runtimeId = false;
    try {
      runtimeId = rt.store.exists(id);
    } catch {
      /* not a valid runtime id: a name */
    }
    if (!runtimeId) {
      const fx = await frontend();
      const { records } = await import('../../frontend/run');
      if (records(fx).find(id)) {
        const { restartContainer } = await import('../../frontend/manage');
        await restartContainer(fx, id);
        process.stdout.write(`${id}\n`);
        return 0;
      }
    }
    const { startContainer } = await import('../../runtime/container');
    await startContainer(rt, id);
    return 0;
  },
};
