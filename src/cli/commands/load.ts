// `ccrun load -i FILE`: images from a docker-archive or OCI archive (plain,
// gzip or zstd) into the store.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'load',
  summary: 'load images from a docker-archive or OCI archive tarball into the store',
  usage: '[options] -i FILE',
  options: [
    { name: 'input', short: 'i', kind: 'string', value: 'FILE', description: 'archive to read (tar, tar.gz or tar.zst; docker-archive or oci-archive, detected)' },
    { name: 'quiet', short: 'q', kind: 'boolean', description: 'print nothing on success' },
  ],
  maxArgs: 0,
  async run(ctx, opts) {
    const { UsageError } = require('../../runtime/errors') as typeof import('../../runtime/errors');
    const file = opts.input as string | undefined;
    if (!file) throw new UsageError('load needs the archive: ccrun load -i FILE');
    const { loadArchive } = require('../../image/archive/load') as typeof import('../../image/archive/load');
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const { parseReference, familiarRepository } = require('../../image/reference') as typeof import('../../image/reference');
    const r = await loadArchive(new ImageStore(ctx.globals.store), file);
    ctx.log.debug(`${file}: ${r.format}, ${r.images.length} image(s)`);
    if (opts.quiet) return 0;
    for (const img of r.images) {
      if (img.names.length === 0) process.stdout.write(`Loaded image ID: ${img.record.configDigest}\n`);
      for (const n of img.names) {
        const ref = parseReference(n);
        process.stdout.write(`Loaded image: ${familiarRepository(ref)}:${ref.tag ?? 'latest'}\n`);
      }
    }
    return 0;
  },
};
