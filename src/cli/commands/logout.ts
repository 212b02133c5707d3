// `ccrun logout [REGISTRY]`: forget the credentials stored for a registry.
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'logout',
  summary: 'remove the credentials stored for a registry (Docker config.json)',
  usage: '[REGISTRY]',
  options: [],
  maxArgs: 1,
  run(_ctx, _opts, args) {
    const { registryDomain, removeCredentials } = require('../../image/registry/credentials') as typeof import('../../image/registry/credentials');
    const domain = registryDomain(args[0]);
    if (removeCredentials(domain)) process.stdout.write(`Removing login credentials for ${domain}\n`);
    else process.stdout.write(`Not logged in to ${domain}\n`);
    return 0;
  },
};
