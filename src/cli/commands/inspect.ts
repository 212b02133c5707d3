// `ccrun inspect IMAGE...`: the image's record, config and manifest as JSON (an array, like docker inspect).
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'inspect',
  summary: 'show an image: its config, manifest and layers (JSON)',
  usage: 'IMAGE...',
  options: [],
  minArgs: 1,
  run(ctx, _opts, args) {
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const { inspectImage } = require('../../image/catalog') as typeof import('../../image/catalog');
    const store = new ImageStore(ctx.globals.store);
    const docs = args.map((a) => inspectImage(store, a));
    process.stdout.write(JSON.stringify(docs, null, 4) + '\n');
    return 0;
  },
};
