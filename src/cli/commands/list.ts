import type { CommandSpec } from '../command';
import { writeOut } from '../output';

export const command: CommandSpec = {
  name: 'list',
  summary: 'list containers (table, --format json, or -q for ids)',
  usage: '[--format table|json] [-q]',
  options: [
    { name: 'format', short: 'f', kind: 'string', value: 'table|json', description: 'output format', default: 'table' },
    { name: 'quiet', short: 'q', kind: 'boolean', description: 'print only the container ids' },
  ],
  maxArgs: 0,
  async run(ctx, opts) {
    const { runtimeContext } = await import('../runtime-context');
    const { listContainers } = await import('../../runtime/status');
    const { CcrunError } = await import('../../runtime/errors');
    const list = listContainers(runtimeContext(ctx));
    if (opts.quiet) {
      writeOut(list.map((c) => c.id + '\n').join(''));
    } else if (opts.format === 'json') {
      writeOut(JSON.stringify(list) + '\n');
    } else if (opts.format === 'table') {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...list.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      writeOut(rows.map((r) => r.map((v, i) => (i < r.length - 1 ? v.padEnd(widths[i] + 3) : v)).join('')).join('\n') + '\n');
    } else {
      throw new CcrunError(`--format must be table or json, not "${String(opts.format)}"`);
    }
    return 0;
  },
};
