// Layer unpacking into the cache (overlay lower-dir format): every entry
// type and attribute, compressions, whiteouts, digest checks, replacement,
// and concurrency. Hostile layers are in unpack-hostile.test.ts, flattening
// in unpack-rootfs.test.ts.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImageStore } from '../../src/image/store';
import { unpackLayer } from '../../src/image/unpack';
import { lgetxattr, llistxattr } from '../../src/image/unpack/fs-ops';
import { DigestMismatchError } from '../../src/image/errors';
import {
  describeTree,
  DEFAULT_MTIME,
  gzip,
  gzipMultiMember,
  paxGlobal,
  sha256,
  storeLayer,
  tarArchive,
  type EntrySpec,
} from '../helpers/tar-builder';
import type { Teardown } from '../helpers/tar-builder';

function newStore(t: Teardown): ImageStore {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-unpack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new ImageStore(join(dir, 'store'));
}

// A capability set for cap_net_bind_service=ep (VFS_CAP_REVISION_2).
const CAP = Buffer.from('0000000200040000000000000000000000000000', 'hex');
const LONG_DIR = 'deep/' + 'd'.repeat(120) + '/' + 'e'.repeat(60);
const LONG_NAME = LONG_DIR + '/' + 'f'.repeat(150);

const everything: EntrySpec[] = [
  { path: './', type: 'dir', mode: 0o755, mtime: DEFAULT_MTIME - 100 },
  { path: 'bin/', type: 'dir', mode: 0o755 },
  { path: 'bin/tool', content: 'tool binary\n', mode: 0o4755, uid: 0, gid: 0, xattrs: { 'security.capability': CAP } },
  { path: 'bin/sgid', content: 'x', mode: 0o2711, uid: 0, gid: 42 },
  { path: 'bin/hard', type: 'link', linkname: 'bin/tool' },
  { path: 'home/', type: 'dir', mode: 0o755 },
  { path: 'home/user/', type: 'dir', mode: 0o2770, uid: 1000, gid: 1001, mtime: 1_600_000_000 },
  { path: 'home/user/notes', content: 'hello\n', mode: 0o600, uid: 1000, gid: 1001, mtime: 1_600_000_123.25, xattrs: { 'user.comment': 'kept' } },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
  { path: 'big-ids', content: 'ids', uid: 3_000_000, gid: 4_000_000 },
  { path: 'etc/', type: 'dir' },
  { path: 'etc/abs', type: 'symlink', linkname: '/usr/lib/os-release', mtime: 1_500_000_000 },
  { path: 'etc/rel', type: 'symlink', linkname: '../bin/tool' },
  { path: 'etc/dangling', type: 'symlink', linkname: 'nowhere/at/all' },
  { path: 'dev/', type: 'dir' },
  { path: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
  { path: 'dev/loop0', type: 'block', mode: 0o660, gid: 6, devmajor: 7, devminor: 0 },
  { path: 'dev/bigminor', type: 'char', mode: 0o600, devmajor: 4, devminor: 300 },
  { path: 'run/', type: 'dir' },
  { path: 'run/fifo', type: 'fifo', mode: 0o620 },
  { path: LONG_NAME, content: 'pax long name', mode: 0o640 },
  { path: 'gnu/' + 'g'.repeat(130), content: 'gnu long name', longNames: 'gnu' },
  { path: 'gnu/longlink', type: 'symlink', linkname: 'target/' + 't'.repeat(140), longNames: 'gnu' },
  { path: 'pax-longlink', type: 'symlink', linkname: 'target/' + 'p'.repeat(140) },
  { path: 'empty', content: '' },
  { path: 'block-sized', content: Buffer.alloc(512 * 3, 7) },
];

t.test('every entry type and attribute survives unpacking', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([paxGlobal({ comment: 'made by the test' }), ...everything]);
  const layer = await storeLayer(store, tar, 'gzip');
  const dir = await unpackLayer(store, layer);
  t.equal(dir, store.layerPath(layer.diffId));
  const tree = describeTree(dir);
  const n = (p: string) => {
    const node = tree.get(p);
    if (!node) throw new Error(`${p} missing from the unpacked tree`);
    return node;
  };
  t.match(n('bin/tool'), { type: 'file', mode: 0o4755, uid: 0, gid: 0, sha: sha256('tool binary\n'), nlink: 2 });
  t.same(lgetxattr(join(dir, 'bin/tool'), 'security.capability'), CAP, 'security.capability from SCHILY.xattr');
  t.equal(n('bin/hard').ino, n('bin/tool').ino, 'hardlink shares the inode');
  t.match(n('bin/sgid'), { mode: 0o2711, gid: 42 });
  t.match(n('home/user'), { type: 'dir', mode: 0o2770, uid: 1000, gid: 1001, mtime: 1_600_000_000 });
  t.match(n('home/user/notes'), { mode: 0o600, uid: 1000, gid: 1001, sha: sha256('hello\n') });
  t.equal(n('home/user/notes').mtime, 1_600_000_123.25, 'fractional PAX mtime');
  t.equal(lgetxattr(join(dir, 'home/user/notes'), 'user.comment')?.toString(), 'kept');
  t.match(n('tmp'), { type: 'dir', mode: 0o1777 });
  t.match(n('big-ids'), { uid: 3_000_000, gid: 4_000_000 }, 'base-256 ids');
  t.match(n('etc/abs'), { type: 'symlink', link: '/usr/lib/os-release', mtime: 1_500_000_000 });
  t.match(n('etc/rel'), { type: 'symlink', link: '../bin/tool' });
  t.match(n('etc/dangling'), { type: 'symlink', link: 'nowhere/at/all' });
  t.match(n('dev/null'), { type: 'char', mode: 0o666, rdev: [1, 3] });
  t.match(n('dev/loop0'), { type: 'block', mode: 0o660, gid: 6, rdev: [7, 0] });
  t.match(n('dev/bigminor'), { type: 'char', rdev: [4, 300] });
  t.match(n('run/fifo'), { type: 'fifo', mode: 0o620 });
  t.match(n(LONG_NAME), { type: 'file', mode: 0o640, sha: sha256('pax long name') });
  t.match(n('gnu/' + 'g'.repeat(130)), { sha: sha256('gnu long name') });
  t.match(n('gnu/longlink'), { link: 'target/' + 't'.repeat(140) });
  t.match(n('pax-longlink'), { link: 'target/' + 'p'.repeat(140) });
  t.match(n('empty'), { type: 'file', size: 0 });
  t.match(n('block-sized'), { size: 1536, sha: sha256(Buffer.alloc(1536, 7)) });
  t.equal(n('etc').mtime, DEFAULT_MTIME, 'directory mtime set after its children were made');
  t.notOk(tree.has('pax_global_header') || tree.has('PaxHeaders'), 'meta headers never become files');
  t.same(readdirSync(store.tmpDir()), [], 'no scratch left behind');
});

