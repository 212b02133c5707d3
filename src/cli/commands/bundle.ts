// `ccrun bundle [options] IMAGE DIR`: write an OCI bundle (rootfs +
// config.json converted from the image config) for an image in the store.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'bundle',
  summary: 'write an OCI bundle (rootfs and config.json) for an image in the store',
  usage: '[options] IMAGE DIR [COMMAND [ARG...]]',
  options: [
    { name: 'user', short: 'u', kind: 'string', value: 'USER[:GROUP]', description: "run as this user instead of the image's User (names resolved in the image)" },
    { name: 'workdir', short: 'w', kind: 'string', value: 'DIR', description: "working directory instead of the image's WorkingDir" },
    { name: 'env', short: 'e', kind: 'list', value: 'KEY=VALUE', description: 'set an environment variable (repeatable)' },
    { name: 'entrypoint', kind: 'string', value: 'CMD', description: "replace the image's Entrypoint (and drop its Cmd unless a command follows DIR)" },
  ],
  stopAfterPositionals: 2,
  minArgs: 2,
  async run(ctx, opts, args) {
    const { createBundle } = require('../../image/bundle') as typeof import('../../image/bundle');
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const [image, dir, ...cmd] = args;
    const r = await createBundle(new ImageStore(ctx.globals.store), image, dir, {
      user: opts.user as string | undefined,
      workdir: opts.workdir as string | undefined,
      env: opts.env as string[],
      entrypoint: opts.entrypoint !== undefined ? [String(opts.entrypoint)] : undefined,
      cmd: cmd.length ? cmd : undefined,
    });
    ctx.log.debug(`bundle of ${r.record.name || r.record.manifestDigest} in ${dir}: ${JSON.stringify(r.spec.process?.args)}`);
    process.stdout.write(`${dir}\n`);
    return 0;
  },
};
