// `ccrun start ID` is runc's: start the user process of a created container.
// A name or id that is no runtime container but a stopped Docker-style one
// (ccrun run IMAGE) runs its command again on its kept root, detached.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'start',
  summary: 'start a created container (runc), or start a stopped image container again by name',
  usage: '<container-id | name>',
  options: [
    { name: 'exited', kind: 'number', value: 'CODE', description: 'internal: the monitor says the detached image container exited', hidden: true },
    { name: 'init-pid', kind: 'number', value: 'PID', description: 'internal: with --exited, the init that exited', hidden: true },
  ],
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
    if (opts.exited !== undefined) {
      const { containerExited } = await import('../../frontend/run');
      await containerExited(await frontend(), id, opts.exited as number, (opts.initPid as number | undefined) ?? 0);
      return 0;
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
    const { startContainer } = await import('../../runtime/start');
    await startContainer(rt, id);
    return 0;
  },
};
