// Two forms: `ccrun ps [-a] [--format table|json]` without an id lists the
// Docker-style containers (ccrun run IMAGE); `ccrun ps [--format ...] ID
// [-- ps-options]` is runc's: the processes of one container.
import type { CommandSpec } from '../command';
// Not process.stdout: it loads node:stream (~20 built-in modules) when stdout is a file or /dev/null.
import { writeOut } from '../output';

export const command: CommandSpec = {
  name: 'ps',
  summary: 'list image containers (no id), or the processes running in one container (runc: ps ID)',
  usage: '[-a] [--format table|json]   |   ps [--format table|json] <container-id> [-- ps-options...]',
  options: [
    { name: 'format', short: 'f', kind: 'string', value: 'table|json', description: 'with an id: ps output of the container\'s processes, or their host pids as json; without: a table, or one JSON object per container', default: 'table' },
    { name: 'all', short: 'a', kind: 'boolean', description: 'without an id: list stopped containers too' },
  ],
  stopAfterPositionals: 1,
  minArgs: 0,
  async run(ctx, opts, [id, ...psArgs]) {
    const { UsageError } = await import('../../runtime/errors');
    if (opts.format !== 'json' && opts.format !== 'table') throw new UsageError(`--format: "${String(opts.format)}" is not table or json`);
    if (id === undefined) {
      const { frontendContext } = await import('../../frontend/context');
      const { containerRows, formatRows } = await import('../../frontend/manage');
      const fx = frontendContext({ root: ctx.globals.root, store: ctx.globals.store, debug: false, warn: (m) => ctx.log.warn(m) });
      const rows = await containerRows(fx, Boolean(opts.all));
      if (opts.format === 'json') {
        writeOut(rows.map((r) => JSON.stringify({ ID: r.id, Names: r.name, Image: r.image, Command: r.command, CreatedAt: r.created, State: r.state, Status: r.status, Ports: r.ports, ...(r.exitCode !== undefined ? { ExitCode: r.exitCode } : {}) }) + '\n').join(''));
      } else {
        writeOut(formatRows(rows));
      }
      return 0;
    }
    if (opts.all) throw new UsageError('ps: -a lists image containers and takes no container id');
    const { runtimeContext } = await import('../runtime-context');
    const { containerPids, containerPsTable } = await import('../../runtime/container-cgroups');
    const { resolveContainerRef } = await import('../../frontend/resolve');
    const cid = resolveContainerRef(ctx.globals.root, id, ctx.globals.store);
    const args = psArgs[0] === '--' ? psArgs.slice(1) : psArgs;
    if (opts.format === 'json') {
      if (args.length) throw new UsageError('ps: ps options cannot be used with --format json');
      writeOut(JSON.stringify(containerPids(runtimeContext(ctx), cid)) + '\n');
    } else {
      writeOut(containerPsTable(runtimeContext(ctx), cid, args));
    }
    return 0;
  },
};
