// removeDirectory: a whole tree goes, a symlink in it is removed but never
// followed, and a path that is absent or a file is handled.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { removeDirectory } from '../../src/runtime/remove-dir';

t.test('removes nested trees without following symlinks', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-rmdir-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'x');
  const tree = path.join(base, 'tree');
  fs.mkdirSync(path.join(tree, 'a', 'b', 'c'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'a', 'b', 'c', 'f'), 'x');
  fs.symlinkSync(outside, path.join(tree, 'a', 'link-to-dir'));
  fs.symlinkSync('/nonexistent', path.join(tree, 'dangling'));
  fs.mkdirSync(path.join(tree, 'work', 'work'), { recursive: true });
  fs.chmodSync(path.join(tree, 'work', 'work'), 0o000); // as overlayfs leaves it
  removeDirectory(tree);
  t.notOk(fs.existsSync(tree), 'the tree is gone');
  t.ok(fs.existsSync(path.join(outside, 'keep')), 'what a symlink pointed at is untouched');
  removeDirectory(tree);
  t.pass('an absent path is fine');
  const file = path.join(base, 'file');
  fs.writeFileSync(file, 'x');
  removeDirectory(file);
  t.notOk(fs.existsSync(file), 'a file is removed too');
});
