// Image -> bundle: the config conversion (conversion.md) and createBundle /
// `ccrun bundle` writing rootfs + config.json.
import t from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { ImageStore } from '../../src/image/store';
import { createBundle, imageConfigToSpec, volumeName, DEFAULT_PATH, type ImageConfig } from '../../src/image/bundle';
import { resolveUser } from '../../src/image/bundle-user';
import { configProblems } from '../../src/runtime/config/validate';
import { describeTree, sha256, storeImage, type EntrySpec } from '../helpers/tar-builder';
import type { Teardown } from '../helpers/tar-builder';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\nnohome:x:1001:1001::/:/bin/false\n';
const GROUP = 'root:x:0:\nwheel:x:10:app,other\nstaff:x:50:\naudio:x:29:app\napp:x:1000:\n';

function scratch(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fakeRootfs(t: Teardown, passwd = PASSWD, group = GROUP): string {
  const root = join(scratch(t), 'rootfs');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), passwd);
  writeFileSync(join(root, 'etc/group'), group);
  return root;
}

t.test('users resolve in the image: names, ids, groups, supplementary groups', async (t) => {
  const root = fakeRootfs(t);
  t.same(resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
  t.same(resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/app', name: 'app' });
  t.same(resolveUser(root, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/app', name: 'app' });
  t.match(resolveUser(root, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [] });
  t.match(resolveUser(root, 'app:77'), { uid: 1000, gid: 77 });
  t.match(resolveUser(root, '4242'), { uid: 4242, gid: 0, home: '/' }, 'unknown numeric uid: gid 0, as Docker');
  t.match(resolveUser(root, '4242:4343'), { uid: 4242, gid: 4343 });
  t.throws(() => resolveUser(root, 'ghost'), /user "ghost" is not in the image's \/etc\/passwd/);
  t.throws(() => resolveUser(root, 'app:ghosts'), /group "ghosts" is not in the image's \/etc\/group/);
  t.throws(() => resolveUser(root, 'a:b:c'), /not valid/);
});

t.test('/etc/passwd is read with symlinks resolved inside the rootfs', async (t) => {
  const dir = scratch(t);
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'real'), { recursive: true });
  // A host file the image must not be able to point us at.
  writeFileSync(join(dir, 'hostpasswd'), 'hostuser:x:7:7::/:/bin/sh\n');
  writeFileSync(join(root, 'real/passwd'), 'inroot:x:8:8::/:/bin/sh\n');
  symlinkSync(join(dir, 'hostpasswd'), join(root, 'etc/passwd'));
  t.throws(() => resolveUser(root, 'hostuser'), /not in the image/, 'absolute link is taken inside the root');
  rmSync(join(root, 'etc/passwd'));
  symlinkSync('../../../../../real/passwd', join(root, 'etc/passwd'));
  t.match(resolveUser(root, 'inroot'), { uid: 8 }, '.. clamps at the root of the image');
});

const fullConfig: ImageConfig = {
  created: '2024-01-02T03:04:05Z',
  author: 'tests',
  architecture: 'amd64',
  os: 'linux',
  config: {
    User: 'app',
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    Env: ['FOO=bar', 'PATH=/opt/bin:/bin'],
    Entrypoint: ['/bin/entry', '--flag'],
    Cmd: ['serve', 'now'],
    Volumes: { '/data': {}, '/var/log/app/': {} },
    WorkingDir: '/srv',
    Labels: { 'com.example.team': 'infra', 'org.opencontainers.image.stopSignal': 'label loses' },
    StopSignal: 'SIGQUIT',
  },
};

t.test('image config -> runtime config, every field', async (t) => {
  const root = fakeRootfs(t);
  const spec = imageConfigToSpec(fullConfig, root, {}, { rootPath: 'rootfs' });
  t.same(spec.process!.args, ['/bin/entry', '--flag', 'serve', 'now']);
  t.same(spec.process!.env, ['FOO=bar', 'PATH=/opt/bin:/bin', 'HOME=/home/app']);
  t.equal(spec.process!.cwd, '/srv');
  t.same(spec.process!.user, { uid: 1000, gid: 1000, additionalGids: [10, 29] });
  t.equal(spec.process!.terminal, false);
  t.same(spec.root, { path: 'rootfs', readonly: false });
  t.match(spec.annotations, {
    'com.example.team': 'infra',
    'org.opencontainers.image.stopSignal': 'SIGQUIT',
    'org.opencontainers.image.exposedPorts': '80/tcp,53/udp',
    'org.opencontainers.image.os': 'linux',
    'org.opencontainers.image.architecture': 'amd64',
    'org.opencontainers.image.author': 'tests',
    'org.opencontainers.image.created': '2024-01-02T03:04:05Z',
  });
  const vols = spec.mounts!.filter((m) => m.type === 'bind');
  t.same(vols, [
    { destination: '/data', type: 'bind', source: `volumes/${volumeName('/data')}`, options: ['rbind', 'rprivate'] },
    { destination: '/var/log/app', type: 'bind', source: `volumes/${volumeName('/var/log/app')}`, options: ['rbind', 'rprivate'] },
  ]);
  t.ok(spec.mounts!.some((m) => m.destination === '/proc'), 'default mounts kept');
  t.same(configProblems(spec), [], 'valid against the runtime-spec schema');
});

t.test('overrides and defaults', async (t) => {
  const root = fakeRootfs(t);
  const o = imageConfigToSpec(fullConfig, root, { entrypoint: ['/bin/sh'], env: ['FOO=baz', 'NEW=1'], user: '0:0', workdir: 'rel/dir' });
  t.same(o.process!.args, ['/bin/sh'], 'an entrypoint override drops the image Cmd');
  t.same(o.process!.env, ['FOO=baz', 'PATH=/opt/bin:/bin', 'HOME=/root', 'NEW=1']);
  t.same(o.process!.user, { uid: 0, gid: 0 });
  t.equal(o.process!.cwd, '/rel/dir');
  const c = imageConfigToSpec(fullConfig, root, { cmd: ['other'] });
  t.same(c.process!.args, ['/bin/entry', '--flag', 'other'], 'a command replaces Cmd, keeps Entrypoint');
  const bare = imageConfigToSpec({ config: { Cmd: ['sh'] } }, root);
  t.same(bare.process!.env, [`PATH=${DEFAULT_PATH}`, 'HOME=/root'], 'default PATH, HOME from passwd');
  t.equal(bare.process!.cwd, '/');
  t.same(bare.process!.user, { uid: 0, gid: 0 });
  t.notOk(bare.annotations, 'no annotations without anything to say');
  t.throws(() => imageConfigToSpec({ config: {} }, root), /no Entrypoint or Cmd/);
  t.throws(() => imageConfigToSpec({ config: { Cmd: ['x'], User: 'nobody-here' } }, root), /"nobody-here"/);
});

const imageLayers: EntrySpec[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: PASSWD },
    { path: 'etc/group', content: GROUP },
    { path: 'bin/', type: 'dir' },
    { path: 'bin/entry', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { path: 'data/', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
    { path: 'data/seed', content: 'seeded by the image', uid: 1000 },
    { path: 'srv/', type: 'dir' },
    { path: 'old', content: 'removed above' },
  ],
  [
    { path: '.wh.old', content: '' },
    { path: 'srv/index.html', content: '<h1>hi</h1>' },
  ],
];

t.test('createBundle writes rootfs, config.json and pre-filled volumes', async (t) => {
  const dir = scratch(t);
  const store = new ImageStore(join(dir, 'store'));
  await storeImage(store, 'docker.io/library/app:latest', imageLayers, fullConfig.config as Record<string, unknown>);
  const bundle = join(dir, 'b');
  await createBundle(store, 'app', bundle);
  t.same(readdirSync(bundle).sort(), ['config.json', 'rootfs', 'volumes']);
  const tree = describeTree(join(bundle, 'rootfs'));
  t.match(tree.get('srv/index.html'), { sha: sha256('<h1>hi</h1>') });
  t.notOk(tree.has('old'), 'whiteout applied');
  t.match(tree.get('data'), { mode: 0o750, uid: 1000 });
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  t.same(config.process.args, ['/bin/entry', '--flag', 'serve', 'now']);
  t.same(config.root, { path: 'rootfs', readonly: false });
  const vol = join(bundle, 'volumes', volumeName('/data'));
  t.equal(readFileSync(join(vol, 'seed'), 'utf8'), 'seeded by the image', 'volume pre-filled from the image');
  t.match(describeTree(bundle).get(`volumes/${volumeName('/data')}/seed`), { uid: 1000 });
  t.ok(existsSync(join(bundle, 'volumes', volumeName('/var/log/app'))), 'a volume the image has no content for is an empty dir');
  t.same(configProblems(config), []);

  await t.rejects(createBundle(store, 'app', bundle), /rootfs already exists/, 'never over an existing bundle');
  await t.rejects(createBundle(store, 'nope', join(dir, 'c')), /image "nope" is not in the store/);
  t.notOk(existsSync(join(dir, 'c')));
});

t.test('a failed bundle leaves nothing behind', async (t) => {
  const dir = scratch(t);
  const store = new ImageStore(join(dir, 'store'));
  await storeImage(store, 'docker.io/library/bad:latest', imageLayers, { Cmd: ['x'], User: 'ghost' });
  await t.rejects(createBundle(store, 'bad', join(dir, 'new')), /user "ghost"/);
  t.notOk(existsSync(join(dir, 'new')), 'a directory we made is removed');
  mkdirSync(join(dir, 'existing'));
  writeFileSync(join(dir, 'existing', 'mine'), 'keep');
  await t.rejects(createBundle(store, 'bad', join(dir, 'existing')), /user "ghost"/);
  t.same(readdirSync(join(dir, 'existing')), ['mine'], 'an existing directory keeps only what it had');
});

t.test('layers not yet unpacked are unpacked in order, lower layers first', async (t) => {
  const dir = scratch(t);
  const store = new ImageStore(join(dir, 'store'));
  await storeImage(
    store,
    'docker.io/library/links:latest',
    [[{ path: 'etc/', type: 'dir' }, { path: 'etc/passwd', content: PASSWD }, { path: 'a', content: 'shared' }], [{ path: 'b', type: 'link', linkname: 'a' }]],
    { Cmd: ['sh'] },
  );
  await createBundle(store, 'links', join(dir, 'b'));
  const tree = describeTree(join(dir, 'b', 'rootfs'));
  t.equal(tree.get('b')!.ino, tree.get('a')!.ino);
});

t.test('ccrun bundle on the command line', { skip: existsSync(join(ROOT, 'dist/cli/commands/bundle.js')) ? false : 'dist/ not built (run npx tsc first)' }, async (t) => {
  const dir = scratch(t);
  const storeDir = join(dir, 'store');
  const store = new ImageStore(storeDir);
  await storeImage(store, 'docker.io/library/app:latest', imageLayers, fullConfig.config as Record<string, unknown>);
  const out = execFileSync(CCRUN, ['--store', storeDir, 'bundle', '-u', '0', '-e', 'X=1', 'app', join(dir, 'b'), 'echo', 'hi'], { encoding: 'utf8' });
  t.equal(out.trim(), join(dir, 'b'));
  const config = JSON.parse(readFileSync(join(dir, 'b', 'config.json'), 'utf8'));
  t.same(config.process.args, ['/bin/entry', '--flag', 'echo', 'hi']);
  t.same(config.process.user, { uid: 0, gid: 0 });
  t.ok(config.process.env.includes('X=1'));
  const again = spawnSync(CCRUN, ['--store', storeDir, 'bundle', 'app', join(dir, 'b')], { encoding: 'utf8' });
  t.equal(again.status, 1);
  t.match(again.stderr, /already exists/);
  const missing = spawnSync(CCRUN, ['--store', storeDir, 'bundle', 'app'], { encoding: 'utf8' });
  t.match(missing.stderr, /usage: ccrun bundle/);
});
