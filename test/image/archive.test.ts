// ccrun save / load: docker-archive and OCI archive round trips between two
// stores, archives made by skopeo, compressed archives, and bad archives.
import t from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { gzipSync } from 'zlib';
import { ImageStore, type ImageRecord } from '../../src/image/store';
import { loadArchive } from '../../src/image/archive/load';
import { saveImages } from '../../src/image/archive/save';
import { DigestMismatchError } from '../../src/image/errors';
import { ensureLayersUnpacked } from '../../src/image/bundle';
import { describeTree, sha256, storeImage, tarArchive, type EntrySpec, type TreeNode } from '../helpers/tar-builder';
import type { Teardown } from '../helpers/tar-builder';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const built = existsSync(join(ROOT, 'dist/cli/commands/load.js'));
const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;

function scratch(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-archive-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const CAP = Buffer.from('0000000200040000000000000000000000000000', 'hex');
const layers: EntrySpec[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'bin/', type: 'dir' },
    { path: 'bin/tool', content: 'tool', mode: 0o4755, xattrs: { 'security.capability': CAP } },
    { path: 'bin/tool2', type: 'link', linkname: 'bin/tool' },
    { path: 'old', content: 'goes away' },
    { path: 'dev/', type: 'dir' },
    { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
  ],
  [
    { path: '.wh.old', content: '' },
    { path: 'etc/.wh..wh..opq', content: '' },
    { path: 'etc/hostname', content: 'box\n', uid: 7, gid: 8 },
  ],
];

/** What must survive a round trip of a tree: everything but inode numbers and atimes. */
function comparable(tree: Map<string, TreeNode>): Record<string, Omit<TreeNode, 'ino'>> {
  const out: Record<string, Omit<TreeNode, 'ino'>> = {};
  for (const [p, { ino: _ino, ...rest }] of tree) out[p] = rest;
  return out;
}

async function layerTrees(store: ImageStore, rec: ImageRecord) {
  await ensureLayersUnpacked(store, rec);
  return rec.layers.map((l) => comparable(describeTree(store.layerPath(l.diffId))));
}

function withoutTime(rec: ImageRecord): Omit<ImageRecord, 'created'> {
  const { created: _c, ...rest } = rec;
  return rest;
}

t.test('OCI archive round trip: identical records and trees', async (t) => {
  const dir = scratch(t);
  const a = new ImageStore(join(dir, 'a'));
  await storeImage(a, 'docker.io/library/app:v1', layers, { Cmd: ['sh'] });
  await storeImage(a, 'quay.io/org/other:latest', [[{ path: 'x', content: 'other' }]], { Cmd: ['x'] }, 'zstd');
  const file = join(dir, 'images.tar');
  await saveImages(a, ['app:v1', 'quay.io/org/other'], file, { format: 'oci-archive' });
  t.same(readdirSync(dir).sort(), ['a', 'images.tar'], 'no temporary file left beside the archive');
  const b = new ImageStore(join(dir, 'b'));
  const r = await loadArchive(b, file);
  t.equal(r.format, 'oci-archive');
  t.same(r.images.map((i) => i.names), [['docker.io/library/app:v1'], ['quay.io/org/other:latest']]);
  for (const name of ['docker.io/library/app:v1', 'quay.io/org/other:latest']) {
    const ra = a.getImage(name)!;
    const rb = b.getImage(name)!;
    t.same(withoutTime(rb), withoutTime(ra), `${name}: same record`);
    t.same(await layerTrees(b, rb), await layerTrees(a, ra), `${name}: same unpacked layers`);
  }
});

