// The direct loader's own path arithmetic (cli/code-cache.ts): what it
// resolves is what path.resolve, and so Node, would resolve; and the mapping
// of big bundles (native/mapfile): what is mapped is the file's text, and a
// file the build replaces leaves a mapping of the old one as it was.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveRelative, writeReplacing } from '../../src/cli/code-cache';

const REPO = path.resolve(__dirname, '..', '..');

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

t.test('the mapping addon gives a file as a Latin-1 string or a Buffer, and the build replaces files without changing what is mapped', async (t) => {
  const addon = require(path.join(REPO, 'build', 'Release', 'ccrun_mapfile.node')) as { map(file: string, asString: boolean): string | Buffer | undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-map-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.bundle.js');
  const before = `[${'function (a) { return a; },\n'.repeat(3000)}]\n`;
  fs.writeFileSync(file, before);
  const text = addon.map(file, true);
  t.equal(typeof text, 'string');
  t.ok(text === before, 'the mapped string is the file');
  const bytes = addon.map(file, false);
  t.ok(Buffer.isBuffer(bytes) && bytes.equals(Buffer.from(before)), 'the mapped Buffer is the file');
  // What the build does to a bundle a running ccrun may have mapped.
  const after = before.replace(/a; \}/g, 'b; }');
  writeReplacing(file, after);
  t.equal(fs.readFileSync(file, 'utf8'), after, 'the file has the new text');
  t.ok(text === before, 'the string mapped before still has the old one');
  t.equal(fs.readdirSync(dir).length, 1, 'no temporary file is left');
  fs.writeFileSync(path.join(dir, 'empty'), '');
  for (const what of ['missing', 'empty', '.']) t.equal(addon.map(path.join(dir, what), true), undefined, `${what}: undefined, so the loader reads it instead`);
});
