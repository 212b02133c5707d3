// A real registry for tests: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 with token authentication, behind a small proxy that sends blob
// GETs with a 307 to a second origin ("the CDN") which refuses any request
// carrying Authorization. Fault injection lives in the proxy and the CDN.
//
//   const reg = await startRegistry(t);          // stopped in t.teardown
//   reg.host                                     // "127.0.0.1:PORT" (the proxy: what clients use)
//   await reg.pushImage('app', 'v1', { layers: [{ data: gz, mediaType }], config })
//        -> { manifestDigest, manifestSize, configDigest, manifest, layers }
//   await reg.pushIndex('app', 'multi', { mediaType: 'oci' | 'docker', manifests: [...] })
//        -> { digest }
//   reg.user / reg.password                      // the one account the token server knows
//   reg.blobFault(digest, 'corrupt' | 'truncate' | 'drop' | 'drop-once' | 'stall')   // CDN misbehaves for that blob
//        (stall: sends half, then nothing, keeping the connection open)
//   reg.override(path, { status, headers, body })  // proxy answers a path itself (e.g. a schema1 manifest)
//   reg.requireAuth(prefix)                      // repositories under prefix need the account (default "private/")
//   reg.stats                                    // { tokenRequests, tokenBasicAuth, cdnAuthRejected, blobGets, manifestGets, rangeRequests }
//   reg.ranges(false)                            // the CDN ignores Range (answers 200 with everything)
//   reg.stop()
//
// Tokens are ES256 JWTs signed by a key whose self-signed certificate is the
// registry's rootcertbundle; the key id is libtrust's fingerprint, which is
// how distribution 2.8 finds the key. Anonymous tokens get pull access except
// under the protected prefix; the account gets pull and push everywhere.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { gunzipSync } from 'zlib';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface PushLayer {
  /** The layer blob as pushed (already compressed). */
  data: Buffer;
  mediaType: string;
}

export interface PushImageOptions {
  layers: PushLayer[];
  /** The image config; rootfs.diff_ids is filled in from the layers when missing. */
  config: Record<string, unknown>;
  /** Manifest flavour: OCI (default) or Docker schema2. */
  format?: 'oci' | 'docker';
  annotations?: Record<string, string>;
}

export interface PushedImage {
  manifestDigest: string;
  manifestSize: number;
  manifestMediaType: string;
  configDigest: string;
  manifest: Buffer;
  layers: { digest: string; size: number; mediaType: string; diffId: string }[];
}

export interface IndexEntryInput {
  digest: string;
  size: number;
  mediaType: string;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export type BlobFault = 'corrupt' | 'truncate' | 'drop' | 'drop-once' | 'stall';

export interface Override {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Answer this many times, then pass requests through again (default: until removed). */
  times?: number;
  /** Only for these methods (default: all). */
  methods?: string[];
}

export interface RegistryRig {
  host: string;
  registryHost: string;
  user: string;
  password: string;
  stats: { tokenRequests: number; tokenBasicAuth: number; cdnAuthRejected: number; blobGets: number; manifestGets: number; rangeRequests: number };
  pushImage(name: string, tag: string | undefined, o: PushImageOptions): Promise<PushedImage>;
  pushIndex(name: string, tag: string, o: { mediaType?: 'oci' | 'docker'; manifests: IndexEntryInput[] }): Promise<{ digest: string; size: number; bytes: Buffer }>;
  pushBlob(name: string, data: Buffer): Promise<string>;
  blobFault(digest: string, fault: BlobFault | undefined): void;
  override(path: string, o: Override | undefined): void;
  requireAuth(prefix: string): void;
  /** Whether the blob origin honours Range requests (default true). */
  ranges(supported: boolean): void;
  /** Lifetime of tokens minted from now on (seconds). */
  tokenLifetime(seconds: number): void;
  stop(): Promise<void>;
}

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

const SERVICE = 'ccrun-test-registry';
const ISSUER = 'ccrun-test-issuer';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** libtrust's key id: base32 of the first 240 bits of sha256(SPKI DER), in groups of 4. */
function libtrustKeyId(pub: KeyObject): string {
  const der = pub.export({ type: 'spki', format: 'der' });
  const h = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of h) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    server.on('error', reject);
  });
}

