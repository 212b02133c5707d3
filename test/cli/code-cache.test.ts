// The direct loader's own path arithmetic (cli/code-cache.ts): what it
// resolves is what path.resolve, and so Node, would resolve.
import t from 'tap';
import * as path from 'path';
import { resolveRelative } from '../../src/cli/code-cache';

t.test('resolveRelative is path.resolve for the requests tsc writes and for odd ones', async (t) => {
  const dirs = ['/work/main/dist/cli', '/work/main/dist/cli/commands', '/a', '/a/b', '/'];
  const requests = [
    './main', './main.js', '../runtime/errors', '../../image/registry/client', './config/signals', './x/index.js',
    '../', '..', '.', './', './a//b', './a/./b', './a/../b', '../../../../../../x', './.hidden', './..x', './a.b/c',
    '../a/', './a/.', './a/..',
  ];
  const wrong: string[] = [];
  for (const dir of dirs) {
    for (const request of requests) {
      if (resolveRelative(dir, request) !== path.resolve(dir, request)) wrong.push(`${dir} + ${request}: ${resolveRelative(dir, request)}, not ${path.resolve(dir, request)}`);
    }
  }
  t.same(wrong, [], `${dirs.length * requests.length} pairs`);
});
