// Pulls against a real registry (test/helpers/registry.ts): token auth, blob
// redirects to an origin that refuses Authorization, indexes and platforms,
// and every failure leaving the store as it was.
import t from 'tap';
import { mkdtempSync, rmSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createHash } from 'crypto';
import { startRegistry, MT, type RegistryRig } from '../helpers/registry';
import { gzipLayer, zstdLayer, makeTar } from '../helpers/registry-fixtures';
import { ImageStore } from '../../src/image/store';
import { pullImage, loadUnpacker, type PullOptions } from '../../src/image/pull';
import { hostPlatform, formatPlatform } from '../../src/image/platform';
import { AuthError, DigestMismatchError, ImageNotFoundError, PlatformError, RegistryError } from '../../src/image/errors';

const host = hostPlatform();
const unpackAvailable = loadUnpacker() !== undefined;

function tempStore(t: Tap.Test): ImageStore {
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-pull-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new ImageStore(join(dir, 'store'));
}

/** What a user can see of the store: its records and its (verified) blobs. */
function snapshot(store: ImageStore): { images: string; blobs: string[]; tmp: string[] } {
  const blobDir = join(store.root, 'blobs', 'sha256');
  const blobs = existsSync(blobDir) ? readdirSync(blobDir).sort() : [];
  for (const hex of blobs) {
    const actual = createHash('sha256').update(readFileSync(join(blobDir, hex))).digest('hex');
    if (actual !== hex) throw new Error(`unverified blob in store: ${hex}`);
  }
  const imagesFile = join(store.root, 'images.json');
  return {
    images: existsSync(imagesFile) ? readFileSync(imagesFile, 'utf8') : '',
    blobs,
    tmp: existsSync(store.tmpDir()) ? readdirSync(store.tmpDir()) : [],
  };
}

let reg: RegistryRig;
const fixtures: Record<string, { manifestDigest: string; configDigest: string; layers: { digest: string; diffId: string }[] }> = {};

function opts(store: ImageStore, extra: Partial<PullOptions> = {}): PullOptions {
  return { store, credentials: null, client: { retryBaseMs: 5, maxRetries: 2 }, unpack: unpackAvailable, ...extra };
}

const config = (arch: string, extra: Record<string, unknown> = {}) => ({
  created: '2024-01-02T03:04:05Z',
  architecture: arch,
  os: 'linux',
  config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
  ...extra,
});

