// `ccrun rmi IMAGE...`: remove images and whatever content no other image uses.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'rmi',
  summary: 'remove images from the local store (and the blobs and layers no other image uses)',
  usage: 'IMAGE...',
  options: [],
  minArgs: 1,
  run(ctx, _opts, args) {
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const store = new ImageStore(ctx.globals.store);
    let code = 0;
    for (const ref of args) {
      const rec = store.getImage(ref);
      try {
        const r = store.removeImage(ref);
        process.stdout.write(`Untagged: ${rec?.name || `${rec?.repository ?? ''}@${rec?.manifestDigest ?? ''}`}\n`);
        for (const d of r.removedBlobs) process.stdout.write(`Deleted: ${d}\n`);
      } catch (e) {
        // Keep going through the list, like docker rmi; the exit code says something failed.
        ctx.log.error((e as Error).message);
        code = 1;
      }
    }
    return code;
  },
};
