import t from 'tap';
import { mkdtempSync, rmSync, existsSync, readdirSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import { ImageStore, type ImageRecord } from '../../src/image/store';
import { DigestMismatchError, ImageError } from '../../src/image/errors';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tempStore(t: Tap.Test): ImageStore {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new ImageStore(join(dir, 'store'));
}

function record(name: string, blobs: { manifest: string; config: string; layers: string[] }): ImageRecord {
  return {
    name,
    repository: name.replace(/:[^:]*$/, ''),
    manifestDigest: blobs.manifest,
    configDigest: blobs.config,
    layers: blobs.layers.map((d) => ({ digest: d, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 1, diffId: d })),
    platform: { os: 'linux', architecture: 'amd64' },
    created: new Date().toISOString(),
  };
}

t.test('putBlob verifies digest and size while streaming and is atomic', async (t) => {
  const store = tempStore(t);
  const data = Buffer.from('hello blob');
  const d = await store.putBlobBytes(data, { digest: sha(data), size: data.length });
  t.equal(d, sha(data));
  t.ok(store.hasBlob(d));
  t.same(store.readBlob(d), data);

  const other = Buffer.from('something else');
  await t.rejects(store.putBlobBytes(other, { digest: sha(data) }), DigestMismatchError);
  await t.rejects(store.putBlobBytes(other, { digest: sha(other), size: other.length + 5 }), /truncated: got 14 of 19 bytes/);
  await t.rejects(store.putBlobBytes(other, { size: 3 }), /larger than the 3 bytes/);
  t.notOk(store.hasBlob(sha(other)), 'nothing unverified entered the store');
  t.same(readdirSync(store.tmpDir()), [], 'no temp files left behind');
});

t.test('digests are validated', async (t) => {
  const store = tempStore(t);
  t.throws(() => store.blobPath('sha256:../../etc/passwd'), ImageError);
  t.throws(() => store.blobPath('sha512:' + 'a'.repeat(128)), /unsupported digest algorithm/);
  t.throws(() => store.layerPath('sha256:ABC'), /invalid digest/);
});

t.test('records: lookup by name, short name, id prefix; rmi removes only unshared content', async (t) => {
  const store = tempStore(t);
  const put = async (s: string): Promise<string> => store.putBlobBytes(Buffer.from(s));
  const shared = await put('shared layer');
  const a = record('docker.io/library/busybox:latest', { manifest: await put('m1'), config: await put('c1'), layers: [shared, await put('only a')] });
  const b = record('docker.io/library/alpine:3', { manifest: await put('m2'), config: await put('c2'), layers: [shared] });
  store.putImage(a);
  store.putImage(b);
  mkdirSync(store.layerPath(shared), { recursive: true });
  writeFileSync(join(store.layerPath(shared), 'f'), 'x');
  t.equal(store.listImages().length, 2);
  t.equal(store.getImage('busybox')?.configDigest, a.configDigest);
  t.equal(store.getImage('docker.io/library/alpine:3')?.configDigest, b.configDigest);
  t.equal(store.getImage(a.configDigest.slice(7, 19))?.name, a.name);
  t.equal(store.getImage(`busybox@${a.manifestDigest}`)?.name, a.name);
  t.equal(store.getImage('alpine'), undefined, 'alpine:latest is not alpine:3');
  store.putImage({ ...a, created: 'again' });
  t.equal(store.listImages().length, 2, 'same name replaces');

  const removed = store.removeImage('busybox');
  t.same(removed.removedBlobs.sort(), [a.manifestDigest, a.configDigest, a.layers[1].digest].sort());
  t.same(removed.removedLayers, []);
  t.ok(store.hasBlob(shared) && store.hasLayer(shared), 'shared content kept');
  const removed2 = store.removeImage('alpine:3');
  t.same(removed2.removedLayers, [shared]);
  t.notOk(existsSync(store.layerPath(shared)));
  t.throws(() => store.removeImage('alpine:3'), /is not in the store/);
});

t.test('withLock excludes across processes and breaks stale locks', async (t) => {
  const store = tempStore(t);
  // A lock left by a dead process is broken.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  await store.withLock('x', async () => undefined); // creates the layout
  const lockDir = join(store.root, 'locks');
  const name = readdirSync(lockDir).length === 0 ? undefined : 'leftover';
  t.equal(name, undefined, 'lock released after use');
  // Take the lock, note its file, replace its pid with a dead one, then release our hold by rewriting.
  let lockFile = '';
  await store.withLock('x', async () => {
    lockFile = join(lockDir, readdirSync(lockDir)[0]);
  });
  writeFileSync(lockFile, dead);
  const started = Date.now();
  await store.withLock('x', async () => undefined);
  t.ok(Date.now() - started < 2000, 'stale lock broken quickly');

  // Two holders in turn never overlap.
  let inside = 0;
  let overlap = false;
  await Promise.all(
    [1, 2, 3].map(() =>
      store.withLock('y', async () => {
        inside++;
        if (inside > 1) overlap = true;
        await new Promise((r) => setTimeout(r, 30));
        inside--;
      }),
    ),
  );
  t.notOk(overlap);
});