t.before(async () => {
  reg = await startRegistry(t);
  const l1 = gzipLayer([{ path: 'etc/' }, { path: 'etc/hostname', content: 'one\n' }]);
  const l2 = zstdLayer([{ path: 'data/' }, { path: 'data/big', content: Buffer.alloc(300_000, 7) }]);
  const l3 = makeTar([{ path: 'plain.txt', content: 'uncompressed layer\n' }]);
  fixtures.oci = await reg.pushImage('library/multi', 'oci-single', {
    layers: [{ data: l1, mediaType: MT.ociLayerGzip }, { data: l2, mediaType: MT.ociLayerZstd }, { data: l3, mediaType: MT.ociLayer }],
    config: config(host.architecture, host.variant ? { variant: host.variant } : {}),
  });
  fixtures.docker = await reg.pushImage('library/multi', 'docker-single', {
    format: 'docker',
    layers: [{ data: l1, mediaType: MT.dockerLayerGzip }],
    config: config(host.architecture),
  });
  const other = await reg.pushImage('library/multi', undefined, {
    layers: [{ data: gzipLayer([{ path: 'arm64.txt', content: 'arm64' }]), mediaType: MT.ociLayerGzip }],
    config: config('arm64', { variant: 'v8' }),
  });
  const s390 = await reg.pushImage('library/multi', undefined, {
    layers: [{ data: gzipLayer([{ path: 's390x.txt', content: 's390x' }]), mediaType: MT.ociLayerGzip }],
    config: config('s390x'),
  });
  fixtures.arm64 = other;
  const attestation = await reg.pushImage('library/multi', undefined, {
    layers: [{ data: gzipLayer([{ path: 'sbom.json', content: '{}' }]), mediaType: MT.ociLayerGzip }],
    config: { architecture: 'unknown', os: 'unknown' },
  });
  const entries = (mt: string) => [
    // The attestation comes first: it must be skipped, not chosen.
    { mediaType: mt, digest: attestation.manifestDigest, size: attestation.manifestSize, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': fixtures.oci.manifestDigest } },
    { mediaType: mt, digest: s390.manifestDigest, size: s390.manifestSize, platform: { os: 'linux', architecture: 's390x' } },
    { mediaType: mt, digest: fixtures.oci.manifestDigest, size: (fixtures.oci as { manifestSize?: number }).manifestSize ?? 0, platform: { os: 'linux', architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) } },
    { mediaType: mt, digest: other.manifestDigest, size: other.manifestSize, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ];
  const ociIndex = await reg.pushIndex('library/multi', 'latest', { mediaType: 'oci', manifests: entries(MT.ociManifest) });
  fixtures.index = { manifestDigest: ociIndex.digest, configDigest: '', layers: [] };
  // A Docker manifest list may only name Docker manifests.
  const d1 = fixtures.docker as unknown as { manifestDigest: string; manifestSize: number };
  const dockerArm = await reg.pushImage('library/multi', undefined, { format: 'docker', layers: [{ data: gzipLayer([{ path: 'arm.txt', content: 'arm' }]), mediaType: MT.dockerLayerGzip }], config: config('arm64', { variant: 'v8' }) });
  const list = await reg.pushIndex('library/multi', 'list', {
    mediaType: 'docker',
    manifests: [
      { mediaType: MT.dockerManifest, digest: dockerArm.manifestDigest, size: dockerArm.manifestSize, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MT.dockerManifest, digest: d1.manifestDigest, size: d1.manifestSize, platform: { os: 'linux', architecture: host.architecture } },
    ],
  });
  fixtures.list = { manifestDigest: list.digest, configDigest: '', layers: [] };
  fixtures.private = await reg.pushImage('private/secret', 'v1', { layers: [{ data: l1, mediaType: MT.ociLayerGzip }], config: config(host.architecture) });
});

t.test('an OCI index: this platform chosen, attestation skipped, all three layer kinds verified and unpacked', async (t) => {
  const store = tempStore(t);
  const events: string[] = [];
  const r = await pullImage(`${reg.host}/library/multi`, opts(store, {
    progress: { status: (m) => events.push(m), layer: (id, e) => events.push(`${id} ${e}`), bytes: () => undefined, finish: () => undefined },
  }));
  t.equal(r.digest, fixtures.index.manifestDigest, 'digest is the index digest');
  t.equal(r.record.manifestDigest, fixtures.oci.manifestDigest);
  t.equal(r.record.indexDigest, fixtures.index.manifestDigest);
  t.equal(r.record.name, `${reg.host}/library/multi:latest`);
  t.equal(formatPlatform(r.record.platform), formatPlatform(host));
  t.same(r.record.layers.map((l) => l.diffId), fixtures.oci.layers.map((l) => l.diffId));
  t.same(r.record.layers.map((l) => l.mediaType), [MT.ociLayerGzip, MT.ociLayerZstd, MT.ociLayer]);
  for (const d of [r.record.manifestDigest, r.record.configDigest, r.digest, ...r.record.layers.map((l) => l.digest)]) t.ok(store.hasBlob(d), `blob ${d.slice(0, 19)} stored`);
  if (unpackAvailable) {
    t.equal(readFileSync(join(store.layerPath(r.record.layers[0].diffId), 'etc/hostname'), 'utf8'), 'one\n');
    t.equal(readFileSync(join(store.layerPath(r.record.layers[1].diffId), 'data/big')).length, 300_000, 'zstd layer unpacked');
    t.equal(readFileSync(join(store.layerPath(r.record.layers[2].diffId), 'plain.txt'), 'utf8'), 'uncompressed layer\n');
  }
  t.ok(events.some((e) => /Digest: sha256:/.test(e)));
  t.ok(events.some((e) => /Downloaded newer image/.test(e)));
  t.equal(reg.stats.cdnAuthRejected, 0, 'no Authorization header reached the blob origin');
  t.same(snapshot(store).tmp, []);
});

t.test('--platform picks another entry; arm64 means v8', async (t) => {
  const store = tempStore(t);
  const r = await pullImage(`${reg.host}/library/multi:latest`, opts(store, { platform: 'linux/arm64' }));
  t.equal(r.record.manifestDigest, fixtures.arm64.manifestDigest);
  t.same(r.record.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const err = await pullImage(`${reg.host}/library/multi`, opts(store, { platform: 'linux/riscv64' })).catch((e: unknown) => e);
  t.type(err, PlatformError);
  t.match((err as Error).message, /no manifest for platform linux\/riscv64 in .*library\/multi:latest \(it has: linux\/s390x, .*linux\/arm64\/v8\)/);
  t.notMatch((err as Error).message, /unknown/, 'attestation not offered as a platform');
  t.equal(store.listImages().length, 1, 'the failed pull added nothing');
  await t.rejects(pullImage(`${reg.host}/library/multi`, opts(store, { platform: 'linux' })), /invalid platform "linux": expected os\/arch/);
});

t.test('a Docker manifest list and a Docker schema2 manifest', async (t) => {
  const store = tempStore(t);
  const r = await pullImage(`${reg.host}/library/multi:list`, opts(store));
  t.equal(r.record.manifestDigest, fixtures.docker.manifestDigest);
  t.equal(r.record.indexDigest, fixtures.list.manifestDigest);
  const r2 = await pullImage(`${reg.host}/library/multi:docker-single`, opts(store));
  t.equal(r2.record.manifestDigest, fixtures.docker.manifestDigest);
  t.equal(r2.record.indexDigest, undefined);
  t.equal(r2.record.layers[0].mediaType, MT.dockerLayerGzip);
  t.equal(store.listImages().length, 2);
});

t.test('pull by digest, then the warm re-pull touches no blob', async (t) => {
  const store = tempStore(t);
  const ref = `${reg.host}/library/multi@${fixtures.oci.manifestDigest}`;
  const r = await pullImage(ref, opts(store));
  t.equal(r.record.name, '', 'digest-only record');
  t.equal(r.record.repository, `${reg.host}/library/multi`);
  const before = { ...reg.stats };
  const again = await pullImage(ref, opts(store));
  t.ok(again.upToDate);
  t.equal(reg.stats.manifestGets, before.manifestGets, 'no manifest GET for a digest we hold');
  const tagged = await pullImage(`${reg.host}/library/multi:oci-single`, opts(store));
  t.notOk(tagged.upToDate, 'a new name is a new record');
  const mid = { ...reg.stats };
  const warm = await pullImage(`${reg.host}/library/multi:oci-single`, opts(store));
  t.ok(warm.upToDate);
  t.equal(reg.stats.blobGets, mid.blobGets, 'no blob fetched');
  t.equal(reg.stats.manifestGets, mid.manifestGets, 'only a HEAD, no manifest GET');
  t.equal(store.listImages().length, 2);
});

t.test('private repositories: anonymous refused, bad password refused, good one works; credentials never reach the blob origin', async (t) => {
  const store = tempStore(t);
  const ref = `${reg.host}/private/secret:v1`;
  const anon = await pullImage(ref, opts(store)).catch((e: unknown) => e);
  t.type(anon, AuthError);
  t.match((anon as Error).message, /denied \(401\).*run ccrun login/);
  const bad = await pullImage(ref, opts(store, { credentials: { username: reg.user, password: 'wrong' } })).catch((e: unknown) => e);
  t.type(bad, AuthError);
  t.match((bad as Error).message, /login to 127\.0\.0\.1:\d+ failed: the token service at 127\.0\.0\.1:\d+ refused the username or password/);
  t.notMatch((bad as Error).message, /wrong/, 'the password is not in the message');
  t.same(snapshot(store), { images: '', blobs: [], tmp: [] }, 'store as it was');
  const basicBefore = reg.stats.tokenBasicAuth;
  const ok = await pullImage(ref, opts(store, { credentials: { username: reg.user, password: reg.password } }));
  t.equal(ok.record.manifestDigest, fixtures.private.manifestDigest);
  t.ok(reg.stats.tokenBasicAuth > basicBefore, 'credentials went to the token realm');
  t.equal(reg.stats.cdnAuthRejected, 0, 'never to the redirected blob origin');
});

t.test('credentials come from DOCKER_CONFIG/config.json', async (t) => {
  const store = tempStore(t);
  const dir = mkdtempSync(join(tmpdir(), 'ccrun-dockercfg-'));
  const old = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = dir;
  t.teardown(() => {
    if (old === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = old;
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from(`${reg.user}:${reg.password}`).toString('base64') } } }));
  const r = await pullImage(`${reg.host}/private/secret:v1`, { ...opts(store), credentials: undefined });
  t.equal(r.record.manifestDigest, fixtures.private.manifestDigest);
});