t.test('docker-archive round trip: same config, diff ids, names and trees', async (t) => {
  const dir = scratch(t);
  const a = new ImageStore(join(dir, 'a'));
  await storeImage(a, 'docker.io/library/app:v1', layers, { Cmd: ['sh'] });
  const file = join(dir, 'app.tar');
  await saveImages(a, ['app:v1'], file);
  // What docker load needs: manifest.json naming the config and uncompressed layer tars.
  const listing = execFileSync('tar', ['tf', file], { encoding: 'utf8' }).trim().split('\n').sort();
  const ra = a.getImage('app:v1')!;
  t.same(listing, [...ra.layers.map((l) => `${l.diffId.slice(7)}.tar`), `${ra.configDigest.slice(7)}.json`, 'manifest.json', 'repositories'].sort());
  const manifest = JSON.parse(execFileSync('tar', ['xOf', file, 'manifest.json'], { encoding: 'utf8' }));
  t.same(manifest, [{ Config: `${ra.configDigest.slice(7)}.json`, RepoTags: ['app:v1'], Layers: ra.layers.map((l) => `${l.diffId.slice(7)}.tar`) }]);
  const b = new ImageStore(join(dir, 'b'));
  const r = await loadArchive(b, file);
  t.equal(r.format, 'docker-archive');
  const rb = b.getImage('app:v1')!;
  t.equal(rb.configDigest, ra.configDigest);
  t.same(rb.layers.map((l) => l.diffId), ra.layers.map((l) => l.diffId));
  t.same(rb.layers.map((l) => l.digest), ra.layers.map((l) => l.diffId), 'uncompressed layers: blob digest = diff id');
  t.same(await layerTrees(b, rb), await layerTrees(a, ra));
  t.ok(b.hasBlob(rb.manifestDigest), 'a manifest was made for the record');
});

t.test('compressed archives load; bad archives leave no image', async (t) => {
  const dir = scratch(t);
  const a = new ImageStore(join(dir, 'a'));
  await storeImage(a, 'docker.io/library/app:v1', layers, { Cmd: ['sh'] });
  const file = join(dir, 'app.tar');
  await saveImages(a, ['app:v1'], file, { format: 'oci-archive' });
  writeFileSync(join(dir, 'app.tar.gz'), gzipSync(readFileSync(file)));
  const g = new ImageStore(join(dir, 'g'));
  await loadArchive(g, join(dir, 'app.tar.gz'));
  t.ok(g.getImage('app:v1'), 'gzip-compressed archive');

  // A docker-archive whose layer is not what the config's diff_ids say.
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('not this layer')] } }));
  const bad = tarArchive([
    { path: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:1'], Layers: ['l.tar'] }]) },
    { path: 'c.json', content: config },
    { path: 'l.tar', content: tarArchive([{ path: 'f', content: 'x' }]) },
  ]);
  writeFileSync(join(dir, 'bad.tar'), bad);
  const s = new ImageStore(join(dir, 's'));
  await t.rejects(loadArchive(s, join(dir, 'bad.tar')), DigestMismatchError);
  t.same(s.listImages(), [], 'no image recorded');

  // An OCI archive with a tampered blob.
  const extracted = join(dir, 'x');
  execFileSync('mkdir', ['-p', extracted]);
  execFileSync('tar', ['xf', file, '-C', extracted]);
  const rec = a.getImage('app:v1')!;
  writeFileSync(join(extracted, 'blobs/sha256', rec.configDigest.slice(7)), '{"tampered":true}');
  execFileSync('tar', ['cf', join(dir, 'tampered.tar'), '-C', extracted, '.']);
  await t.rejects(loadArchive(s, join(dir, 'tampered.tar')), new RegExp(`blob ${rec.configDigest}`));
  t.same(s.listImages(), []);

  writeFileSync(join(dir, 'neither.tar'), tarArchive([{ path: 'hello', content: 'x' }]));
  await t.rejects(loadArchive(s, join(dir, 'neither.tar')), /neither a docker-archive .* nor an OCI archive/);
  writeFileSync(join(dir, 'junk.tar'), 'this is no tar file at all'.repeat(40));
  await t.rejects(loadArchive(s, join(dir, 'junk.tar')), /junk.tar: .*(checksum|truncated)/);
  await t.rejects(loadArchive(s, join(dir, 'missing.tar')), /missing.tar does not exist/);
  await t.rejects(saveImages(s, ['nothing-here'], join(dir, 'out.tar')), /image "nothing-here" is not in the store/);
  t.notOk(existsSync(join(dir, 'out.tar')));
  t.same(readdirSync(s.tmpDir()), [], 'scratch cleaned');
});