t.test('compressions: tar, gzip, multi-member gzip, zstd, sniffed, Docker media type', async (t) => {
  const tar = tarArchive([{ path: 'hello', content: 'world\n'.repeat(1000) }]);
  const cases: [string, Buffer, string][] = [
    ['plain tar', tar, 'application/vnd.oci.image.layer.v1.tar'],
    ['gzip', gzip(tar), 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['multi-member gzip', gzipMultiMember(tar), 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['docker gzip', gzip(tar), 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ['gzip labelled plain tar', gzip(tar), 'application/vnd.oci.image.layer.v1.tar'],
  ];
  const { zstd } = await import('../helpers/tar-builder');
  cases.push(['zstd', zstd(tar), 'application/vnd.oci.image.layer.v1.tar+zstd']);
  cases.push(['zstd labelled plain tar', zstd(tar), 'application/vnd.docker.image.rootfs.diff.tar']);
  for (const [name, blob, mediaType] of cases) {
    const store = newStore(t);
    const digest = await store.putBlobBytes(blob);
    const dir = await unpackLayer(store, { digest, mediaType, diffId: sha256(tar) });
    t.equal(readFileSync(join(dir, 'hello'), 'utf8'), 'world\n'.repeat(1000), name);
  }
});

t.test('whiteouts become 0:0 devices, opaque markers an xattr, wherever they come', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([
    { path: 'etc/', type: 'dir' },
    { path: 'etc/.wh.motd', content: '' },
    { path: 'var/', type: 'dir', mode: 0o750 },
    { path: 'var/keep', content: 'mine' },
    { path: 'var/.wh..wh..opq', content: '' }, // after a child of the same directory
    { path: 'opq-only/.wh..wh..opq', content: '' }, // directory never listed itself
    { path: '.wh.rootfile', content: '' },
    { path: 'x/.wh..wh.plnk', type: 'dir' }, // aufs bookkeeping: dropped
  ]);
  const layer = await storeLayer(store, tar, 'gzip');
  const dir = await unpackLayer(store, layer);
  const tree = describeTree(dir);
  t.match(tree.get('etc/motd'), { type: 'char', rdev: [0, 0] });
  t.match(tree.get('rootfile'), { type: 'char', rdev: [0, 0] });
  t.equal(lgetxattr(join(dir, 'var'), 'trusted.overlay.opaque')?.toString(), 'y');
  t.equal(lgetxattr(join(dir, 'opq-only'), 'trusted.overlay.opaque')?.toString(), 'y');
  t.equal(lgetxattr(join(dir, 'etc'), 'trusted.overlay.opaque'), null, 'only marked directories are opaque');
  t.match(tree.get('var'), { mode: 0o750 });
  t.ok(tree.has('var/keep'), 'the layer’s own children stay beside the opaque marker');
  for (const p of tree.keys()) t.notOk(p.split('/').pop()!.startsWith('.wh.'), `no whiteout file: ${p}`);
});

t.test('trusted.overlay xattrs from the tar are ignored', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([{ path: 'd/', type: 'dir', xattrs: { 'trusted.overlay.opaque': 'y', 'user.ok': '1' } }]);
  const dir = await unpackLayer(store, await storeLayer(store, tar, 'none'));
  t.same(llistxattr(join(dir, 'd')).sort(), ['user.ok']);
});

t.test('replacement inside one layer: file -> dir -> file, dir over dir keeps children', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([
    { path: 'a', content: 'file first' },
    { path: 'a/', type: 'dir' },
    { path: 'a/child', content: 'c' },
    { path: 'a', content: 'file again' },
    { path: 'd/', type: 'dir', mode: 0o700 },
    { path: 'd/kept', content: 'k' },
    { path: 'd/', type: 'dir', mode: 0o711, uid: 5 },
    { path: 's', type: 'symlink', linkname: 'x' },
    { path: 's', content: 'not a link now' },
  ]);
  const dir = await unpackLayer(store, await storeLayer(store, tar, 'gzip'));
  const tree = describeTree(dir);
  t.match(tree.get('a'), { type: 'file', sha: sha256('file again') });
  t.notOk(tree.has('a/child'));
  t.match(tree.get('d'), { type: 'dir', mode: 0o711, uid: 5 });
  t.ok(tree.has('d/kept'));
  t.match(tree.get('s'), { type: 'file', sha: sha256('not a link now') });
});

