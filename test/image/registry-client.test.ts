// The registry client against small fake servers, for what the real registry
// cannot show quickly: Basic-auth registries, token expiry and renewal,
// redirects within and across origins, and the http rule.
import t from 'tap';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { RegistryClient } from '../../src/image/registry/client';
import { parseChallenge, parseTokenResponse } from '../../src/image/registry/auth';
import { AuthError, RegistryError } from '../../src/image/errors';

interface Seen {
  url: string;
  auth?: string;
}

async function server(t: Tap.Test, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ host: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    s.closeAllConnections();
    return new Promise((r) => s.close(r));
  });
  return { host: `127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

t.test('challenge and token parsing', async (t) => {
  t.same(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  });
  t.same(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  t.equal(parseChallenge('Negotiate'), undefined);
  t.same(parseTokenResponse('{"access_token":"abc"}', 1000), { token: 'abc', expiresAt: 1000 + 55_000 }, 'access_token, default 60 s');
  t.same(parseTokenResponse('{"token":"x","expires_in":300}', 0), { token: 'x', expiresAt: 295_000 });
  t.equal(parseTokenResponse('{}'), undefined);
});

t.test('Basic-auth registries get the credentials; wrong ones are an AuthError', async (t) => {
  const reg = await server(t, (req, res) => {
    if (req.headers.authorization !== basic('u', 'p')) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' });
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': 'sha256:' + '0'.repeat(64) });
    res.end('{}');
  });
  const c = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'p' } });
  t.teardown(() => c.close());
  const m = await c.getManifest('a/b', 'v1');
  t.equal(m.contentType, 'application/vnd.oci.image.manifest.v1+json');
  await c.checkLogin();
  const bad = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'nope' } });
  t.teardown(() => bad.close());
  await t.rejects(bad.checkLogin(), AuthError);
  const anon = new RegistryClient(reg.host);
  t.teardown(() => anon.close());
  await t.rejects(anon.getManifest('a/b', 'v1'), /requires credentials: run ccrun login 127\.0\.0\.1:\d+/);
});

t.test('tokens are renewed when they expire, and after a 401 with a stale one', async (t) => {
  let issued = 0;
  let valid = new Set<string>();
  const auth = await server(t, (req, res) => {
    const tok = `tok${++issued}`;
    valid.add(tok);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: tok, expires_in: 120 }));
  });
  const reg = await server(t, (req, res) => {
    const tok = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!valid.has(tok)) {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${auth.host}/token",service="fake"` });
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end('{}');
  });
  let clock = 1_000_000;
  const c = new RegistryClient(reg.host, { now: () => clock });
  t.teardown(() => c.close());
  await c.getManifest('x/y', 'a');
  await c.getManifest('x/y', 'b');
  t.equal(issued, 1, 'one token serves requests while valid');
  t.match(auth.seen[0].url, /service=fake&scope=repository%3Ax%2Fy%3Apull/);
  t.equal(auth.seen[0].auth, undefined, 'anonymous token request');
  clock += 121_000;
  const before = reg.seen.length;
  await c.getManifest('x/y', 'c');
  t.equal(issued, 2, 'expired token renewed');
  t.equal(reg.seen.length - before, 1, 'renewed before asking, without a 401 round trip');
  valid = new Set(); // the registry forgets every token (e.g. key rotation)
  await c.getManifest('x/y', 'd');
  t.equal(issued, 3, 'renewed after a 401');
});

t.test('redirects: Authorization kept on the same origin, dropped on another; http only to loopback', async (t) => {
  const cdn = await server(t, (req, res) => {
    if (req.headers.authorization) {
      res.writeHead(400);
      return res.end();
    }
    res.writeHead(200);
    res.end('blob bytes');
  });
  const reg = await server(t, (req, res) => {
    if (req.headers.authorization !== basic('u', 'p')) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' });
      return res.end();
    }
    if (req.url === '/v2/r/blobs/sha256:1') {
      res.writeHead(307, { Location: '/v2/r/blobs/sha256:2' });
      return res.end();
    }
    if (req.url === '/v2/r/blobs/sha256:2') {
      res.writeHead(302, { Location: `http://${cdn.host}/data` });
      return res.end();
    }
    res.writeHead(301, { Location: 'http://registry.example.com/elsewhere' });
    res.end();
  });
  const c = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'p' } });
  t.teardown(() => c.close());
  const res = await c.getBlob('r', 'sha256:1');
  let body = '';
  for await (const chunk of res) body += chunk;
  t.equal(body, 'blob bytes');
  t.same(reg.seen.slice(-2).map((s) => s.auth), [basic('u', 'p'), basic('u', 'p')], 'same-origin redirect keeps Authorization');
  t.same(cdn.seen.map((s) => s.auth), [undefined], 'cross-origin redirect drops it');
  await t.rejects(c.getBlob('r', 'sha256:3'), /refusing plain http to registry\.example\.com: only loopback registries and those in CCRUN_INSECURE_REGISTRIES/);
});

t.test('connection errors are retried, then reported', async (t) => {
  const c = new RegistryClient('127.0.0.1:1', { retryBaseMs: 1, maxRetries: 2 });
  t.teardown(() => c.close());
  const e = await c.getManifest('a', 'b').catch((x: unknown) => x);
  t.type(e, RegistryError);
  t.match((e as Error).message, /cannot reach 127\.0\.0\.1:1 for manifest .*ECONNREFUSED.*gave up after 3 tries/);
});
