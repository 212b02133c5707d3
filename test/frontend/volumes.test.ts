// The image's Volumes under `ccrun run IMAGE`, as a Docker user sees them:
// each path is a mount of its own, an anonymous volume in the container's
// directory filled from the image, kept across `ccrun start`, removed with
// the container; -v/--tmpfs replace it; symlinks never lead to host files.
import t from 'tap';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { runAsync, waitFor as waitForMs, type Result } from '../helpers/runtime';

/** Detached containers and their monitors get more time on a loaded machine. */
const waitFor = (cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> => waitForMs(cond, ms);
import { gzip, tarArchive, type EntrySpec } from '../helpers/tar-builder';

const ROOT = resolve(__dirname, '..', '..');
const CCRUN = join(ROOT, 'bin', 'ccrun');
const built = fs.existsSync(join(ROOT, 'dist/frontend/volumes.js'));
const skip = !built ? 'dist/ not built (npm run build:ts)' : fs.existsSync('/bin/busybox') ? false : 'busybox-static is not installed (apt-get install busybox-static)';

let reg: RegistryRig;
let work: string;
let store: string;
let state: string;
/** busybox + a /data volume with content over two layers, and an /empty volume the image lacks. */
let VOL: string;
/** busybox + volume paths that are symlinks climbing out of the root. */
let LINKS: string;
/** busybox + a volume path that is a file. */
let FILEVOL: string;

/** Asynchronous: the registry rig serves from this process's event loop. */
function cc(args: string[], argv0: string[] = [CCRUN]): Promise<Result> {
  return runAsync([...argv0, '--store', store, '--root', state, ...args]);
}

function containerDirs(): string[] {
  const d = join(store, 'containers');
  return fs.existsSync(d) ? fs.readdirSync(d).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
}

/** The directory of container `name` (from its record). */
function containerDir(name: string): string {
  for (const id of containerDirs()) {
    const dir = join(store, 'containers', id);
    try {
      if (JSON.parse(fs.readFileSync(join(dir, 'record.json'), 'utf8')).name === name) return dir;
    } catch {
      /* still being made */
    }
  }
  throw new Error(`no container named ${name}`);
}

/** The container's volume directories, by the mount destination its spec gives them. */
function volumeDirs(name: string): Map<string, string> {
  const dir = containerDir(name);
  const spec = JSON.parse(fs.readFileSync(join(dir, 'spec.json'), 'utf8'));
  const out = new Map<string, string>();
  for (const m of spec.mounts) if (m.type === 'bind' && m.source.startsWith(join(dir, 'volumes') + '/')) out.set(m.destination, m.source);
  return out;
}

function rmQuiet(...names: string[]): void {
  try {
    execFileSync(CCRUN, ['--store', store, '--root', state, 'rm', '-f', ...names], { stdio: 'ignore' });
  } catch {
    /* best effort */
  }
}

/** Lines of the container's mountinfo whose mount point is `path`. */
const MOUNTINFO = (path: string): string => `awk '$5 == "${path}"' /proc/self/mountinfo`;

t.before(async () => {
  if (skip) return;
  reg = await startRegistry(t);
  work = fs.mkdtempSync(join(tmpdir(), 'ccrun-volumes-'));
  store = join(work, 'store');
  state = join(work, 'state');
  t.teardown(() => {
    for (const id of fs.existsSync(state) ? fs.readdirSync(state) : []) {
      try {
        execFileSync(CCRUN, ['--root', state, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {
        /* best effort */
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  });
  const archive = join(work, 'busybox.tar');
  execFileSync(join(ROOT, 'scripts/make-busybox-image.sh'), [archive], { stdio: ['ignore', 'pipe', 'pipe'] });
  const oci = join(work, 'busybox-oci');
  fs.mkdirSync(oci);
  execFileSync('tar', ['xf', archive, '-C', oci]);
  const index = JSON.parse(fs.readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(join(oci, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const bbConfig = JSON.parse(fs.readFileSync(join(oci, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'));
  const bbLayer = { data: fs.readFileSync(join(oci, 'blobs/sha256', manifest.layers[0].digest.slice(7))), mediaType: MT.ociLayerGzip };
  const push = async (name: string, layers: EntrySpec[][], volumes: string[]): Promise<string> => {
    const config = { ...bbConfig, config: { ...bbConfig.config, Volumes: Object.fromEntries(volumes.map((v) => [v, {}])) }, rootfs: undefined };
    await reg.pushImage(`library/${name}`, 'v1', { layers: [bbLayer, ...layers.map((l) => ({ data: gzip(tarArchive(l)), mediaType: MT.ociLayerGzip }))], config });
    return `${reg.host}/library/${name}:v1`;
  };
  VOL = await push(
    'vol',
    [
      [
        { path: 'data/', type: 'dir', mode: 0o750, uid: 1000, gid: 1001 },
        { path: 'data/a.txt', content: 'from the image\n', mode: 0o640, uid: 1000, gid: 1001 },
        { path: 'data/gone', content: 'whited out by the next layer\n' },
        { path: 'data/opq/', type: 'dir' },
        { path: 'data/opq/old', content: 'hidden by an opaque dir\n' },
      ],
      [
        { path: 'data/', type: 'dir', mode: 0o750, uid: 1000, gid: 1001 },
        { path: 'data/.wh.gone', content: '' },
        { path: 'data/opq/', type: 'dir' },
        { path: 'data/opq/.wh..wh..opq', content: '' },
        { path: 'data/opq/new', content: 'new\n' },
        { path: 'data/link', type: 'symlink', linkname: 'a.txt' },
      ],
    ],
    ['/data', '/empty/'],
  );
  LINKS = await push(
    'links',
    [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/image-only', content: 'the image\'s /etc\n' },
        { path: 'climb', type: 'symlink', linkname: '../../../../../var/lib/dpkg' },
        { path: 'abs', type: 'symlink', linkname: '/etc/apt' },
        { path: 'conf', type: 'symlink', linkname: '../../../etc' },
      ],
    ],
    ['/climb', '/abs', '/conf'],
  );
  FILEVOL = await push('filevol', [[{ path: 'data', content: 'a file\n' }]], ['/data']);
});

t.test("an image volume is a mount of its own, filled with the image's content there", { skip }, async (t) => {
  t.teardown(() => rmQuiet('v1'));
  const r = await cc(['run', '--name', 'v1', VOL, 'sh', '-c',
    `${MOUNTINFO('/data')} | wc -l; ${MOUNTINFO('/empty')} | wc -l; ls -A /data; stat -c "%a %u:%g" /data /data/a.txt; cat /data/link; ls -A /data/opq; ls -A /empty | wc -l; echo written > /data/new.txt; echo root > /rootfile`]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, ['1', '1', 'a.txt', 'link', 'opq', '750 1000:1001', '640 1000:1001', 'from the image', 'new', '0', ''].join('\n'),
    'mounted at /data and /empty; whiteouts and opaque dirs honoured; modes, owners and symlinks kept');
  const vols = volumeDirs('v1');
  t.same([...vols.keys()].sort(), ['/data', '/empty'], 'one volume a path');
  const data = vols.get('/data')!;
  t.equal(fs.readFileSync(join(data, 'new.txt'), 'utf8'), 'written\n', 'a write lands in the volume directory');
  t.equal(fs.readlinkSync(join(data, 'link')), 'a.txt', 'the symlink is copied as a symlink');
  const upper = join(containerDir('v1'), 'upper');
  t.notOk(fs.existsSync(join(upper, 'data', 'new.txt')), 'not in the upper dir');
  t.ok(fs.existsSync(join(upper, 'rootfile')), 'a write elsewhere is (the upper dir is where the test looks)');
  t.equal((fs.statSync(vols.get('/empty')!).mode & 0o7777).toString(8), '755', 'a path the image lacks: an empty 0755 volume');
});

t.test('each container has its own volumes; start keeps them; rm and --rm remove them', { skip }, async (t) => {
  t.teardown(() => rmQuiet('va', 'vb'));
  const count = 'cat /data/count 2>/dev/null; echo run >> /data/count';
  const a = await cc(['run', '--name', 'va', VOL, 'sh', '-c', count]);
  t.equal(a.code, 0, a.stderr);
  const b = await cc(['run', '--name', 'vb', VOL, 'sh', '-c', count]);
  t.equal(b.stdout, '', "vb does not see va's write");
  const aCount = join(volumeDirs('va').get('/data')!, 'count');
  const st = await cc(['start', 'va']);
  t.equal(st.code, 0, st.stderr);
  t.ok(await waitFor(() => fs.existsSync(aCount) && fs.readFileSync(aCount, 'utf8') === 'run\nrun\n'), 'the second run wrote to the same volume');
  t.ok(await waitFor(async () => (await cc(['logs', 'va'])).stdout === 'run\n'), "and saw the first run's data");
  t.ok(await waitFor(async () => (await cc(['ps', '-a', '--format', 'json'])).stdout.split('\n').some((l) => l.includes('"va"') && l.includes('"exited"'))), 'va exited');
  const vaDir = containerDir('va');
  t.equal((await cc(['rm', 'va', 'vb'])).code, 0);
  t.notOk(fs.existsSync(vaDir), 'rm removed the container and its volumes');
  t.same(containerDirs(), []);
  const once = await cc(['run', '--rm', VOL, 'sh', '-c', 'echo x > /data/x; ls /data/x']);
  t.equal(once.stdout, '/data/x\n', once.stderr);
  t.same(containerDirs(), [], '--rm removed its volumes with it');
});

t.test('-v and --tmpfs on the path replace the image volume; --read-only keeps volumes writable', { skip }, async (t) => {
  t.teardown(() => rmQuiet('vv', 'vt'));
  const host = join(work, 'host-data');
  fs.mkdirSync(host);
  fs.writeFileSync(join(host, 'host.txt'), 'host\n');
  const v = await cc(['run', '--name', 'vv', '-v', `${host}:/data`, VOL, 'sh', '-c', `ls -A /data; ${MOUNTINFO('/data')} | wc -l; echo w > /data/w`]);
  t.equal(v.stdout, 'host.txt\n1\n', v.stderr);
  t.equal(fs.readFileSync(join(host, 'w'), 'utf8'), 'w\n', 'writes reach the host directory');
  t.same([...volumeDirs('vv').keys()], ['/empty'], 'no image volume made for /data');
  t.same(fs.readdirSync(join(containerDir('vv'), 'volumes')).length, 1);
  const tm = await cc(['run', '--name', 'vt', '--tmpfs', '/data', VOL, 'sh', '-c', `ls -A /data | wc -l; ${MOUNTINFO('/data')} | grep -c " - tmpfs "`]);
  t.equal(tm.stdout, '0\n1\n', tm.stderr);
  t.same([...volumeDirs('vt').keys()], ['/empty']);
  const ro = await cc(['run', '--rm', '--read-only', VOL, 'sh', '-c', 'touch /x 2>/dev/null && echo wrote-root; touch /data/y && echo wrote-volume; touch /empty/z && echo wrote-empty']);
  t.equal(ro.stdout, 'wrote-volume\nwrote-empty\n', ro.stderr);
});

t.test('mounts are made parents first, whatever the order given (Docker sorts them by depth)', { skip }, async (t) => {
  const host = join(work, 'host-parent');
  fs.mkdirSync(join(host, 'sub'), { recursive: true });
  fs.writeFileSync(join(host, 'sub', 'from-host'), 'x\n');
  // The tmpfs on /srv/x/sub is given first; the bind of its parent must not hide it.
  const r = await cc(['run', '--rm', '--tmpfs', '/srv/x/sub', '-v', `${host}:/srv/x`, VOL, 'sh', '-c', 'ls -A /srv/x/sub | wc -l; grep -c " /srv/x/sub .* - tmpfs " /proc/self/mountinfo']);
  t.equal(r.stdout, '0\n1\n', r.stderr);
});

t.test('a volume path that is a symlink resolves inside the image: no host file is copied', { skip }, async (t) => {
  t.teardown(() => rmQuiet('vl'));
  t.ok(fs.existsSync('/var/lib/dpkg') || fs.existsSync('/etc/apt'), 'the host has what the links point at (else this proves little)');
  const r = await cc(['run', '--name', 'vl', LINKS, 'sh', '-c', 'ls -A /climb/ | wc -l; ls -A /abs/ && echo listed; cat /conf/image-only; cat /etc/image-only']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, "0\nlisted\nthe image's /etc\nthe image's /etc\n", 'empty volumes where the image has nothing; the image\'s /etc where it does');
  const vols = volumeDirs('vl');
  t.same([...vols.keys()].sort(), ['/etc', '/etc/apt', '/var/lib/dpkg'], 'mounted where the links lead inside the image');
  t.same(fs.readdirSync(vols.get('/var/lib/dpkg')!), [], 'nothing of the host\'s /var/lib/dpkg');
  t.same(fs.readdirSync(vols.get('/etc/apt')!), [], 'nothing of the host\'s /etc/apt');
  const conf = fs.readdirSync(vols.get('/etc')!);
  t.ok(conf.includes('image-only') && conf.includes('passwd'), `the image's /etc, merged over its layers (${conf.join(' ')})`);
  t.notOk(conf.includes('os-release') || conf.includes('debian_version'), 'not the host\'s /etc');
});

t.test('a volume over a file of the image: a clear error, nothing left', { skip }, async (t) => {
  const r = await cc(['run', '--rm', FILEVOL, 'true']);
  t.equal(r.code, 1);
  t.match(r.stderr, /volume at \/data, but \/data is not a directory in the image.*-v HOST-FILE:\/data/);
  t.same(containerDirs(), []);
  const file = join(work, 'host-file');
  fs.writeFileSync(file, 'host file\n');
  const over = await cc(['run', '--rm', '-v', `${file}:/data`, FILEVOL, 'cat', '/data']);
  t.equal(over.stdout, 'host file\n', `-v of a file replaces it (${over.stderr.trim()})`);
});

t.test('without overlayfs (a full copy of the image as root) the volumes are the same', { skip: skip || (fs.existsSync('/usr/bin/unshare') ? false : 'unshare(1) is not installed') }, async (t) => {
  t.teardown(() => rmQuiet('vc'));
  // ccrun reads /proc/filesystems to choose: hide overlay from it in a mount namespace of its own.
  const noOverlay = join(work, 'filesystems-without-overlay');
  fs.writeFileSync(noOverlay, fs.readFileSync('/proc/filesystems', 'utf8').replace(/^.*\toverlay\n/m, ''));
  const argv0 = ['unshare', '-m', 'sh', '-c', `mount --bind ${noOverlay} /proc/filesystems && exec "$0" "$@"`, CCRUN];
  const r = await cc(['run', '--name', 'vc', VOL, 'sh', '-c', `${MOUNTINFO('/data')} | wc -l; ls -A /data; cat /data/link; echo w > /data/w`], argv0);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /overlayfs is not available/, 'the full-copy root was used');
  t.equal(r.stdout, '1\na.txt\nlink\nopq\nfrom the image\n');
  const dir = containerDir('vc');
  t.equal(fs.readFileSync(join(volumeDirs('vc').get('/data')!, 'w'), 'utf8'), 'w\n', 'the write is in the volume');
  t.notOk(fs.existsSync(join(dir, 'merged', 'data', 'w')), 'not in the copied root');
  t.equal((await cc(['rm', 'vc'])).code, 0);
  t.notOk(fs.existsSync(dir), 'rm removed it all');
});
