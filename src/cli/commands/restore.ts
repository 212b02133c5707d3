// Two forms: `ccrun restore [options] ID` is runc's (a new runtime container
// from the CRIU images in --image-path and the bundle's config);
// `ccrun restore NAME` brings back an image container that `ccrun
// checkpoint NAME` stopped, and `ccrun restore --import FILE [--name NEW]`
// one that was exported.
import type { CommandContext, CommandSpec } from '../command';
import type { RuntimeContext } from '../../runtime/status';
import type { FrontendContext } from '../../frontend/run';
import { CRIU_OPTIONS, criuFlags } from './checkpoint';

/** A runtime container of that id exists (a name never is one: its characters may not even make an id). */
export function isRuntimeId(rt: RuntimeContext, id: string): boolean {
  try {
    return rt.store.exists(id);
  } catch {
    return false;
  }
}

export async function frontendFor(ctx: CommandContext): Promise<FrontendContext> {
  const { frontendContext } = await import('../../frontend/context');
  return frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: ctx.log.debugEnabled, warn: (m) => ctx.log.warn(m) });
}

export const command: CommandSpec = {
  name: 'restore',
  summary: 'restore a container from a CRIU checkpoint (runc), or an image container by name or from --import',
  usage: '[options] <container-id>   |   restore <name>   |   restore --import FILE.tar.gz [--name NEW]',
  options: [
    ...CRIU_OPTIONS,
    { name: 'bundle', short: 'b', kind: 'string', value: 'DIR', description: 'the bundle whose config.json the container runs with', default: '.' },
    { name: 'detach', short: 'd', kind: 'boolean', description: 'return once restored (default: wait for the container, then delete it)' },
    { name: 'pid-file', kind: 'string', value: 'FILE', description: "write the restored init's host pid to FILE" },
    { name: 'console-socket', kind: 'string', value: 'PATH', description: 'a terminal container\'s socket (refused: terminals are not restored yet)' },
    { name: 'no-pivot', kind: 'boolean', description: 'accepted for runc compatibility (CRIU sets up the root itself)' },
    { name: 'no-subreaper', kind: 'boolean', description: 'accepted for runc compatibility', hidden: true },
    { name: 'import', short: 'i', kind: 'string', value: 'FILE', description: 'image containers: restore from a tarball made by checkpoint --export' },
    { name: 'name', short: 'n', kind: 'string', value: 'NAME', description: 'with --import: the new container\'s name (default: the exported one\'s, if free)' },
  ],
  minArgs: 0,
  maxArgs: 1,
  async run(ctx, opts, [id]) {
    const { runtimeContext } = await import('../runtime-context');
    const { UsageError } = await import('../../runtime/errors');
    const rt = runtimeContext(ctx);
    const criu = criuFlags(opts);
    if (opts.import !== undefined) {
      if (id !== undefined) throw new UsageError('restore --import FILE takes no container name (give the new one with --name)');
      const { importImageContainer } = await import('../../frontend/checkpoint');
      const rec = await importImageContainer(await frontendFor(ctx), opts.import as string, { ...criu, name: opts.name as string | undefined });
      process.stdout.write(`${rec.id}\n`);
      return 0;
    }
    if (id === undefined) throw new UsageError('usage: ccrun restore [options] <container-id> (or --import FILE)');
    if (opts.name !== undefined) throw new UsageError('--name is for restore --import');
    if (!isRuntimeId(rt, id)) {
      const fx = await frontendFor(ctx);
      const { records } = await import('../../frontend/run');
      const rec = records(fx).find(id);
      if (rec) {
        const { restoreImageContainer } = await import('../../frontend/checkpoint');
        await restoreImageContainer(fx, rec, criu);
        process.stdout.write(`${rec.id}\n`);
        return 0;
      }
    }
    const { restoreContainer, waitRestored } = await import('../../runtime/restore');
    const state = await restoreContainer(rt, {
      ...criu,
      id,
      bundle: opts.bundle as string,
      imagePath: (opts.imagePath as string | undefined) ?? 'checkpoint',
      detach: Boolean(opts.detach),
      pidFile: opts.pidFile as string | undefined,
      consoleSocket: opts.consoleSocket as string | undefined,
      noPivot: Boolean(opts.noPivot),
    });
    if (opts.detach) return 0;
    return waitRestored(rt, state);
  },
};
