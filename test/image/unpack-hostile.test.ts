// Layers that try to write outside the target: each is refused with an error
// naming the entry, nothing appears outside (a sentinel directory beside the
// store stays untouched), and the layer is not cached.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImageStore } from '../../src/image/store';
import { unpackLayer } from '../../src/image/unpack';
import { describeTree, storeLayer, tarArchive, type EntrySpec } from '../helpers/tar-builder';

const base = mkdtempSync(join(tmpdir(), 'ccrun-hostile-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
// The sentinel: a directory a hostile layer would love to write into.
const sentinel = join(base, 'sentinel');
mkdirSync(sentinel);
writeFileSync(join(sentinel, 'precious'), 'untouched');
const before = describeTree(sentinel);

// How far up from the scratch dir (<base>/store/tmp/layer-...) the sentinel is.
const up = '../../../sentinel';

const cases: [string, EntrySpec[], string][] = [
  ['dot-dot name', [{ path: `${up}/evil`, content: 'x' }], `${up}/evil`],
  ['dot-dot in the middle', [{ path: `a/../../../../sentinel/evil`, content: 'x' }], 'a/../../../../sentinel/evil'],
  ['absolute path', [{ path: `${sentinel}/evil`, content: 'x' }], `${sentinel}/evil`],
  ['absolute path to a host file', [{ path: '/etc/ccrun-test-evil', content: 'x' }], '/etc/ccrun-test-evil'],
  [
    'symlink escape through a parent',
    [
      { path: 'escape', type: 'symlink', linkname: sentinel },
      { path: 'escape/evil', content: 'x' },
    ],
    'escape/evil',
  ],
  [
    'relative symlink escape through a parent',
    [
      { path: 'dir/', type: 'dir' },
      { path: 'dir/up', type: 'symlink', linkname: `../${up}` },
      { path: 'dir/up/evil', content: 'x' },
    ],
    'dir/up/evil',
  ],
  [
    'symlink then file through it, deeper',
    [
      { path: 'lib', type: 'symlink', linkname: '/' },
      { path: 'lib/x/y/evil', content: 'x' },
    ],
    'lib/x/y/evil',
  ],
  [
    'symlink then directory through it',
    [
      { path: 'l', type: 'symlink', linkname: sentinel },
      { path: 'l/newdir/', type: 'dir' },
    ],
    'l/newdir/',
  ],
  [
    'whiteout through a symlink',
    [
      { path: 'w', type: 'symlink', linkname: sentinel },
      { path: 'w/.wh.precious', content: '' },
    ],
    'w/.wh.precious',
  ],
  [
    'opaque marker through a symlink',
    [
      { path: 'o', type: 'symlink', linkname: sentinel },
      { path: 'o/.wh..wh..opq', content: '' },
    ],
    'o/.wh..wh..opq',
  ],
  ['hardlink to outside with ..', [{ path: 'h', type: 'link', linkname: `${up}/precious` }], 'h'],
  ['hardlink to an absolute host path', [{ path: 'h', type: 'link', linkname: `${sentinel}/precious` }], 'h'],
  [
    'hardlink through a symlink',
    [
      { path: 's', type: 'symlink', linkname: sentinel },
      { path: 'h', type: 'link', linkname: 's/precious' },
    ],
    'h',
  ],
  ['whiteout of ..', [{ path: 'a/.wh...', content: '' }], 'a/.wh...'],
];

for (const [name, entries, entry] of cases) {
  t.test(name, async (t) => {
    const root = mkdtempSync(join(base, 'case-'));
    const store = new ImageStore(join(root, 'store'));
    const layer = await storeLayer(store, tarArchive(entries), 'gzip');
    const quoted = entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await t.rejects(unpackLayer(store, layer), new RegExp(`layer entry "${quoted}"`), 'refused, naming the entry');
    t.notOk(store.hasLayer(layer.diffId), 'not cached');
    t.same(readdirSync(store.tmpDir()), [], 'scratch removed');
    t.same(describeTree(sentinel), before, 'nothing written outside');
  });
}

t.test('symlinks pointing anywhere are stored as-is, never followed', async (t) => {
  const root = mkdtempSync(join(base, 'ok-'));
  const store = new ImageStore(join(root, 'store'));
  const layer = await storeLayer(store, tarArchive([
    { path: 'to-sentinel', type: 'symlink', linkname: sentinel },
    { path: 'to-up', type: 'symlink', linkname: '../../../../..' },
    // Replacing the symlink itself (not writing through it) is fine.
    { path: 'to-sentinel', content: 'now a file' },
  ]), 'gzip');
  const dir = await unpackLayer(store, layer);
  const tree = describeTree(dir);
  t.match(tree.get('to-up'), { type: 'symlink', link: '../../../../..' });
  t.match(tree.get('to-sentinel'), { type: 'file' });
  t.same(describeTree(sentinel), before);
});
