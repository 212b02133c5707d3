// Reading a bundle's config.json: the errors a user sees for a bad bundle.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadBundleConfig } from '../../src/runtime/config/load';
import { defaultSpec } from '../../src/runtime/config/default-spec';
import { ConfigError, NotFoundError } from '../../src/runtime/errors';

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-load-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a valid bundle gives the spec, the real bundle path and the config path', async (t) => {
  const dir = tempDir(t);
  const real = path.join(dir, 'real');
  fs.mkdirSync(real);
  fs.symlinkSync(real, path.join(dir, 'link'));
  fs.writeFileSync(path.join(real, 'config.json'), JSON.stringify(defaultSpec()));
  const got = loadBundleConfig(path.join(dir, 'link'));
  t.equal(got.bundle, fs.realpathSync(real));
  t.equal(got.configPath, path.join(fs.realpathSync(real), 'config.json'));
  t.same(got.spec.process?.args, ['sh']);
});

t.test('a relative bundle path is resolved', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(defaultSpec()));
  const cwd = process.cwd();
  process.chdir(path.dirname(dir));
  t.teardown(() => process.chdir(cwd));
  t.equal(loadBundleConfig(path.basename(dir)).bundle, fs.realpathSync(dir));
});

t.test('a missing bundle', async (t) => {
  const dir = path.join(tempDir(t), 'nope');
  t.throws(() => loadBundleConfig(dir), new NotFoundError(`bundle "${dir}" does not exist`));
});

t.test('a bundle that is a file', async (t) => {
  const file = path.join(tempDir(t), 'file');
  fs.writeFileSync(file, '');
  t.throws(() => loadBundleConfig(file), new ConfigError(`bundle "${file}" is not a directory`));
});

t.test('a bundle without config.json', async (t) => {
  const dir = tempDir(t);
  const err = (() => {
    try {
      loadBundleConfig(dir);
    } catch (e) {
      return e;
    }
  })();
  t.type(err, NotFoundError);
  t.equal((err as Error).message, `bundle "${dir}" has no config.json (create one with "ccrun spec")`);
});

t.test('invalid JSON', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"ociVersion": "1.2.0",}');
  t.throws(() => loadBundleConfig(dir), { name: 'ConfigError', message: /^config\.json: invalid JSON: / });
});

t.test('a config that does not validate', async (t) => {
  const dir = tempDir(t);
  const spec = defaultSpec() as unknown as { process: { cwd: string } };
  spec.process.cwd = 'relative';
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  t.throws(() => loadBundleConfig(dir), new ConfigError('config.json: /process/cwd must be an absolute path'));
});
