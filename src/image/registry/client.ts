// A Registry HTTP API V2 client on Node's own http/https (full control of
// redirects and headers; loads faster than fetch). It handles the 401
// challenge (Bearer tokens, anonymous or with Basic credentials, renewed on
// expiry; plain Basic registries), redirects (never sending Authorization to
// another origin), bounded retries with backoff on connection errors and
// 5xx, and 429 with Retry-After.
import type { IncomingMessage, Agent, ClientRequest } from 'http';
import { AuthError, ImageNotFoundError, RegistryError } from '../errors';
import { apiHost } from '../reference';
import { MANIFEST_ACCEPT } from '../media-types';
import type { Credentials } from './credentials';
import type { Challenge, Token } from './auth';
// The token dance (./auth) is loaded on a 401 only: an anonymous HEAD of a present image needs none of it.
const authLib = (): typeof import('./auth') => require('./auth') as typeof import('./auth');

export interface RegistryClientOptions {
  /** Plain http allowed for this registry (see insecureRegistry()). */
  insecure?: boolean;
  /** Other hosts allowed over plain http (redirect targets, token realms). */
  insecureHosts?: string[];
  credentials?: Credentials;
  debug?: (msg: string) => void;
  maxRetries?: number;
  retryBaseMs?: number;
  /** The longest Retry-After we wait for on 429 before giving up. */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
  /** Time source for token expiry (tests). */
  now?: () => number;
}

const MAX_REDIRECTS = 10;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export function isLoopbackHost(hostport: string): boolean {
  const host = hostport.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Insecure registries: CCRUN_INSECURE_REGISTRIES (comma-separated host[:port]) plus the ones given. */
export function insecureRegistries(extra: string[] = []): string[] {
  const env = (process.env.CCRUN_INSECURE_REGISTRIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [...env, ...extra].map((s) => s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase());
}

/**
 * NODE_EXTRA_CA_CERTS as Node applies it (the default roots plus the file's),
 * given to our agent: bin/ccrun starts node without the variable, which Node
 * would otherwise parse on every command (see bin/ccrun). An unreadable file
 * is ignored with a warning, as Node does.
 */
export function extraCaOption(env = process.env): { ca?: string[] } {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return {};
  try {
    /* eslint-disable @typescript-eslint/no-var-requires */
    const fs = require('fs') as typeof import('fs');
    const tls = require('tls') as typeof import('tls');
    /* eslint-enable @typescript-eslint/no-var-requires */
    return { ca: [...tls.rootCertificates, fs.readFileSync(file, 'utf8')] };
  } catch (e) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    return {};
  }
}

/** Plain http is used only for loopback registries and those listed as insecure. */
export function allowsHttp(hostport: string, insecure: string[]): boolean {
  const h = hostport.toLowerCase();
  return isLoopbackHost(h) || insecure.includes(h) || insecure.includes(h.replace(/:\d+$/, ''));
}

export function isConnectionError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err !== 'object') return false;
  if (err.code && RETRYABLE_CODES.has(err.code)) return true;
  return /socket hang up|aborted|timed out|premature close/i.test(String(err.message));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function drain(res: IncomingMessage): void {
  res.resume();
  res.on('error', () => undefined);
}