t.test('a diff id mismatch is refused and leaves nothing', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([{ path: 'f', content: 'x' }]);
  const layer = await storeLayer(store, tar, 'gzip');
  const wrong = sha256('something else');
  await t.rejects(unpackLayer(store, { ...layer, diffId: wrong }), DigestMismatchError);
  await t.rejects(unpackLayer(store, { ...layer, diffId: wrong }), new RegExp(`layer ${layer.digest}.*${wrong}`));
  t.notOk(store.hasLayer(wrong));
  t.same(readdirSync(store.tmpDir()), []);
});

t.test('corrupt and truncated layers fail clearly and leave nothing', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([{ path: 'f', content: Buffer.alloc(5000, 1) }]);
  const gz = gzip(tar);
  const cases: [string, Buffer, string, RegExp][] = [
    ['truncated gzip', gz.subarray(0, gz.length - 30), 'application/vnd.oci.image.layer.v1.tar+gzip', /unexpected end|not valid gzip/],
    ['garbage as gzip', Buffer.from('definitely not gzip'), 'application/vnd.oci.image.layer.v1.tar+gzip', /not valid gzip/],
    ['truncated tar', tar.subarray(0, 2048), 'application/vnd.oci.image.layer.v1.tar', /truncated.*"f"/],
    ['not a tar', Buffer.alloc(2048, 0x41), 'application/vnd.oci.image.layer.v1.tar', /bad checksum/],
    ['garbage as zstd', Buffer.from('not zstd at all'), 'application/vnd.oci.image.layer.v1.tar+zstd', /zstd/],
  ];
  for (const [name, blob, mediaType, re] of cases) {
    const digest = await store.putBlobBytes(blob);
    await t.rejects(unpackLayer(store, { digest, mediaType, diffId: sha256(tar) }), re, name);
    t.notOk(store.hasLayer(sha256(tar)), `${name}: not cached`);
  }
  t.same(readdirSync(store.tmpDir()), [], 'no scratch left');
});

