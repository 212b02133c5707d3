// An unpack killed half-way leaves no layer in the cache, its scratch is
// cleaned by the next user of the store, and unpacking again succeeds.
import t from 'tap';
import { execFileSync, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { ImageStore } from '../../src/image/store';
import { unpackLayer } from '../../src/image/unpack';

const ROOT = resolve(__dirname, '..', '..');
const built = existsSync(join(ROOT, 'dist/image/unpack/index.js'));

const CHILD = `
const { ImageStore } = require(${JSON.stringify(join(ROOT, 'dist/image/store.js'))});
const { unpackLayer } = require(${JSON.stringify(join(ROOT, 'dist/image/unpack/index.js'))});
const [root, digest, diffId, mediaType] = process.argv.slice(1);
unpackLayer(new ImageStore(root), { digest, diffId, mediaType });
`;

t.test('killed mid-unpack: nothing cached, scratch cleaned, retry works', { skip: built ? false : 'dist/ not built (run npx tsc first)' }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ccrun-interrupt-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  // Many files, so the unpack takes a while and is caught in the middle.
  const tree = join(base, 'tree');
  mkdirSync(tree);
  execFileSync('sh', ['-c', 'for d in $(seq 1 40); do mkdir $d; for f in $(seq 1 100); do echo $d-$f > $d/$f; done; done; head -c 64M /dev/zero > big'], { cwd: tree });
  execFileSync('tar', ['-C', tree, '-cf', join(base, 'layer.tar'), '.']);
  const diffId = 'sha256:' + execFileSync('sha256sum', [join(base, 'layer.tar')], { encoding: 'utf8' }).split(' ')[0];
  execFileSync('gzip', ['-1', join(base, 'layer.tar')]);
  const storeRoot = join(base, 'store');
  const store = new ImageStore(storeRoot);
  const { createReadStream } = await import('fs');
  const digest = await store.putBlob(createReadStream(join(base, 'layer.tar.gz')));
  const mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';

  const child = spawn(process.execPath, ['-e', CHILD, storeRoot, digest, diffId, mediaType], { stdio: 'ignore' });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // Wait until its scratch directory has content, then kill it hard.
  const scratch = store.tmpDir();
  for (let i = 0; i < 500; i++) {
    const names = readdirSync(scratch).filter((n) => n.startsWith('layer-'));
    if (names.length && readdirSync(join(scratch, names[0])).length > 5) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.notOk(store.hasLayer(diffId), 'no layer in the cache');
  t.ok(readdirSync(scratch).some((n) => n.startsWith(`layer-${child.pid}-`)), 'the killed unpack left its scratch behind');

  // The next process to use the store removes scratch of dead processes.
  const next = new ImageStore(storeRoot);
  next.tmpName('probe');
  t.same(readdirSync(scratch).filter((n) => n.startsWith('layer-')), [], 'scratch of the dead unpack removed');
  const dir = await unpackLayer(next, { digest, diffId, mediaType });
  t.equal(readdirSync(dir).length, 41, 'unpacking again succeeds');
});
