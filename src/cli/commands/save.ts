// `ccrun save [-o FILE] [--format F] IMAGE...`: images from the store as a
// docker-archive (default) or OCI archive tarball.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'save',
  summary: 'write images from the store to a docker-archive or OCI archive tarball',
  usage: '[options] IMAGE [IMAGE...]',
  options: [
    { name: 'output', short: 'o', kind: 'string', value: 'FILE', description: 'write to FILE (atomically) instead of standard output' },
    { name: 'format', kind: 'string', value: 'docker-archive|oci-archive', description: 'archive format', default: 'docker-archive' },
  ],
  minArgs: 1,
  async run(ctx, opts, args) {
    const { UsageError } = require('../../runtime/errors') as typeof import('../../runtime/errors');
    const format = String(opts.format);
    if (format !== 'docker-archive' && format !== 'oci-archive') {
      throw new UsageError(`--format must be docker-archive or oci-archive, not "${format}"`);
    }
    const file = opts.output as string | undefined;
    if (!file && process.stdout.isTTY) throw new UsageError('refusing to write an archive to a terminal: use -o FILE or redirect the output');
    const { saveImages } = require('../../image/archive/save') as typeof import('../../image/archive/save');
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    await saveImages(new ImageStore(ctx.globals.store), args, file, { format }, file ? undefined : process.stdout);
    ctx.log.debug(`saved ${args.join(' ')} as ${format}${file ? ` to ${file}` : ''}`);
    return 0;
  },
};
