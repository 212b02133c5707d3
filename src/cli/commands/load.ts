// `ccrun load -i FILE`: images from a docker-archive or OCI archive (plain,
// gzip or zstd) into the store.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'load',
  summary: 'load images from a docker-archive or OCI archive tarball into the store',
  usage: '[options] [-i FILE]',
  options: [
    { name: 'input', short: 'i', kind: 'string', value: 'FILE', description: 'archive to read (tar, tar.gz or tar.zst; docker-archive or oci-archive, detected); default: standard input' },
    { name: 'quiet', short: 'q', kind: 'boolean', description: 'print nothing on success' },
  ],
  maxArgs: 0,
  async run(ctx, opts) {
    const { UsageError } = require('../../runtime/errors') as typeof import('../../runtime/errors');
    const file = opts.input as string | undefined;
    const fromStdin = file === undefined || file === '-';
    if (fromStdin && process.stdin.isTTY) throw new UsageError('load needs an archive: ccrun load -i FILE, or pipe one into standard input');
    const { loadArchive, loadArchiveStream } = require('../../image/archive/load') as typeof import('../../image/archive/load');
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const { parseReference, familiarRepository } = require('../../image/reference') as typeof import('../../image/reference');
    const store = new ImageStore(ctx.globals.store);
    const r = fromStdin ? await loadArchiveStream(store, process.stdin) : await loadArchive(store, file);
    ctx.log.debug(`${file ?? 'stdin'}: ${r.format}, ${r.images.length} image(s)`);
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