t.test('failures are clear and leave the store as it was', async (t) => {
  const store = tempStore(t);
  // Something already in the store must survive every failure untouched.
  await pullImage(`${reg.host}/library/multi:docker-single`, opts(store));
  const base = snapshot(store);
  const same = (what: string) => {
    const now = snapshot(store);
    t.equal(now.images, base.images, `${what}: no record added`);
    t.same(now.tmp, [], `${what}: no temp files`);
  };

  const missing = await pullImage(`${reg.host}/library/multi:nope`, opts(store)).catch((e: unknown) => e);
  t.type(missing, ImageNotFoundError);
  t.match((missing as Error).message, /manifest 127\.0\.0\.1:\d+\/library\/multi:nope not found \(MANIFEST_UNKNOWN/);
  same('404 tag');
  t.same(snapshot(store).blobs, base.blobs);

  const norepo = await pullImage(`${reg.host}/library/absent`, opts(store)).catch((e: unknown) => e);
  t.type(norepo, ImageNotFoundError);
  same('404 repository');

  const img = await reg.pushImage('library/faulty', 'v1', {
    layers: [{ data: gzipLayer([{ path: 'ok.txt', content: 'fine' }]), mediaType: MT.ociLayerGzip }, { data: gzipLayer([{ path: 'bad.bin', content: Buffer.alloc(200_000, 1) }]), mediaType: MT.ociLayerGzip }],
    config: config(host.architecture),
  });
  const bad = img.layers[1].digest;
  reg.blobFault(bad, 'corrupt');
  const corrupt = await pullImage(`${reg.host}/library/faulty:v1`, opts(store)).catch((e: unknown) => e);
  t.type(corrupt, DigestMismatchError);
  t.match((corrupt as Error).message, new RegExp(`blob ${bad} failed verification: its content has digest sha256:`));
  t.notOk(store.hasBlob(bad), 'the corrupt blob did not enter the store');
  same('corrupt blob');

  reg.blobFault(bad, 'truncate');
  const trunc = await pullImage(`${reg.host}/library/faulty:v1`, opts(store)).catch((e: unknown) => e);
  t.type(trunc, DigestMismatchError);
  t.match((trunc as Error).message, new RegExp(`blob ${bad} is truncated: got \\d+ of \\d+ bytes`));
  t.notOk(store.hasBlob(bad));
  same('truncated blob');

  reg.blobFault(bad, 'drop');
  const gone = await pullImage(`${reg.host}/library/faulty:v1`, opts(store)).catch((e: unknown) => e);
  t.type(gone, RegistryError);
  t.match((gone as Error).message, new RegExp(`download of blob ${bad} from 127\\.0\\.0\\.1:\\d+ failed: .*gave up after 3 tries`));
  t.notOk(store.hasBlob(bad));
  same('connection dropped mid-blob');

  reg.blobFault(bad, 'stall');
  const stalled = await pullImage(`${reg.host}/library/faulty:v1`, opts(store, { client: { retryBaseMs: 5, maxRetries: 1, timeoutMs: 300 } })).catch((e: unknown) => e);
  t.type(stalled, RegistryError);
  t.match((stalled as Error).message, /no answer from 127\.0\.0\.1:\d+ in 0\.3 s \(timed out\).*gave up after 2 tries/);
  same('stalled download');

  // The pull resumes: the complete blobs stay as cache and are not fetched again.
  reg.blobFault(bad, undefined);
  t.ok(store.hasBlob(img.layers[0].digest) && store.hasBlob(img.configDigest), 'complete blobs kept as cache');
  const gets = reg.stats.blobGets;
  const resumed = await pullImage(`${reg.host}/library/faulty:v1`, opts(store));
  t.equal(reg.stats.blobGets - gets, 1, 'only the missing blob was fetched');
  t.equal(resumed.record.manifestDigest, img.manifestDigest);
});

t.test('a dropped connection is retried; 5xx and 429 with Retry-After too', async (t) => {
  const store = tempStore(t);
  const img = await reg.pushImage('library/flaky', 'v1', { layers: [{ data: gzipLayer([{ path: 'f', content: Buffer.alloc(100_000, 3) }]), mediaType: MT.ociLayerGzip }], config: config(host.architecture) });
  reg.blobFault(img.layers[0].digest, 'drop-once');
  reg.override('/v2/library/flaky/manifests/v1', { status: 503, times: 2 });
  const ranges = reg.stats.rangeRequests;
  const r = await pullImage(`${reg.host}/library/flaky:v1`, opts(store));
  t.equal(r.record.manifestDigest, img.manifestDigest);
  t.equal(reg.stats.rangeRequests - ranges, 1, 'the dropped download resumed with a Range request');

  // An origin that ignores Range: the download starts over, still verified.
  reg.ranges(false);
  t.teardown(() => reg.ranges(true));
  const storeNoRange = tempStore(t);
  reg.blobFault(img.layers[0].digest, 'drop-once');
  const r2 = await pullImage(`${reg.host}/library/flaky:v1`, opts(storeNoRange));
  t.equal(r2.record.layers[0].digest, img.layers[0].digest);
  t.ok(storeNoRange.hasBlob(img.layers[0].digest));
  reg.ranges(true);

  const store2 = tempStore(t);
  reg.override('/v2/library/flaky/manifests/v1', { status: 429, headers: { 'Retry-After': '1' }, times: 1 });
  const started = Date.now();
  await pullImage(`${reg.host}/library/flaky:v1`, opts(store2));
  t.ok(Date.now() - started >= 950, 'waited for Retry-After');

  reg.override('/v2/library/flaky/manifests/v1', { status: 429, headers: { 'Retry-After': '3600' }, times: 1 });
  await t.rejects(pullImage(`${reg.host}/library/flaky:v1`, opts(tempStore(t))), /rate-limiting requests \(429 Too Many Requests\).*try again in 3600 s/);
  reg.override('/v2/library/flaky/manifests/v1', undefined);
});

t.test('schema1 and forged manifests are refused', async (t) => {
  const store = tempStore(t);
  const schema1 = JSON.stringify({ schemaVersion: 1, name: 'library/old', tag: 'v1', architecture: 'amd64', fsLayers: [], history: [] });
  reg.override('/v2/library/old/manifests/v1', { status: 200, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, body: schema1 });
  await t.rejects(pullImage(`${reg.host}/library/old:v1`, opts(store)), /is a Docker schema1 manifest, an obsolete format ccrun does not pull/);

  const real = fixtures.docker as unknown as { manifestDigest: string };
  const forged = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: real.manifestDigest, size: 1 }, layers: [] }));
  reg.override('/v2/library/forged/manifests/v1', { status: 200, headers: { 'Content-Type': MT.ociManifest, 'Docker-Content-Digest': real.manifestDigest }, body: forged });
  await t.rejects(pullImage(`${reg.host}/library/forged:v1`, opts(store)), /failed verification: Docker-Content-Digest says sha256:/);
  reg.override(`/v2/library/forged/manifests/${real.manifestDigest}`, { status: 200, headers: { 'Content-Type': MT.ociManifest }, body: forged });
  await t.rejects(pullImage(`${reg.host}/library/forged@${real.manifestDigest}`, opts(store)), DigestMismatchError);
  t.same(snapshot(store), { images: '', blobs: [], tmp: [] });
});

