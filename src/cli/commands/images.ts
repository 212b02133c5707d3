// `ccrun images [--format table|json] [-q]`: list the stored images.
import type { CommandSpec } from '../command';
import { UsageError } from '../../runtime/errors';

export const command: CommandSpec = {
  name: 'images',
  summary: 'list the images in the local store',
  usage: '[options]',
  options: [
    { name: 'format', kind: 'string', value: 'table|json', description: 'output format', default: 'table' },
    { name: 'quiet', short: 'q', kind: 'boolean', description: 'print only image ids' },
    { name: 'no-trunc', kind: 'boolean', description: 'show full image ids' },
  ],
  maxArgs: 0,
  run(ctx, opts) {
    const format = String(opts.format);
    if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, not "${format}"`);
    const { ImageStore } = require('../../image/store') as typeof import('../../image/store');
    const { imageRows, humanAgo } = require('../../image/catalog') as typeof import('../../image/catalog');
    const { formatBytes } = require('../../image/progress') as typeof import('../../image/progress');
    const rows = imageRows(new ImageStore(ctx.globals.store));
    const id = (d: string): string => (opts.noTrunc ? d : d.slice(7, 19));
    if (opts.quiet) {
      process.stdout.write([...new Set(rows.map((r) => id(r.id)))].map((l) => l + '\n').join(''));
      return 0;
    }
    if (format === 'json') {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    const table = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows.map((r) => [r.repository, r.tag, id(r.id), humanAgo(r.created), formatBytes(r.size)])];
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    process.stdout.write(table.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd() + '\n').join(''));
    return 0;
  },
};