async function readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new RegistryError(`${what} is larger than ${limit} bytes; refusing it`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The registry's error message from its JSON error body, if it sent one. */
async function errorDetail(res: IncomingMessage): Promise<string> {
  try {
    const body = (await readBody(res, 64 * 1024, 'error body')).toString('utf8');
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    if (e) return [e.code, e.message].filter(Boolean).join(': ');
  } catch {
    /* no usable body */
  }
  return '';
}

function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

export interface ManifestResponse {
  bytes: Buffer;
  contentType: string;
  /** Docker-Content-Digest, when the registry sent one. */
  headerDigest?: string;
}

interface SendOptions {
  scope?: string;
  headers?: Record<string, string>;
  /** What the request is for, in errors ("manifest docker.io/library/busybox:latest"). */
  what: string;
}

export class RegistryClient {
  readonly base: URL;
  private readonly insecure: string[];
  private readonly agents = new Map<string, Agent>();
  private readonly tokens = new Map<string, Token>();
  private challenge: Challenge | undefined;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number;

  constructor(
    readonly domain: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    const host = apiHost(domain);
    this.insecure = [...(opts.insecureHosts ?? []), ...(opts.insecure ? [host] : [])].map((h) => h.toLowerCase());
    const scheme = allowsHttp(host, this.insecure) ? 'http' : 'https';
    this.base = new URL(`${scheme}://${host}`);
    this.maxRetries = opts.maxRetries ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? 250;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private debug(msg: string): void {
    this.opts.debug?.(msg);
  }

  /** Frees kept-alive connections. */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  // ---- transport ----

  private agentFor(url: URL): Agent {
    const key = url.protocol;
    let a = this.agents.get(key);
    if (!a) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const mod = (url.protocol === 'https:' ? require('https') : require('http')) as typeof import('http');
      a = new mod.Agent({ keepAlive: true, maxSockets: 16, ...(url.protocol === 'https:' ? extraCaOption() : {}) });
      this.agents.set(key, a);
    }
    return a;
  }

  private requestOnce(method: string, url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    if (url.protocol === 'http:' && !allowsHttp(url.host, this.insecure)) {
      return Promise.reject(
        new RegistryError(`refusing plain http to ${url.host}: only loopback registries and those in CCRUN_INSECURE_REGISTRIES (or --insecure-registry) may use http`),
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new RegistryError(`unsupported URL scheme in ${url.protocol}//${url.host}`));
    }
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = (url.protocol === 'https:' ? require('https') : require('http')) as typeof import('http');
    return new Promise((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const req: ClientRequest = mod.request(url, { method, headers: { 'User-Agent': 'ccrun/0.1', ...headers }, agent: this.agentFor(url) }, (res) => {
        response = res;
        resolve(res);
      });
      // The socket's idle timeout also covers a body that stops arriving midway.
      req.setTimeout(this.timeoutMs, () => {
        const err = Object.assign(new Error(`no answer from ${url.host} in ${this.timeoutMs / 1000} s (timed out)`), { code: 'ETIMEDOUT' });
        if (response) response.destroy(err);
        req.destroy(err);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (url.protocol === 'https:' && (/^ERR_SSL|^EPROTO$/.test(e.code ?? '') || /wrong version number|SSL routines/.test(e.message))) {
          reject(
            new RegistryError(
              `TLS handshake with ${url.host} failed (${e.message.split('\n')[0]}); if it is a plain-http registry, list it in CCRUN_INSECURE_REGISTRIES or pass --insecure-registry ${url.host}`,
            ),
          );
        } else reject(e);
      });
      req.end();
    });
  }

  /** Follows redirects; Authorization goes only to the origin it was meant for. */
  private async follow(method: string, start: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    let url = start;
    let h = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.requestOnce(method, url, h);
      const status = res.statusCode ?? 0;
      this.debug(`${method} ${url.origin}${url.pathname} -> ${status}`);
      if (![301, 302, 303, 307, 308].includes(status) || !res.headers.location) return res;
      drain(res);
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`too many redirects fetching ${start.pathname} from ${this.domain}`);
      const next = new URL(res.headers.location, url);
      if (next.origin !== start.origin) {
        const { Authorization: _dropped, ...rest } = h;
        h = rest;
      }
      url = next;
      if (status === 303) method = 'GET';
    }
  }

  private authHeader(scope: string | undefined): string | undefined {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = this.opts.credentials;
      return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    }
    const t = this.tokens.get(scope ?? '');
    return t && t.expiresAt > (this.opts.now ?? Date.now)() ? `Bearer ${t.token}` : undefined;
  }

  /** Gets a token for the scope from the challenge's realm. */
  private async fetchToken(ch: Challenge, scope: string | undefined): Promise<void> {
    const realmText = ch.params.realm;
    if (!realmText) throw new RegistryError(`${this.domain} asked for a token but named no realm`);
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new RegistryError(`${this.domain} named an invalid token realm "${realmText}"`);
    }
    if (ch.params.service) realm.searchParams.set('service', ch.params.service);
    const scopes = new Set<string>();
    if (scope) scopes.add(scope);
    for (const s of (ch.params.scope ?? '').split(' ')) if (s) scopes.add(s);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    // Like Docker: the registry names its token service, and credentials for
    // this registry go there (never over plain http unless that host is
    // loopback or listed insecure; never on redirects to another origin).
    const c = this.opts.credentials;
    if (c) headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    const res = await this.withRetries(() => this.follow('GET', realm, headers), `token from ${realm.host}`);
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      drain(res);
      throw new AuthError(
        c ? `login to ${this.domain} failed: the token service at ${realm.host} refused the username or password` : `${this.domain} requires credentials: run ccrun login ${this.domain}`,
        status,
      );
    }
    if (status !== 200) {
      const detail = await errorDetail(res);
      throw new RegistryError(`token service ${realm.host} answered ${status}${detail ? ` (${detail})` : ''}`, status);
    }
    const token = authLib().parseTokenResponse((await readBody(res, 1024 * 1024, 'token response')).toString('utf8'), (this.opts.now ?? Date.now)());
    if (!token) throw new RegistryError(`token service ${realm.host} sent no token`);
    this.tokens.set(scope ?? '', token);
  }

  /** Connection errors and 5xx are retried with exponential backoff; 429 waits for Retry-After. */
  private async withRetries(attempt: () => Promise<IncomingMessage>, what: string): Promise<IncomingMessage> {
    for (let n = 0; ; n++) {
      let res: IncomingMessage;
      try {
        res = await attempt();
      } catch (e) {
        if (!isConnectionError(e) || n >= this.maxRetries) {
          if (isConnectionError(e)) throw new RegistryError(`cannot reach ${this.domain} for ${what}: ${(e as Error).message} (gave up after ${n + 1} tries)`);
          throw e;
        }
        this.debug(`${what}: ${(e as Error).message}; retrying`);
        await sleep(this.retryBaseMs * 2 ** n);
        continue;
      }
      const status = res.statusCode ?? 0;
      if (status === 429) {
        const wait = retryAfterMs(res.headers['retry-after'] as string | undefined) ?? this.retryBaseMs * 2 ** n;
        drain(res);
        if (n >= this.maxRetries || wait > this.maxRetryAfterMs) {
          throw new RegistryError(`${this.domain} is rate-limiting requests (429 Too Many Requests) for ${what}; try again in ${Math.ceil(wait / 1000)} s`, 429);
        }
        this.debug(`${what}: 429, waiting ${wait} ms`);
        await sleep(wait);
        continue;
      }
      if (status >= 500 && n < this.maxRetries) {
        drain(res);
        this.debug(`${what}: ${status}; retrying`);
        await sleep(this.retryBaseMs * 2 ** n);
        continue;
      }
      return res;
    }
  }

  /** A request to the registry with the auth dance; returns any final response (caller checks status). */
  private async send(method: string, path: string, o: SendOptions): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    let reauthed = false;
    for (;;) {
      if (this.challenge?.scheme === 'bearer' && !this.authHeader(o.scope)) await this.fetchToken(this.challenge, o.scope);
      const auth = this.authHeader(o.scope);
      const headers = { ...(o.headers ?? {}), ...(auth ? { Authorization: auth } : {}) };
      const res = await this.withRetries(() => this.follow(method, url, headers), o.what);
      if (res.statusCode !== 401 || reauthed) return res;
      const ch = authLib().parseChallenge(res.headers['www-authenticate']);
      drain(res);
      if (!ch) throw new AuthError(`${this.domain} answered 401 for ${o.what} without a usable WWW-Authenticate challenge`, 401);
      this.challenge = ch;
      reauthed = true;
      if (ch.scheme === 'basic') {
        if (!this.opts.credentials) throw new AuthError(`${this.domain} requires credentials: run ccrun login ${this.domain}`, 401);
      } else {
        this.tokens.delete(o.scope ?? '');
        await this.fetchToken(ch, o.scope);
      }
    }
  }

  private async failure(res: IncomingMessage, what: string): Promise<never> {
    const status = res.statusCode ?? 0;
    const detail = await errorDetail(res);
    const suffix = detail ? ` (${detail})` : '';
    if (status === 401 || status === 403) {
      const hint = this.opts.credentials ? `the credentials for ${this.domain} were refused` : `the repository does not exist, or it is private: run ccrun login ${this.domain}`;
      throw new AuthError(`access to ${what} denied (${status})${suffix}: ${hint}`, status);
    }
    if (status === 404) throw new ImageNotFoundError(`${what} not found${suffix}`);
    throw new RegistryError(`${this.domain} answered ${status} for ${what}${suffix}`, status);
  }

  // ---- API ----

  private static scope(repo: string): string {
    return `repository:${repo}:pull`;
  }

  /** GET /v2/<repo>/manifests/<reference> with every manifest type in Accept. */
  async getManifest(repo: string, reference: string): Promise<ManifestResponse> {
    const what = `manifest ${this.domain}/${repo}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.send('GET', `/v2/${repo}/manifests/${reference}`, { scope: RegistryClient.scope(repo), headers: { Accept: MANIFEST_ACCEPT }, what });
    if (res.statusCode !== 200) return this.failure(res, what);
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, what);
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0].trim();
    const headerDigest = res.headers['docker-content-digest'] as string | undefined;
    return { bytes, contentType, headerDigest };
  }

  /** HEAD of a manifest: its digest, cheaply (HEADs do not count against Docker Hub's rate limit). */
  async headManifest(repo: string, reference: string): Promise<string | undefined> {
    const what = `manifest ${this.domain}/${repo}:${reference}`;
    const res = await this.send('HEAD', `/v2/${repo}/manifests/${reference}`, { scope: RegistryClient.scope(repo), headers: { Accept: MANIFEST_ACCEPT }, what });
    drain(res);
    if (res.statusCode !== 200) return undefined;
    return res.headers['docker-content-digest'] as string | undefined;
  }

  /** GET of a blob (following redirects); the caller streams and verifies the body. */
  async getBlob(repo: string, digest: string, from = 0): Promise<IncomingMessage> {
    const what = `blob ${digest} of ${this.domain}/${repo}`;
    const headers: Record<string, string> = from > 0 ? { Range: `bytes=${from}-` } : {};
    const res = await this.send('GET', `/v2/${repo}/blobs/${digest}`, { scope: RegistryClient.scope(repo), what, headers });
    if (res.statusCode !== 200 && res.statusCode !== 206) return this.failure(res, what);
    return res;
  }

  /** What `login` does: authenticate against /v2/ with the credentials; throws AuthError if refused. */
  async checkLogin(): Promise<void> {
    const what = `the registry API of ${this.domain}`;
    const res = await this.send('GET', '/v2/', { what });
    if (res.statusCode === 200) {
      drain(res);
      if (!this.challenge) this.debug(`${this.domain} asks for no authentication`);
      return;
    }
    return this.failure(res, what);
  }
}
