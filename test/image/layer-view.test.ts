// Reading one directory of an image from its cached layers (layer-view.ts):
// the copy must equal that directory of the flattened rootfs (whiteouts,
// opaque directories, modes, owners, symlinks), and paths resolve inside
// the image, however their symlinks climb.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImageStore } from '../../src/image/store';
import { buildRootfs, unpackLayer } from '../../src/image/unpack';
import { copyMergedDirectory, resolveInLayers } from '../../src/image/unpack/layer-view';
import { ROOTLESS_LAYERS } from '../../src/image/unpack/layer-format';
import { LayerWriter } from '../../src/image/unpack/layer-writer';
import { TarReader } from '../../src/image/unpack/tar-reader';
import { mergeLayerDirs } from '../../src/image/unpack/rootfs';
import { lgetxattr } from '../../src/image/unpack/fs-ops';
import { describeTree, storeLayer, tarArchive, type EntrySpec, type Teardown } from '../helpers/tar-builder';

const LAYERS: EntrySpec[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
    { path: 'srv/', type: 'dir' },
    { path: 'srv/data/', type: 'dir', mode: 0o750, uid: 1000, gid: 1001 },
    { path: 'srv/data/a.txt', content: 'a\n', mode: 0o640, uid: 1000, gid: 1001 },
    { path: 'srv/data/gone', content: 'whited out above' },
    { path: 'srv/data/opq/', type: 'dir' },
    { path: 'srv/data/opq/old', content: 'hidden by the opaque dir above' },
    { path: 'srv/data/sub/', type: 'dir', mode: 0o700 },
    { path: 'srv/data/sub/deep', content: 'deep' },
    { path: 'srv/hidden/', type: 'dir' },
    { path: 'srv/hidden/f', content: 'below an opaque srv/hidden' },
    { path: 'was-file', content: 'a file below a directory' },
  ],
  [
    { path: 'srv/data/.wh.gone', content: '' },
    { path: 'srv/data/opq/', type: 'dir' },
    { path: 'srv/data/opq/.wh..wh..opq', content: '' },
    { path: 'srv/data/opq/new', content: 'new' },
    { path: 'srv/data/b.txt', content: 'b\n', mode: 0o600 },
    { path: 'srv/data/link', type: 'symlink', linkname: 'a.txt' },
    { path: 'srv/hidden/', type: 'dir' },
    { path: 'srv/hidden/.wh..wh..opq', content: '' },
    { path: 'srv/hidden/g', content: 'above' },
    { path: 'was-file/', type: 'dir', mode: 0o711 },
    { path: 'was-file/in', content: 'in' },
    { path: 'data', type: 'symlink', linkname: 'srv/data' },
    { path: 'abs', type: 'symlink', linkname: '/srv/../srv/./data' },
    { path: 'climb', type: 'symlink', linkname: '../../../../../etc' },
    { path: 'hostish', type: 'symlink', linkname: '/var/lib/dpkg' },
    { path: 'loop', type: 'symlink', linkname: 'loop' },
    { path: 'back', type: 'symlink', linkname: 'nothere/../../etc' },
    { path: 'file-link', type: 'symlink', linkname: 'etc/passwd' },
  ],
];

async function setup(t: Teardown): Promise<{ topFirst: string[]; rootfs: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-layer-view-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'store'));
  const diffIds: string[] = [];
  for (const entries of LAYERS) {
    const layer = await storeLayer(store, tarArchive(entries), 'gzip');
    await unpackLayer(store, layer, { lowerDiffIds: [...diffIds] });
    diffIds.push(layer.diffId);
  }
  const rootfs = join(dir, 'rootfs');
  await buildRootfs(store, diffIds, rootfs);
  return { topFirst: diffIds.map((d) => store.layerPath(d)).reverse(), rootfs, dir };
}

