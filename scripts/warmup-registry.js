// A registry for the build's `pull` warm-up (scripts/build-code-cache.js):
// one tiny image, warmup/image:latest (one layer holding one file), served over
// plain http on a free loopback port. It answers from a worker thread, so it
// keeps answering while the build's main thread waits in spawnSync.
//
//   const registry = startWarmupRegistry();   // { host: '127.0.0.1:PORT', stop() }
'use strict';
const { Worker, isMainThread, workerData } = require('worker_threads');

const REPO = 'warmup/image';

/** The layer's tar: one file, written by the TarWriter of `ccrun save` (the build has compiled dist/ by now). */
async function layerTar() {
  const { PassThrough } = require('stream');
  const { TarWriter } = require('../dist/image/archive/tar-io.js');
  const out = new PassThrough();
  const chunks = [];
  out.on('data', (c) => chunks.push(c));
  const tar = new TarWriter(out);
  await tar.bytes('warmup.txt', Buffer.from('ccrun code-cache warm-up\n'));
  await tar.finish();
  return Buffer.concat(chunks);
}

async function image() {
  const crypto = require('crypto');
  const zlib = require('zlib');
  const digest = (b) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
  const tar = await layerTar();
  const layer = zlib.gzipSync(tar);
  // The host's platform, as pull picks it.
  const { os, architecture, variant } = require('../dist/image/platform.js').hostPlatform();
  const config = Buffer.from(
    JSON.stringify({ architecture, os, ...(variant ? { variant } : {}), config: { Cmd: ['/warmup.txt'] }, rootfs: { type: 'layers', diff_ids: [digest(tar)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(layer), size: layer.length }],
    }),
  );
  const blobs = new Map([config, layer].map((b) => [digest(b), b]));
  return { manifest, manifestDigest: digest(manifest), blobs };
}

async function serve(portCell) {
  const http = require('http');
  const { manifest, manifestDigest, blobs } = await image();
  const server = http.createServer((req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Length': body.length, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v2/') return send(200, Buffer.from('{}'), { 'Content-Type': 'application/json' });
    if (path === `/v2/${REPO}/manifests/latest` || path === `/v2/${REPO}/manifests/${manifestDigest}`) {
      return send(200, manifest, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': manifestDigest });
    }
    const blob = path.startsWith(`/v2/${REPO}/blobs/`) ? blobs.get(path.slice(`/v2/${REPO}/blobs/`.length)) : undefined;
    if (blob) return send(200, blob, { 'Content-Type': 'application/octet-stream' });
    send(404, Buffer.from(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'only warmup/image is served' }] })), { 'Content-Type': 'application/json' });
  });
  server.listen(0, '127.0.0.1', () => {
    Atomics.store(portCell, 0, server.address().port);
    Atomics.notify(portCell, 0);
  });
}

/** Starts the registry; throws if it is not listening within 10 s. */
function startWarmupRegistry() {
  const portCell = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(__filename, { workerData: portCell });
  worker.unref();
  Atomics.wait(portCell, 0, 0, 10_000);
  const port = Atomics.load(portCell, 0);
  if (!port) {
    void worker.terminate();
    throw new Error('warmup-registry: the registry did not start');
  }
  return { host: `127.0.0.1:${port}`, repo: REPO, stop: () => worker.terminate() };
}

if (isMainThread) module.exports = { startWarmupRegistry };
else void serve(workerData);
