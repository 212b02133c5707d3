import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'ps',
  summary: 'list the processes running in a container',
  usage: '[--format table|json] <container-id> [-- ps-options...]',
  options: [{ name: 'format', short: 'f', kind: 'string', value: 'table|json', description: 'table: ps output of the container\'s processes; json: their host pids', default: 'table' }],
  stopAfterPositionals: 1,
  minArgs: 1,
  async run(ctx, opts, [id, ...psArgs]) {
    const { runtimeContext } = await import('../runtime-context');
    const { containerPids, containerPsTable } = await import('../../runtime/container-cgroups');
    const { UsageError } = await import('../../runtime/errors');
    const args = psArgs[0] === '--' ? psArgs.slice(1) : psArgs;
    if (opts.format === 'json') {
      if (args.length) throw new UsageError('ps: ps options cannot be used with --format json');
      process.stdout.write(JSON.stringify(containerPids(runtimeContext(ctx), id)) + '\n');
    } else if (opts.format === 'table') {
      process.stdout.write(containerPsTable(runtimeContext(ctx), id, args));
    } else {
      throw new UsageError(`--format: "${String(opts.format)}" is not table or json`);
    }
    return 0;
  },
};
