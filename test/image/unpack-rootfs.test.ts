// Flattening cached layers into a rootfs (buildRootfs), and hardlinks into
// lower layers (copy-up at unpack time).
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImageStore } from '../../src/image/store';
import { buildRootfs, imageLayerUnpacker, unpackLayer } from '../../src/image/unpack';
import { lgetxattr } from '../../src/image/unpack/fs-ops';
import { describeTree, sha256, storeLayer, tarArchive, type EntrySpec } from '../helpers/tar-builder';
import type { Teardown } from '../helpers/tar-builder';

const CAP = Buffer.from('0000000200040000000000000000000000000000', 'hex');

async function setup(t: Teardown, layers: EntrySpec[][]): Promise<{ store: ImageStore; diffIds: string[]; rootfs: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-rootfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'store'));
  const diffIds: string[] = [];
  for (const entries of layers) {
    const layer = await storeLayer(store, tarArchive(entries), 'gzip');
    await unpackLayer(store, layer, { lowerDiffIds: [...diffIds] });
    diffIds.push(layer.diffId);
  }
  const rootfs = join(dir, 'bundle', 'rootfs');
  await buildRootfs(store, diffIds, rootfs);
  return { store, diffIds, rootfs };
}

t.test('whiteouts, opaque directories and replacements across layers', async (t) => {
  const { rootfs } = await setup(t, [
    [
      { path: 'etc/', type: 'dir' },
      { path: 'etc/motd', content: 'lower motd' },
      { path: 'etc/keep', content: 'kept' },
      { path: 'var/', type: 'dir' },
      { path: 'var/cache/', type: 'dir' },
      { path: 'var/cache/old1', content: 'o1' },
      { path: 'var/cache/sub/', type: 'dir' },
      { path: 'var/cache/sub/old2', content: 'o2' },
      { path: 'swap', content: 'a file below' },
      { path: 'was-dir/', type: 'dir' },
      { path: 'was-dir/child', content: 'c' },
      { path: 'lib', type: 'symlink', linkname: '/' },
      { path: 'gone-dir/', type: 'dir' },
      { path: 'gone-dir/f', content: 'f' },
    ],
    [
      { path: 'etc/.wh.motd', content: '' },
      { path: 'var/cache/new', content: 'n' },
      { path: 'var/cache/.wh..wh..opq', content: '' },
      { path: 'swap/', type: 'dir', mode: 0o700 },
      { path: 'swap/inside', content: 'i' },
      { path: 'was-dir', content: 'a file now' },
      { path: 'lib/', type: 'dir' },
      { path: 'lib/libc.so', content: 'libc' },
      { path: '.wh.gone-dir', content: '' },
    ],
    [
      { path: 'swap', content: 'a file again' },
      { path: 'etc/motd', content: 'top motd' },
    ],
  ]);
  const tree = describeTree(rootfs);
  t.match(tree.get('etc/motd'), { type: 'file', sha: sha256('top motd') }, 'recreated above its whiteout');
  t.ok(tree.has('etc/keep'));
  t.same(
    [...tree.keys()].filter((k) => k.startsWith('var/cache/')),
    ['var/cache/new'],
    'opaque hides lower children, keeps its own',
  );
  t.match(tree.get('swap'), { type: 'file', sha: sha256('a file again') }, 'file -> dir -> file');
  t.notOk(tree.has('swap/inside'));
  t.match(tree.get('was-dir'), { type: 'file', sha: sha256('a file now') }, 'dir -> file');
  t.match(tree.get('lib'), { type: 'dir' }, 'a directory replaces a lower symlink');
  t.ok(tree.has('lib/libc.so'));
  t.notOk(tree.has('gone-dir'), 'whiteout of a directory removes it all');
  for (const [p, n] of tree) t.notOk(n.type === 'char' && n.rdev?.[0] === 0 && n.rdev[1] === 0, `no whiteout device left: ${p}`);
  t.equal(lgetxattr(join(rootfs, 'var/cache'), 'trusted.overlay.opaque'), null, 'no overlay xattrs in a plain rootfs');
});