/** The uncompressed tar's digest of a layer blob. */
export function diffIdOf(data: Buffer, mediaType: string): string {
  if (mediaType.endsWith('gzip')) return sha256(gunzipSync(data));
  if (mediaType.endsWith('zstd')) {
    const r = spawnSync('zstd', ['-d', '-q', '-c'], { input: data, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`zstd -d failed: ${r.stderr}`);
    return sha256(r.stdout);
  }
  return sha256(data);
}

interface Req {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

function request(base: string, r: Req): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(r.url, base), { method: r.method, headers: r.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

export async function startRegistry(t: Teardown): Promise<RegistryRig> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'ccrun-registry-'));
  const servers: http.Server[] = [];
  let child: ChildProcess | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child && child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  const ossl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ccrun-test-token'], { encoding: 'utf8' });
  if (ossl.status !== 0) throw new Error(`openssl failed: ${ossl.stderr}`);
  const key = createPrivateKey(fs.readFileSync(keyFile));
  const kid = libtrustKeyId(createPublicKey(key));

  const user = 'ccrun-user';
  const password = 'pässword:with spaces';
  let protectedPrefix = 'private/';
  let lifetime = 300;
  const stats = { tokenRequests: 0, tokenBasicAuth: 0, cdnAuthRejected: 0, blobGets: 0, manifestGets: 0, rangeRequests: 0 };
  let rangesSupported = true;

  const mint = (access: { type: string; name: string; actions: string[] }[], subject: string): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', kid };
    const claims = { iss: ISSUER, sub: subject, aud: SERVICE, exp: now + lifetime, nbf: now - 30, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(sig)}`;
  };

  // ---- token server ----
  const tokenServer = http.createServer((req, res) => {
    stats.tokenRequests++;
    const url = new URL(req.url ?? '/', 'http://x');
    let subject = '';
    const auth = req.headers.authorization;
    if (auth) {
      stats.tokenBasicAuth++;
      const m = /^Basic (.+)$/.exec(auth);
      const plain = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
      if (plain !== `${user}:${password}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'wrong username or password' }] }));
        return;
      }
      subject = user;
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      const [type, name, actions] = s.split(':');
      if (type !== 'repository' || !name) return [];
      if (!subject && name.startsWith(protectedPrefix)) return [];
      const allowed = actions.split(',').filter((a) => a === 'pull' || (subject && (a === 'push' || a === '*')));
      return allowed.length ? [{ type, name, actions: allowed }] : [];
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: mint(access, subject), expires_in: lifetime, issued_at: new Date().toISOString() }));
  });
  servers.push(tokenServer);
  const tokenPort = await listen(tokenServer);

  // ---- the registry ----
  const registryPort = await freePort();
  const storage = join(dir, 'storage');
  fs.mkdirSync(storage);
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${registryPort}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    'auth:',
    '  token:',
    `    realm: http://127.0.0.1:${tokenPort}/token`,
    `    service: ${SERVICE}`,
    `    issuer: ${ISSUER}`,
    `    rootcertbundle: ${certFile}`,
    '',
  ].join('\n');
  fs.writeFileSync(join(dir, 'config.yml'), config);
  const logFd = fs.openSync(join(dir, 'registry.log'), 'w');
  child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const registryBase = `http://127.0.0.1:${registryPort}`;
  for (let i = 0; ; i++) {
    try {
      const r = await request(registryBase, { method: 'GET', url: '/v2/' });
      if (r.status === 401) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || i > 200) {
      throw new Error(`docker-registry did not start: ${fs.readFileSync(join(dir, 'registry.log'), 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  // ---- the CDN: blob bytes straight from the registry's storage ----
  const faults = new Map<string, BlobFault>();
  const cdn = http.createServer((req, res) => {
    if (req.headers.authorization) {
      stats.cdnAuthRejected++;
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('Authorization must not be sent to the blob origin\n');
      return;
    }
    const m = /^\/blobs\/sha256:([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const file = m ? join(storage, 'docker/registry/v2/blobs/sha256', m[1].slice(0, 2), m[1], 'data') : '';
    if (!m || !fs.existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    let data = fs.readFileSync(file);
    const digest = `sha256:${m[1]}`;
    const fault = faults.get(digest);
    if (fault === 'corrupt') {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    } else if (fault === 'truncate') {
      data = data.subarray(0, data.length >> 1);
    }
    if (fault === 'stall') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
      res.write(data.subarray(0, data.length >> 1));
      return;
    }
    if (fault === 'drop' || fault === 'drop-once') {
      if (fault === 'drop-once') faults.delete(digest);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
      res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && rangesSupported) {
      stats.rangeRequests++;
      const from = Number(range[1]);
      res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length - from, 'Content-Range': `bytes ${from}-${data.length - 1}/${data.length}` });
      res.end(data.subarray(from));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
    res.end(data);
  });
  servers.push(cdn);
  const cdnPort = await listen(cdn);

  // ---- the proxy clients talk to ----
  const overrides = new Map<string, Override>();
  const proxy = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const o = overrides.get(path);
    if (o && (o.methods === undefined || o.methods.includes(req.method ?? ''))) {
      if (o.times !== undefined && --o.times <= 0) overrides.delete(path);
      res.writeHead(o.status, o.headers ?? {});
      res.end(req.method === 'HEAD' ? undefined : o.body);
      return;
    }
    const isBlob = req.method === 'GET' && /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/.test(path);
    if (isBlob) stats.blobGets++;
    if (req.method === 'GET' && /\/manifests\//.test(path)) stats.manifestGets++;
    const up = http.request(`${registryBase}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      if (isBlob && (upRes.statusCode === 200 || upRes.statusCode === 206)) {
        // The registry agreed (auth checked): send the client to the CDN instead.
        upRes.destroy();
        res.writeHead(307, { Location: `http://127.0.0.1:${cdnPort}/blobs/${path.split('/').pop()}` });
        res.end();
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  servers.push(proxy);
  const proxyPort = await listen(proxy);

  const pushToken = (name: string): string => `Bearer ${mint([{ type: 'repository', name, actions: ['pull', 'push'] }], user)}`;

  const pushBlob = async (name: string, data: Buffer): Promise<string> => {
    const digest = sha256(data);
    const auth = pushToken(name);
    const head = await request(registryBase, { method: 'HEAD', url: `/v2/${name}/blobs/${digest}`, headers: { Authorization: auth } });
    if (head.status === 200) return digest;
    const start = await request(registryBase, { method: 'POST', url: `/v2/${name}/blobs/uploads/`, headers: { Authorization: auth, 'Content-Length': '0' } });
    if (start.status !== 202) throw new Error(`upload start for ${name}: ${start.status} ${start.body}`);
    const loc = new URL(String(start.headers.location), registryBase);
    loc.searchParams.set('digest', digest);
    const put = await request(registryBase, {
      method: 'PUT',
      url: loc.toString(),
      headers: { Authorization: auth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) },
      body: data,
    });
    if (put.status !== 201) throw new Error(`blob upload for ${name}: ${put.status} ${put.body}`);
    return digest;
  };

  const putManifest = async (name: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> => {
    const r = await request(registryBase, {
      method: 'PUT',
      url: `/v2/${name}/manifests/${reference}`,
      headers: { Authorization: pushToken(name), 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: bytes,
    });
    if (r.status !== 201) throw new Error(`manifest PUT ${name}:${reference}: ${r.status} ${r.body}`);
    return sha256(bytes);
  };

  return {
    host: `127.0.0.1:${proxyPort}`,
    registryHost: `127.0.0.1:${registryPort}`,
    user,
    password,
    stats,
    pushBlob,
    async pushImage(name, tag, o) {
      const docker = o.format === 'docker';
      const layers = [];
      for (const l of o.layers) {
        const digest = await pushBlob(name, l.data);
        layers.push({ digest, size: l.data.length, mediaType: l.mediaType, diffId: diffIdOf(l.data, l.mediaType) });
      }
      const cfg = { ...o.config };
      if (!cfg.rootfs) cfg.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
      const cfgBytes = Buffer.from(JSON.stringify(cfg));
      const configDigest = await pushBlob(name, cfgBytes);
      const manifestMediaType = docker ? MT.dockerManifest : MT.ociManifest;
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: manifestMediaType,
          config: { mediaType: docker ? MT.dockerConfig : MT.ociConfig, digest: configDigest, size: cfgBytes.length },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
          ...(o.annotations ? { annotations: o.annotations } : {}),
        }),
      );
      const manifestDigest = sha256(manifest);
      await putManifest(name, tag ?? manifestDigest, manifestMediaType, manifest);
      return { manifestDigest, manifestSize: manifest.length, manifestMediaType, configDigest, manifest, layers };
    },
    async pushIndex(name, tag, o) {
      const mediaType = o.mediaType === 'docker' ? MT.dockerList : MT.ociIndex;
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: o.manifests }));
      const digest = await putManifest(name, tag, mediaType, bytes);
      return { digest, size: bytes.length, bytes };
    },
    blobFault(digest, fault) {
      if (fault) faults.set(digest, fault);
      else faults.delete(digest);
    },
    override(path, o) {
      if (o) overrides.set(path, { ...o });
      else overrides.delete(path);
    },
    requireAuth(prefix) {
      protectedPrefix = prefix;
    },
    ranges(supported) {
      rangesSupported = supported;
    },
    tokenLifetime(seconds) {
      lifetime = seconds;
    },
    stop,
  };
}