t.test('a directory copied from the layers equals that directory of the flattened rootfs', async (t) => {
  const { topFirst, rootfs, dir } = await setup(t);
  for (const rel of ['srv/data', 'srv/hidden', 'was-file', 'etc']) {
    const target = join(dir, 'copy', rel.replace(/\//g, '_'));
    copyMergedDirectory(topFirst, rel, target);
    const root = (p: string): unknown => {
      const tree = describeTree(p);
      return [...tree.entries()].map(([k, v]) => [k, v.type, v.mode, v.uid, v.gid, v.sha, v.link]);
    };
    t.same(root(target), root(join(rootfs, rel)), `${rel}: same entries, types, modes, owners, contents, links`);
  }
  const copy = describeTree(join(dir, 'copy'));
  t.match(copy.get('srv_data'), { mode: 0o750, uid: 1000, gid: 1001 }, "the copy takes the directory's own mode and owner");
  t.notOk(copy.has('srv_data/gone'), 'a whiteout hides the lower file');
  t.same([...copy.keys()].filter((k) => k.startsWith('srv_data/opq/')), ['srv_data/opq/new'], 'an opaque directory hides the lower children');
  t.same([...copy.keys()].filter((k) => k.startsWith('srv_hidden/')), ['srv_hidden/g'], 'opaque at the copied directory itself');
});

t.test('paths resolve inside the image: symlinks followed, ".." stops at its root', async (t) => {
  const { topFirst } = await setup(t);
  t.same(resolveInLayers(topFirst, '/data'), { rel: 'srv/data', kind: 'directory' }, 'relative link');
  t.same(resolveInLayers(topFirst, '/abs/'), { rel: 'srv/data', kind: 'directory' }, 'absolute link with . and ..');
  t.same(resolveInLayers(topFirst, '/climb'), { rel: 'etc', kind: 'directory' }, "climbing out stops at the image's root");
  t.same(resolveInLayers(topFirst, '/hostish'), { rel: 'var/lib/dpkg', kind: 'missing' }, 'a path only the host has is missing in the image');
  t.same(resolveInLayers(topFirst, '/back'), { rel: 'etc', kind: 'directory' }, 'through a missing name and back with ".."');
  t.same(resolveInLayers(topFirst, '/file-link'), { rel: 'etc/passwd', kind: 'not-a-directory' });
  t.same(resolveInLayers(topFirst, '/srv/data/gone'), { rel: 'srv/data/gone', kind: 'missing' }, 'a whited-out name is missing');
  t.same(resolveInLayers(topFirst, '/srv/hidden/f'), { rel: 'srv/hidden/f', kind: 'missing' }, 'hidden by an opaque directory');
  t.same(resolveInLayers(topFirst, '/'), { rel: '', kind: 'directory' });
  t.throws(() => resolveInLayers(topFirst, '/loop'), /more than 40 symlinks/);
});

t.test("a rootless store's layers are read by their own opaque marker (user.overlay.opaque)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-layer-view-rootless-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Written as a rootless store writes them (as root here, so owners are root's rather than the tar's).
  const bottomFirst: string[] = [];
  for (const [i, entries] of LAYERS.entries()) {
    const layer = join(dir, `layer${i}`);
    mkdirSync(layer);
    const writer = new LayerWriter(layer, [...bottomFirst].reverse(), true, ROOTLESS_LAYERS);
    const reader = new TarReader(writer);
    reader.feed(tarArchive(entries));
    reader.end();
    writer.finish();
    bottomFirst.push(layer);
  }
  const topFirst = [...bottomFirst].reverse();
  t.equal(lgetxattr(join(topFirst[0], 'srv/data/opq'), 'user.overlay.opaque')?.toString(), 'y');
  t.equal(lgetxattr(join(topFirst[0], 'srv/data/opq'), 'trusted.overlay.opaque'), null);
  const rootfs = join(dir, 'rootfs');
  mergeLayerDirs(bottomFirst, rootfs, ROOTLESS_LAYERS);
  const tree = (p: string): unknown => [...describeTree(p).entries()].map(([k, v]) => [k, v.type, v.mode, v.sha, v.link]);
  for (const rel of ['srv/data', 'srv/hidden']) {
    const target = join(dir, 'copy', rel.replace(/\//g, '_'));
    copyMergedDirectory(topFirst, rel, target, ROOTLESS_LAYERS);
    t.same(tree(target), tree(join(rootfs, rel)), `${rel}: the copy equals the flattened rootfs`);
  }
  const copy = describeTree(join(dir, 'copy'));
  t.same([...copy.keys()].filter((k) => k.startsWith('srv_data/opq/')), ['srv_data/opq/new'], 'an opaque directory hides the lower children');
  t.same([...copy.keys()].filter((k) => k.startsWith('srv_hidden/')), ['srv_hidden/g']);
  t.notOk(copy.has('srv_data/gone'), 'a whiteout hides the lower file');
  t.same(resolveInLayers(topFirst, '/srv/hidden/f', ROOTLESS_LAYERS), { rel: 'srv/hidden/f', kind: 'missing' }, 'hidden by an opaque directory');
  t.same(resolveInLayers(topFirst, '/srv/hidden/f'), { rel: 'srv/hidden/f', kind: 'not-a-directory' }, 'read as root layers, the marker means nothing');
});