t.test('a directory turned into a file, with whiteouts for its old children (as umoci repack writes it): unpacked as umoci and podman do', async (t) => {
  const lower: EntrySpec[] = [
    { path: 'data/', type: 'dir' },
    { path: 'data/dir2file/', type: 'dir' },
    { path: 'data/dir2file/inner.txt', content: 'inner' },
    { path: 'data/dir2file/sub/', type: 'dir' },
    { path: 'data/dir2file/sub/deep', content: 'deep' },
    { path: 'data/keep', content: 'keep' },
  ];
  const orders: [string, EntrySpec[]][] = [
    ['the file first, then the whiteouts below it', [
      { path: 'data/dir2file', content: 'now a file' },
      { path: 'data/dir2file/.wh.inner.txt', content: '' },
      { path: 'data/dir2file/sub/.wh.deep', content: '' },
      { path: 'data/dir2file/.wh.sub', content: '' },
    ]],
    ['the whiteouts first, then the file', [
      { path: 'data/dir2file/.wh.inner.txt', content: '' },
      { path: 'data/dir2file/sub/.wh.deep', content: '' },
      { path: 'data/dir2file', content: 'now a file' },
    ]],
  ];
  for (const [order, upper] of orders) {
    const { store, diffIds, rootfs } = await setup(t, [lower, upper]);
    const layer = describeTree(store.layerPath(diffIds[1]));
    t.match(layer.get('data/dir2file'), { type: 'file', sha: sha256('now a file') }, `${order}: the layer holds the file`);
    t.same([...layer.keys()].filter((k) => k.startsWith('data/dir2file/')), [], `${order}: and nothing below it (the file hides the old directory already)`);
    const tree = describeTree(rootfs);
    t.match(tree.get('data/dir2file'), { type: 'file', sha: sha256('now a file') }, `${order}: the rootfs has the file`);
    t.same([...tree.keys()].filter((k) => k.startsWith('data/')).sort(), ['data/dir2file', 'data/keep'], `${order}: the old children are gone, the rest stays`);
  }
  // Still refused: a real entry (not a whiteout) below a file of the same layer.
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-rootfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s2 = new ImageStore(join(dir, 'store'));
  const bad = await storeLayer(s2, tarArchive([{ path: 'f', content: 'file' }, { path: 'f/child', content: 'c' }]));
  await t.rejects(unpackLayer(s2, bad), /layer entry "f\/child".*its parent "f" is not a directory/, 'a file below a file is still an error');
});