t.test('legacy docker save layout: <id>/layer.tar, symlinked duplicates, gzip layers', async (t) => {
  const dir = scratch(t);
  const layer = tarArchive([{ path: 'hello', content: 'legacy' }]);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['x'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
  const archive = tarArchive([
    { path: 'aaa/', type: 'dir' },
    { path: 'aaa/VERSION', content: '1.0' },
    { path: 'aaa/layer.tar', content: layer },
    { path: 'bbb/', type: 'dir' },
    { path: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
    { path: 'ccc/layer.tar', content: gzipSync(layer) },
    { path: 'cfg.json', content: config },
    {
      path: 'manifest.json',
      content: JSON.stringify([
        { Config: 'cfg.json', RepoTags: ['legacy:one'], Layers: ['aaa/layer.tar'] },
        { Config: 'cfg.json', RepoTags: ['legacy:two', 'example.com/legacy:three'], Layers: ['bbb/layer.tar'] },
        { Config: 'cfg.json', RepoTags: null, Layers: ['ccc/layer.tar'] },
      ]),
    },
  ]);
  writeFileSync(join(dir, 'legacy.tar'), archive);
  const s = new ImageStore(join(dir, 's'));
  const r = await loadArchive(s, join(dir, 'legacy.tar'));
  t.same(r.images.map((i) => i.names), [['docker.io/library/legacy:one'], ['docker.io/library/legacy:two', 'example.com/legacy:three'], []]);
  for (const name of ['legacy:one', 'legacy:two', 'example.com/legacy:three']) {
    const rec = s.getImage(name)!;
    t.equal(readFileSync(join(s.layerPath(rec.layers[0].diffId), 'hello'), 'utf8'), 'legacy', name);
  }
  const unnamed = r.images[2].record;
  t.equal(unnamed.name, '');
  t.equal(unnamed.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip', 'a gzip layer is recorded as gzip');
  t.ok(s.getImage(unnamed.configDigest.slice(7, 19)), 'an unnamed image is found by its id');
});

t.test('archives made by skopeo load', { skip: hasSkopeo ? false : 'skopeo is not installed (apt-get install skopeo)' }, async (t) => {
  const dir = scratch(t);
  const a = new ImageStore(join(dir, 'a'));
  await storeImage(a, 'docker.io/library/app:v1', layers, { Cmd: ['sh'] });
  const ours = join(dir, 'ours.tar');
  await saveImages(a, ['app:v1'], ours, { format: 'oci-archive' });
  const ra = a.getImage('app:v1')!;
  // skopeo reads our OCI archive and writes a docker-archive and an OCI archive of its own.
  const skopeo = (...args: string[]) => execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  skopeo('copy', `oci-archive:${ours}`, `docker-archive:${join(dir, 'docker.tar')}:skopeo/app:v2`);
  skopeo('copy', `oci-archive:${ours}`, `oci-archive:${join(dir, 'oci.tar')}:skopeo/app:v3`);
  const b = new ImageStore(join(dir, 'b'));
  const fromDocker = await loadArchive(b, join(dir, 'docker.tar'));
  t.same(fromDocker.images[0].names, ['docker.io/skopeo/app:v2']);
  const fromOci = await loadArchive(b, join(dir, 'oci.tar'));
  t.same(fromOci.images[0].names, ['docker.io/skopeo/app:v3'], 'name from skopeo’s ref.name');
  // And skopeo reads our docker-archive (the format docker load takes).
  await saveImages(a, ['app:v1'], join(dir, 'ours-docker.tar'));
  skopeo('copy', `docker-archive:${join(dir, 'ours-docker.tar')}`, `oci:${join(dir, 'layout')}:back`);
  const layoutIndex = JSON.parse(readFileSync(join(dir, 'layout', 'index.json'), 'utf8'));
  const back = JSON.parse(readFileSync(join(dir, 'layout', 'blobs', 'sha256', layoutIndex.manifests[0].digest.slice(7)), 'utf8'));
  t.equal(back.config.digest, ra.configDigest, 'skopeo reads our docker-archive: same config');
  for (const name of ['skopeo/app:v2', 'skopeo/app:v3']) {
    const rb = b.getImage(name)!;
    t.equal(rb.configDigest, ra.configDigest, `${name}: same config`);
    t.same(await layerTrees(b, rb), await layerTrees(a, ra), `${name}: same trees`);
  }
});

t.test('busybox image from scripts/make-busybox-image.sh loads and bundles', {
  skip: !built ? 'dist/ not built (run npx tsc first)' : existsSync('/bin/busybox') ? false : 'busybox-static is not installed (apt-get install busybox-static)',
}, async (t) => {
  const dir = scratch(t);
  const archive = join(dir, 'busybox.tar');
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [archive], { stdio: ['ignore', 'pipe', 'pipe'] });
  const store = join(dir, 'store');
  const out = execFileSync(CCRUN, ['--store', store, 'load', '-i', archive], { encoding: 'utf8' });
  t.equal(out, 'Loaded image: busybox:latest\n');
  execFileSync(CCRUN, ['--store', store, 'bundle', 'busybox', join(dir, 'b')]);
  const tree = describeTree(join(dir, 'b', 'rootfs'));
  t.match(tree.get('bin/busybox'), { type: 'file', mode: 0o755, uid: 0 });
  t.match(tree.get('bin/sh'), { type: 'symlink', link: '/bin/busybox' });
  t.match(tree.get('tmp'), { mode: 0o1777 });
  const config = JSON.parse(readFileSync(join(dir, 'b', 'config.json'), 'utf8'));
  t.same(config.process.args, ['sh']);
  t.ok(config.process.env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
  // The script is reproducible: a second run gives the same manifest.
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [join(dir, 'again.tar')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(sha256(readFileSync(join(dir, 'again.tar'))), sha256(readFileSync(archive)), 'byte-identical archive');
});

t.test('ccrun save and load on the command line', { skip: built ? false : 'dist/ not built (run npx tsc first)' }, async (t) => {
  const dir = scratch(t);
  const a = join(dir, 'a');
  await storeImage(new ImageStore(a), 'docker.io/library/app:v1', layers, { Cmd: ['sh'] });
  execFileSync(CCRUN, ['--store', a, 'save', '-o', join(dir, 'oci.tar'), '--format', 'oci-archive', 'app:v1']);
  // To standard output when it is not a terminal.
  const viaStdout = execFileSync(CCRUN, ['--store', a, 'save', 'app:v1'], { maxBuffer: 1 << 28 });
  writeFileSync(join(dir, 'docker.tar'), viaStdout);
  const b = join(dir, 'b');
  t.equal(execFileSync(CCRUN, ['--store', b, 'load', '-i', join(dir, 'oci.tar')], { encoding: 'utf8' }), 'Loaded image: app:v1\n');
  t.equal(execFileSync(CCRUN, ['--store', b, 'load', '--input', join(dir, 'docker.tar')], { encoding: 'utf8' }), 'Loaded image: app:v1\n');
  const viaStdin = spawnSync(CCRUN, ['--store', join(dir, 'c'), 'load'], { input: readFileSync(join(dir, 'oci.tar')), encoding: 'utf8' });
  t.equal(viaStdin.stdout, 'Loaded image: app:v1\n', 'from standard input');
  const noInput = spawnSync(CCRUN, ['--store', b, 'load'], { input: '', encoding: 'utf8' });
  t.equal(noInput.status, 1);
  t.match(noInput.stderr, /no archive on standard input/);
  const badFormat = spawnSync(CCRUN, ['--store', a, 'save', '--format', 'zip', '-o', join(dir, 'z'), 'app'], { encoding: 'utf8' });
  t.match(badFormat.stderr, /--format must be docker-archive or oci-archive/);
  t.notOk(existsSync(join(dir, 'z')));
});