t.test('cached layers are reused; concurrent unpacks of one layer agree', async (t) => {
  const store = newStore(t);
  const entries: EntrySpec[] = [];
  for (let i = 0; i < 200; i++) entries.push({ path: `f${i}`, content: `file ${i}` });
  const layer = await storeLayer(store, tarArchive(entries), 'gzip');
  const dirs = await Promise.all([1, 2, 3, 4].map(() => unpackLayer(store, layer)));
  t.same(new Set(dirs).size, 1);
  t.equal(readdirSync(dirs[0]).length, 200);
  t.same(readdirSync(store.tmpDir()), [], 'losers of the rename race cleaned up');
  // Once cached, the blob is not even read.
  rmSync(store.blobPath(layer.digest));
  t.equal(await unpackLayer(store, layer), dirs[0]);
  t.ok(existsSync(join(dirs[0], 'f199')));
});

t.test('an unsupported entry type names the entry', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([{ path: 'sparse-file', typeflag: 'S', content: '' }]);
  await t.rejects(unpackLayer(store, await storeLayer(store, tar, 'none')), /"sparse-file".*unsupported type 'S'/);
});

t.test('PAX global headers apply to later entries; local records win', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([
    { path: 'before', content: 'b' },
    paxGlobal({ uid: '4000', gid: '4001' }),
    { path: 'after', content: 'a' },
    { path: 'local', content: 'l', pax: { uid: '5000' } },
  ]);
  const dir = await unpackLayer(store, await storeLayer(store, tar, 'gzip'));
  const tree = describeTree(dir);
  t.match(tree.get('before'), { uid: 0, gid: 0 });
  t.match(tree.get('after'), { uid: 4000, gid: 4001 });
  t.match(tree.get('local'), { uid: 5000, gid: 4001 });
});

t.test('hardlink corner cases name the entry', async (t) => {
  const store = newStore(t);
  const self = tarArchive([{ path: 'a', content: 'a' }, { path: 'a', type: 'link', linkname: 'a' }]);
  const dir = await unpackLayer(store, await storeLayer(store, self, 'none'));
  t.match(describeTree(dir).get('a'), { type: 'file', sha: sha256('a') }, 'a link to itself changes nothing');
  const toDir = tarArchive([{ path: 'd/', type: 'dir' }, { path: 'h', type: 'link', linkname: 'd' }]);
  await t.rejects(unpackLayer(store, await storeLayer(store, toDir, 'none')), /layer entry "h": hardlink to directory "d"/);
  const dangling = tarArchive([{ path: 'h', type: 'link', linkname: 'nowhere' }]);
  const { LowerLayersNeededError } = await import('../../src/image/unpack');
  await t.rejects(unpackLayer(store, await storeLayer(store, dangling, 'none')), LowerLayersNeededError);
  await t.rejects(unpackLayer(store, await storeLayer(store, dangling, 'none'), { lowerDiffIds: [] }), /hardlink target "nowhere" is not in this layer or the layers below it/);
});

t.test('a blob missing from the store is a clear error', async (t) => {
  const store = newStore(t);
  const tar = tarArchive([{ path: 'f', content: 'x' }]);
  const layer = await storeLayer(store, tar, 'gzip');
  rmSync(store.blobPath(layer.digest));
  await t.rejects(unpackLayer(store, layer), new RegExp(`layer ${layer.digest} is not in the store`));
});
