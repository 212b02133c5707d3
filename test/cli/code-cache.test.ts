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

t.test("the mapping addon's stamp is fs.statSync's size and mtimeMs, for regular files only", async (t) => {
  const addon = require(path.join(REPO, 'build', 'Release', 'ccrun_mapfile.node')) as { stamp(file: string): [number, number] | undefined };
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile()) files.push(path.join(d, e.name));
    }
  };
  walk(path.join(REPO, 'dist'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-stamp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // mtimes with nanoseconds that are not whole microseconds, and a symlink (followed, as statSync does).
  for (let i = 0; i < 50; i++) {
    const f = path.join(dir, `f${i}`);
    fs.writeFileSync(f, 'x'.repeat(i));
    fs.utimesSync(f, 1_700_000_000.123456789 + i * 0.000000321, 1_700_000_000.987654321 + i * 0.000000789);
    files.push(f);
  }
  fs.symlinkSync(files[0], path.join(dir, 'link'));
  files.push(path.join(dir, 'link'));
  const wrong = files.filter((f) => {
    const st = fs.statSync(f);
    const s = addon.stamp(f);
    return !s || s[0] !== st.size || s[1] !== st.mtimeMs;
  });
  t.same(wrong, [], `${files.length} files, the same to the last bit`);
  for (const what of [path.join(dir, 'missing'), dir, '/dev/null']) t.equal(addon.stamp(what), undefined, `${what}: undefined`);
});
