// `ccrun spec`: write a starting config.json, as `runc spec` does.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'spec',
  summary: 'create a new config.json (runc spec) in the bundle directory',
  usage: '[--rootless] [--bundle DIR]',
  options: [
    { name: 'bundle', short: 'b', kind: 'string', value: 'DIR', description: 'bundle directory to write config.json into', default: '.' },
    { name: 'rootless', kind: 'boolean', description: 'make a config for running as an unprivileged user (user namespace, no network namespace, no cgroup limits)' },
  ],
  maxArgs: 0,
  run(ctx, opts) {
    const { defaultSpec, writeSpecFile } = require('../../runtime/config/default-spec') as typeof import('../../runtime/config/default-spec');
    const file = writeSpecFile(String(opts.bundle), defaultSpec({ rootless: Boolean(opts.rootless) }));
    ctx.log.debug(`wrote ${file}`);
    return 0;
  },
};
