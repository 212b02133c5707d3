// `ccrun features`: print the runtime-spec features document (JSON).
import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  name: 'features',
  summary: 'show the implemented features (runtime-spec features document, JSON)',
  usage: '',
  options: [],
  maxArgs: 0,
  run() {
    const { featuresDocument } = require('../../runtime/features') as typeof import('../../runtime/features');
    const { VERSION } = require('../main') as typeof import('../main');
    process.stdout.write(JSON.stringify(featuresDocument(VERSION), null, 2) + '\n');
    return 0;
  },
};