t.test('attributes carry over; the rootfs is independent of the cache', async (t) => {
  const { store, diffIds, rootfs } = await setup(t, [
    [
      { path: 'bin/', type: 'dir' },
      { path: 'bin/ping', content: 'ping', mode: 0o4755, xattrs: { 'security.capability': CAP } },
      { path: 'bin/ping6', type: 'link', linkname: 'bin/ping' },
      { path: 'home/', type: 'dir' },
      { path: 'home/u/', type: 'dir', uid: 1000, gid: 1000, mode: 0o2750, mtime: 1_600_000_000 },
      { path: 'home/u/f', content: 'f', uid: 1000, gid: 1000, mode: 0o640, mtime: 1_600_000_001 },
      { path: 'dev/', type: 'dir' },
      { path: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { path: 'fifo', type: 'fifo', mode: 0o600 },
      { path: 'link', type: 'symlink', linkname: '/bin/ping' },
      { path: 'tmp/', type: 'dir', mode: 0o1777 },
    ],
  ]);
  const tree = describeTree(rootfs);
  t.match(tree.get('bin/ping'), { type: 'file', mode: 0o4755, sha: sha256('ping') });
  t.same(lgetxattr(join(rootfs, 'bin/ping'), 'security.capability'), CAP);
  t.equal(tree.get('bin/ping6')!.ino, tree.get('bin/ping')!.ino, 'a hardlink within a layer stays a hardlink');
  t.match(tree.get('home/u'), { uid: 1000, gid: 1000, mode: 0o2750, mtime: 1_600_000_000 });
  t.match(tree.get('home/u/f'), { uid: 1000, gid: 1000, mode: 0o640, mtime: 1_600_000_001 });
  t.match(tree.get('dev/null'), { type: 'char', rdev: [1, 3], mode: 0o666 });
  t.match(tree.get('fifo'), { type: 'fifo', mode: 0o600 });
  t.match(tree.get('link'), { type: 'symlink', link: '/bin/ping' });
  t.match(tree.get('tmp'), { mode: 0o1777 });
  const cached = join(store.layerPath(diffIds[0]), 'home/u/f');
  t.not(statSync(cached).ino, tree.get('home/u/f')!.ino, 'copied, not linked to the cache');
  appendFileSync(join(rootfs, 'home/u/f'), ' changed by a container');
  t.equal(readFileSync(cached, 'utf8'), 'f', 'writing the rootfs leaves the cache alone');
});

t.test('a hardlink to a file of a lower layer is copied up', async (t) => {
  const { store, diffIds, rootfs } = await setup(t, [
    [
      { path: 'usr/', type: 'dir', mode: 0o755 },
      { path: 'usr/bin/', type: 'dir', mode: 0o751, uid: 3 },
      { path: 'usr/bin/perl', content: 'perl interpreter', mode: 0o755, uid: 2, xattrs: { 'user.tag': 'lower' } },
      { path: 'opt/', type: 'dir' },
      { path: 'opt/hidden', content: 'behind an opaque dir' },
    ],
    [
      { path: 'usr/bin/perl5', type: 'link', linkname: 'usr/bin/perl' },
    ],
  ]);
  const upper = describeTree(store.layerPath(diffIds[1]));
  t.match(upper.get('usr/bin/perl'), { type: 'file', sha: sha256('perl interpreter'), uid: 2, nlink: 2 }, 'target copied up');
  t.equal(upper.get('usr/bin/perl5')!.ino, upper.get('usr/bin/perl')!.ino);
  t.match(upper.get('usr/bin'), { mode: 0o751, uid: 3 }, 'copied-up parent keeps the lower attributes');
  t.equal(lgetxattr(join(store.layerPath(diffIds[1]), 'usr/bin/perl'), 'user.tag')?.toString(), 'lower');
  const tree = describeTree(rootfs);
  t.equal(tree.get('usr/bin/perl5')!.ino, tree.get('usr/bin/perl')!.ino);
  t.match(tree.get('usr/bin/perl5'), { sha: sha256('perl interpreter') });

  // Hidden targets are not found: whiteout or opaque directory in between.
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-rootfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s2 = new ImageStore(join(dir, 'store'));
  const l1 = await storeLayer(s2, tarArchive([{ path: 'a', content: 'a' }, { path: 'd/', type: 'dir' }, { path: 'd/x', content: 'x' }]));
  const l2 = await storeLayer(s2, tarArchive([{ path: '.wh.a', content: '' }, { path: 'd/.wh..wh..opq', content: '' }]));
  await unpackLayer(s2, l1);
  await unpackLayer(s2, l2, { lowerDiffIds: [l1.diffId] });
  const l3 = await storeLayer(s2, tarArchive([{ path: 'b', type: 'link', linkname: 'a' }]));
  await t.rejects(unpackLayer(s2, l3, { lowerDiffIds: [l1.diffId, l2.diffId] }), /layer entry "b": hardlink target "a" is not in this layer or the layers below it/);
  const l4 = await storeLayer(s2, tarArchive([{ path: 'y', type: 'link', linkname: 'd/x' }]));
  await t.rejects(unpackLayer(s2, l4, { lowerDiffIds: [l1.diffId, l2.diffId] }), /hardlink target "d\/x" is not/);
  await t.rejects(unpackLayer(s2, l4), /no lower layers were given/);
});

t.test('buildRootfs refuses a non-empty target and missing layers', async (t) => {
  const { store, diffIds, rootfs } = await setup(t, [[{ path: 'f', content: 'f' }]]);
  await t.rejects(buildRootfs(store, diffIds, rootfs), /is not empty/);
  await t.rejects(buildRootfs(store, [sha256('nope')], join(rootfs, '..', 'other')), /is not unpacked/);
});

t.test('imageLayerUnpacker: layers in any order, a hardlink layer waits for the layers below', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-rootfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'store'));
  const layers = [
    await storeLayer(store, tarArchive([{ path: 'a', content: 'version 1' }])),
    await storeLayer(store, tarArchive([{ path: 'a', content: 'version 2' }])),
    await storeLayer(store, tarArchive([{ path: 'b', type: 'link', linkname: 'a' }])),
  ];
  // One unpack at a time: a waiting layer must not hold the only slot.
  let running = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = running.then(fn);
    running = next.then(() => undefined, () => undefined);
    return next;
  };
  const unpack = imageLayerUnpacker(store, layers, { schedule: oneAtATime });
  // Top layer first, as if its blob arrived first; the others a little later.
  const top = unpack(2);
  await new Promise((r) => setTimeout(r, 20));
  await Promise.all([top, unpack(1), unpack(0)]);
  const upper = describeTree(store.layerPath(layers[2].diffId));
  t.match(upper.get('a'), { sha: sha256('version 2') }, 'copied up from the top-most lower layer, not an older one');
  t.equal(upper.get('b')!.ino, upper.get('a')!.ino);

  // A failing lower layer fails the layer waiting on it too.
  const s2 = new ImageStore(join(dir, 's2'));
  const good = await storeLayer(s2, tarArchive([{ path: 'a', content: 'x' }]));
  const bad = { ...good, diffId: sha256('wrong') };
  const linker = await storeLayer(s2, tarArchive([{ path: 'b', type: 'link', linkname: 'a' }]));
  const u2 = imageLayerUnpacker(s2, [bad, linker]);
  const results = await Promise.allSettled([u2(1), u2(0)]);
  t.same(results.map((r) => r.status), ['rejected', 'rejected']);
});
