import t from 'tap';
import { parseArgs } from '../../src/cli/args';
import type { OptionSpec } from '../../src/cli/command';

const specs: OptionSpec[] = [
  { name: 'bundle', short: 'b', kind: 'string', description: '', default: '.' },
  { name: 'pid-file', kind: 'string', description: '' },
  { name: 'detach', short: 'd', kind: 'boolean', description: '' },
  { name: 'tty', short: 't', kind: 'boolean', description: '' },
  { name: 'env', short: 'e', kind: 'list', description: '' },
  { name: 'preserve-fds', kind: 'number', description: '' },
];

t.test('both --flag value and --flag=value', async (t) => {
  const a = parseArgs(['--bundle', '/b', '--pid-file=/p', 'id'], specs);
  t.same(a.opts.bundle, '/b');
  t.same(a.opts.pidFile, '/p');
  t.same(a.args, ['id']);
});

t.test('short flags, clusters and single-dash long flags', async (t) => {
  const a = parseArgs(['-dt', '-b/x', '-pid-file', '/p', 'id'], specs);
  t.equal(a.opts.detach, true);
  t.equal(a.opts.tty, true);
  t.equal(a.opts.bundle, '/x');
  t.equal(a.opts.pidFile, '/p');
});

t.test('lists, numbers and defaults', async (t) => {
  const a = parseArgs(['-e', 'A=1', '--env=B=2', '--preserve-fds', '2', 'x'], specs);
  t.same(a.opts.env, ['A=1', 'B=2']);
  t.equal(a.opts.preserveFds, 2);
  t.equal(parseArgs([], specs).opts.bundle, '.');
});

t.test('stops at the container command line', async (t) => {
  const a = parseArgs(['-t', 'id', 'sh', '-c', 'echo --bundle'], specs, 1);
  t.same(a.args, ['id', 'sh', '-c', 'echo --bundle']);
  t.equal(a.opts.tty, true);
});

t.test('errors name the flag', async (t) => {
  t.throws(() => parseArgs(['--nope'], specs), /unknown option --nope/);
  t.throws(() => parseArgs(['--bundle'], specs), /--bundle needs a value/);
  t.throws(() => parseArgs(['--preserve-fds', 'x'], specs), /whole number/);
});
