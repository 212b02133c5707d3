import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'delete',
  summary: 'delete a stopped (or, with --force, any) container and everything it holds',
  usage: '[--force] <container-id>...',
  options: [{ name: 'force', short: 'f', kind: 'boolean', description: 'kill a created or running container first; no error if it does not exist' }],
  minArgs: 1,
  async run(ctx, opts, ids) {
    const { runtimeContext } = await import('../runtime-context');
    const { deleteContainer } = await import('../../runtime/delete');
    const rt = runtimeContext(ctx);
    let code = 0;
    for (const id of ids) {
      try {
        await deleteContainer(rt, id, Boolean(opts.force));
      } catch (e) {
        if (ids.length === 1) throw e;
        ctx.log.error((e as Error).message);
        code = 1;
      }
    }
    return code;
  },
};
