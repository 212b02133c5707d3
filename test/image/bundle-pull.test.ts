// End to end through the registry rig: pull an image whose layers cover the
// unpacking cases (gzip, zstd, Docker schema2, whiteouts, opaque dirs,
// xattrs, devices), bundle it with ./bin/ccrun, check the rootfs entry by
// entry; then pull the offline busybox image, bundle it and run it.
import t from 'tap';
import { execFileSync, spawn } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { lgetxattr } from '../../src/image/unpack/fs-ops';
import { describeTree, gzip, HOST_ARCH, sha256, tarArchive, zstd, type EntrySpec } from '../helpers/tar-builder';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const built = existsSync(join(ROOT, 'dist/cli/commands/bundle.js')) && existsSync(join(ROOT, 'dist/cli/commands/pull.js'));

/** Asynchronous: the rig's token server and blob origin live in this process and need its event loop. */
function ccrun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(CCRUN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const CAP = Buffer.from('0000000200040000000000000000000000000000', 'hex');
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:www:/var/www:/bin/false\n';
const GROUP = 'root:x:0:\nwww:x:33:\nlog:x:4:web\n';

const layerA: EntrySpec[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/passwd', content: PASSWD },
  { path: 'etc/group', content: GROUP },
  { path: 'etc/motd', content: 'to be whited out' },
  { path: 'usr/', type: 'dir' },
  { path: 'usr/bin/', type: 'dir' },
  { path: 'usr/bin/ping', content: 'ping', mode: 0o4755, xattrs: { 'security.capability': CAP } },
  { path: 'var/', type: 'dir' },
  { path: 'var/cache/', type: 'dir' },
  { path: 'var/cache/stale', content: 'hidden by an opaque dir' },
  { path: 'dev/', type: 'dir' },
  { path: 'dev/console', type: 'char', devmajor: 5, devminor: 1, mode: 0o600 },
];
const layerB: EntrySpec[] = [
  { path: 'etc/.wh.motd', content: '' },
  { path: 'var/cache/.wh..wh..opq', content: '' },
  { path: 'var/cache/fresh', content: 'fresh' },
  { path: 'srv/', type: 'dir', uid: 33, gid: 33, mode: 0o2750 },
  { path: 'srv/index.html', content: '<h1>hi</h1>', uid: 33, gid: 33 },
  { path: 'usr/bin/pong', type: 'symlink', linkname: 'ping' },
];
// Layers made from filesystem diffs list the parents of what they change.
const layerC: EntrySpec[] = [
  { path: 'srv/', type: 'dir', uid: 33, gid: 33, mode: 0o2750 },
  { path: 'srv/' + 'long-'.repeat(30) + 'name.txt', content: 'long', uid: 33 },
];

let reg: RegistryRig;
let work: string;

t.before(async () => {
  if (!built) return;
  reg = await startRegistry(t);
  work = mkdtempSync(join(tmpdir(), 'ccrun-bundle-pull-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
});

t.test('pull then bundle: the rootfs and config come out entry by entry', { skip: built ? false : 'dist/ not built (run npx tsc first)' }, async (t) => {
  for (const format of ['oci', 'docker'] as const) {
    const tars = [tarArchive(layerA), tarArchive(layerB), tarArchive(layerC)];
    const layers =
      format === 'oci'
        ? [
            { data: gzip(tars[0]), mediaType: MT.ociLayerGzip },
            { data: zstd(tars[1]), mediaType: MT.ociLayerZstd },
            { data: tars[2], mediaType: MT.ociLayer },
          ]
        : tars.map((tar) => ({ data: gzip(tar), mediaType: MT.dockerLayerGzip }));
    await reg.pushImage('library/web', format, {
      format,
      layers,
      config: {
        architecture: HOST_ARCH,
        os: 'linux',
        config: { User: 'web', Cmd: ['/usr/bin/ping'], WorkingDir: '/srv', ExposedPorts: { '80/tcp': {} }, Volumes: { '/var/cache': {} }, StopSignal: 'SIGWINCH' },
      },
    });
    const store = join(work, `store-${format}`);
    const ref = `${reg.host}/library/web:${format}`;
    const pull = await ccrun(['--store', store, 'pull', '-q', ref]);
    t.equal(pull.code, 0, `${format}: pull: ${pull.stderr}`);
    const dir = join(work, `bundle-${format}`);
    const b = await ccrun(['--store', store, 'bundle', ref, dir]);
    t.equal(b.code, 0, `${format}: bundle: ${b.stderr}`);
    const tree = describeTree(join(dir, 'rootfs'));
    t.match(tree.get('usr/bin/ping'), { type: 'file', mode: 0o4755, sha: sha256('ping') }, `${format}: setuid file`);
    t.same(lgetxattr(join(dir, 'rootfs/usr/bin/ping'), 'security.capability'), CAP, `${format}: capability xattr`);
    t.match(tree.get('usr/bin/pong'), { type: 'symlink', link: 'ping' });
    t.notOk(tree.has('etc/motd'), `${format}: whiteout applied`);
    t.same([...tree.keys()].filter((k) => k.startsWith('var/cache/')), ['var/cache/fresh'], `${format}: opaque dir`);
    t.match(tree.get('srv'), { uid: 33, gid: 33, mode: 0o2750 });
    t.match(tree.get('srv/' + 'long-'.repeat(30) + 'name.txt'), { sha: sha256('long'), uid: 33 });
    t.match(tree.get('dev/console'), { type: 'char', rdev: [5, 1], mode: 0o600 });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    t.same(config.process.user, { uid: 33, gid: 33, additionalGids: [4] }, `${format}: user resolved in the image`);
    t.same(config.process.args, ['/usr/bin/ping']);
    t.equal(config.process.cwd, '/srv');
    t.match(config.annotations, { 'org.opencontainers.image.stopSignal': 'SIGWINCH', 'org.opencontainers.image.exposedPorts': '80/tcp' });
    t.ok(existsSync(join(dir, 'volumes')), 'volume directory made');
  }
});

t.test('a hardlink into a lower layer survives pull and bundle', {
  skip: built ? false : 'dist/ not built (run npx tsc first)',
}, async (t) => {
  await reg.pushImage('library/links', 'v1', {
    layers: [
      { data: gzip(tarArchive([{ path: 'bin/', type: 'dir' }, { path: 'bin/perl', content: 'perl' }])), mediaType: MT.ociLayerGzip },
      { data: gzip(tarArchive([{ path: 'bin/perl5', type: 'link', linkname: 'bin/perl' }])), mediaType: MT.ociLayerGzip },
    ],
    config: { architecture: HOST_ARCH, os: 'linux', config: { Cmd: ['/bin/perl'] } },
  });
  const store = join(work, 'store-links');
  const ref = `${reg.host}/library/links:v1`;
  const pull = await ccrun(['--store', store, 'pull', '-q', ref]);
  t.equal(pull.code, 0, pull.stderr);
  const b = await ccrun(['--store', store, 'bundle', ref, join(work, 'links')]);
  t.equal(b.code, 0, b.stderr);
  const tree = describeTree(join(work, 'links', 'rootfs'));
  t.equal(tree.get('bin/perl5')?.ino, tree.get('bin/perl')?.ino);
});

t.test('busybox: pull, bundle, run', {
  skip: !built ? 'dist/ not built (run npx tsc first)' : existsSync('/bin/busybox') ? false : 'busybox-static is not installed (apt-get install busybox-static)',
}, async (t) => {
  const archive = join(work, 'busybox.tar');
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [archive], { stdio: ['ignore', 'pipe', 'pipe'] });
  const oci = join(work, 'busybox-oci');
  execFileSync('mkdir', ['-p', oci]);
  execFileSync('tar', ['xf', archive, '-C', oci]);
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(oci, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const config = JSON.parse(readFileSync(join(oci, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'));
  const layer = readFileSync(join(oci, 'blobs/sha256', manifest.layers[0].digest.slice(7)));
  await reg.pushImage('library/busybox', 'latest', { layers: [{ data: layer, mediaType: MT.ociLayerGzip }], config });
  const store = join(work, 'store-bb');
  const ref = `${reg.host}/library/busybox`;
  t.equal((await ccrun(['--store', store, 'pull', '-q', ref])).code, 0);
  const dir = join(work, 'bb');
  const b = await ccrun(['--store', store, 'bundle', ref, dir, 'echo', 'hello from an image']);
  t.equal(b.code, 0, b.stderr);
  const state = join(work, 'state');
  const run = await ccrun(['--root', state, 'run', '--bundle', dir, `bb-${process.pid}`]);
  t.equal(run.stdout, 'hello from an image\n', `the bundle runs (${run.stderr.trim()})`);
  t.equal(run.code, 0);
});
