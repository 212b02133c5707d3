import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'kill',
  summary: "send a signal (default TERM) to a container's init, or with --all to all its processes",
  usage: '[--all] <container-id|name> [signal]',
  options: [{ name: 'all', short: 'a', kind: 'boolean', description: 'signal every process in the container' }],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, opts, [id, sig]) {
    const { runtimeContext } = await import('../runtime-context');
    const { killContainer, parseKillSignal } = await import('../../runtime/signal');
    const signal = parseKillSignal(sig);
    const rt = runtimeContext(ctx);
    let cid = id;
    if (!rt.store.exists(id)) {
      // Not a runtime id: maybe the name of a `ccrun run --name` container.
      const { resolveContainerRef } = await import('../../frontend/resolve');
      cid = resolveContainerRef(ctx.globals.root, id, ctx.globals.store);
    }
    await killContainer(rt, cid, signal, Boolean(opts.all));
    return 0;
  },
};
