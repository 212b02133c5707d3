// `ccrun pull [--platform P] [-q] IMAGE`: fetch an image into the store.
import type { CommandSpec } from '../command';
import { writeOut } from '../output';

export const command: CommandSpec = {
  name: 'pull',
  summary: 'pull an image from a registry into the local store',
  usage: '[options] IMAGE',
  options: [
    { name: 'platform', kind: 'string', value: 'OS/ARCH[/VARIANT]', description: 'platform to pull from a multi-platform image (default: this host)' },
    { name: 'quiet', short: 'q', kind: 'boolean', description: 'print only the image digest' },
    { name: 'insecure-registry', kind: 'list', value: 'HOST[:PORT]', description: 'allow plain http to this registry (also CCRUN_INSECURE_REGISTRIES)' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, opts, args) {
    const { pullImage } = require('../../image/pull') as typeof import('../../image/pull');
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const progress = require('../../image/progress') as typeof import('../../image/progress');
    const quiet = Boolean(opts.quiet);
    const sink = quiet ? progress.silentProgress : process.stdout.isTTY ? new progress.TerminalProgress() : new progress.PlainProgress();
    const r = await pullImage(args[0], {
      store: new ImageStore(ctx.globals.store),
      platform: opts.platform as string | undefined,
      insecureRegistries: opts.insecureRegistry as string[],
      progress: sink,
      debug: ctx.log.debugEnabled ? (m) => ctx.log.debug(m) : undefined,
      warn: (m) => ctx.log.warn(m),
    });
    writeOut(quiet ? `${r.digest}\n` : `${r.reference}\n`);
    return 0;
  },
};