t.test('two pulls of one image at once: both succeed, each blob fetched once', async (t) => {
  const store = tempStore(t);
  const img = await reg.pushImage('library/twice', 'v1', {
    layers: [1, 2, 3].map((n) => ({ data: gzipLayer([{ path: `l${n}`, content: Buffer.alloc(150_000, n) }]), mediaType: MT.ociLayerGzip })),
    config: config(host.architecture),
  });
  const before = reg.stats.blobGets;
  const [a, b] = await Promise.all([pullImage(`${reg.host}/library/twice:v1`, opts(store)), pullImage(`${reg.host}/library/twice:v1`, opts(new ImageStore(store.root)))]);
  t.equal(a.record.manifestDigest, img.manifestDigest);
  t.equal(b.record.manifestDigest, img.manifestDigest);
  t.equal(reg.stats.blobGets - before, 4, 'config and 3 layers, once each');
  t.equal(store.listImages().length, 1);
  t.same(snapshot(store).tmp, []);
});

t.test('a hardlink to a file of a lower layer: layers unpacked out of order still work', { skip: !unpackAvailable && 'layer unpacking (src/image/unpack) is not built' }, async (t) => {
  const store = tempStore(t);
  // The lower layer is big and the upper one tiny, so the upper one usually arrives first.
  const lower = gzipLayer([{ path: 'bin/' }, { path: 'bin/tool', content: Buffer.alloc(2_000_000, 9), mode: 0o755 }, { path: 'pad', content: Buffer.from(Array.from({ length: 500_000 }, (_, i) => (i * 7919) % 251)) }]);
  const upper = gzipLayer([{ path: 'bin/' }, { path: 'bin/alias', hardlink: 'bin/tool' }]);
  const img = await reg.pushImage('library/links', 'v1', { layers: [{ data: lower, mediaType: MT.ociLayerGzip }, { data: upper, mediaType: MT.ociLayerGzip }], config: config(host.architecture) });
  // With the upper blob already in the store, its unpack surely starts before the lower layer is in.
  await store.putBlobBytes(upper);
  const order: string[] = [];
  const r = await pullImage(`${reg.host}/library/links:v1`, opts(store, { progress: { status: () => undefined, bytes: () => undefined, finish: () => undefined, layer: (id, e) => order.push(`${id} ${e}`) } }));
  t.equal(r.record.manifestDigest, img.manifestDigest);
  const upperId = img.layers[1].digest.slice(7, 19);
  const lowerId = img.layers[0].digest.slice(7, 19);
  t.ok(order.indexOf(`${upperId} extracting`) < order.indexOf(`${lowerId} done`), 'upper unpack started before the lower one finished');
  const alias = readFileSync(join(store.layerPath(r.record.layers[1].diffId), 'bin/alias'));
  t.equal(alias.length, 2_000_000, 'the link in the upper layer has the lower file\'s content');
});

t.test('plain http only for loopback and listed registries', async (t) => {
  const { RegistryClient, allowsHttp } = await import('../../src/image/registry/client');
  t.equal(new RegistryClient('registry.example.com:5000').base.protocol, 'https:');
  t.equal(new RegistryClient('docker.io').base.host, 'registry-1.docker.io');
  t.equal(new RegistryClient('localhost:5000').base.protocol, 'http:');
  t.equal(new RegistryClient('[::1]:5000').base.protocol, 'http:');
  t.equal(new RegistryClient('registry.lan:5000', { insecureHosts: ['registry.lan:5000'] }).base.protocol, 'http:');
  t.notOk(allowsHttp('evil.example:80', []));
  t.ok(allowsHttp('registry.lan:5000', ['registry.lan']));
});
