// Credentials in Docker's config.json ($DOCKER_CONFIG/config.json or
// ~/.docker/config.json): `auths` entries with base64 "user:password", as
// `docker login` writes them; credential helpers (credHelpers/credsStore)
// are read through `docker-credential-<name> get`. The file is written 0600,
// atomically, keeping every other key as it was.
import * as fs from 'fs';
import { dirname, join } from 'path';
import { DOCKER_DOMAIN, credentialKey } from '../reference';
import { ImageError } from '../errors';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || join(process.env.HOME || (require('os') as typeof import('os')).homedir(), '.docker');
  return join(dir, 'config.json');
}

function readConfig(path: string): DockerConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  if (text.trim() === '') return {};
  try {
    const c = JSON.parse(text) as unknown;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new Error('not a JSON object');
    return c as DockerConfig;
  } catch (e) {
    throw new ImageError(`cannot read credentials from ${path}: ${(e as Error).message}`);
  }
}

/** The host a config.json key names ("https://index.docker.io/v1/" -> "docker.io"). */
function keyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_DOMAIN : host;
}

function decodeEntry(e: AuthEntry): Credentials | undefined {
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return undefined;
}

function fromHelper(helper: string, domain: string): Credentials | undefined {
  const server = credentialKey(domain);
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const r = spawnSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', timeout: 30000 });
  if (r.error || r.status !== 0) return undefined;
  try {
    const out = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    return out.Username && out.Secret ? { username: out.Username, password: out.Secret } : undefined;
  } catch {
    return undefined;
  }
}

/** Credentials stored for a registry domain ("docker.io", "host:5000"), if any. */
export function lookupCredentials(domain: string, path = dockerConfigPath()): Credentials | undefined {
  const cfg = readConfig(path);
  const want = domain.toLowerCase();
  const helper = cfg.credHelpers?.[domain] ?? (domain === DOCKER_DOMAIN ? cfg.credHelpers?.['index.docker.io'] : undefined);
  if (helper) return fromHelper(helper, domain);
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (keyHost(key) !== want) continue;
    const c = decodeEntry(entry ?? {});
    if (c) return c;
  }
  if (cfg.credsStore) return fromHelper(cfg.credsStore, domain);
  return undefined;
}

function writeConfig(path: string, cfg: DockerConfig): void {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.config.json.${process.pid}.${(require('crypto') as typeof import('crypto')).randomBytes(6).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(cfg, null, '\t') + '\n');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function saveCredentials(domain: string, creds: Credentials, path = dockerConfigPath()): void {
  const cfg = readConfig(path);
  const auths = { ...(cfg.auths ?? {}) };
  for (const key of Object.keys(auths)) if (keyHost(key) === domain.toLowerCase()) delete auths[key];
  auths[credentialKey(domain)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  writeConfig(path, { ...cfg, auths });
}

/** Returns false when there was nothing stored for the domain. */
export function removeCredentials(domain: string, path = dockerConfigPath()): boolean {
  const cfg = readConfig(path);
  const auths = { ...(cfg.auths ?? {}) };
  let removed = false;
  for (const key of Object.keys(auths)) {
    if (keyHost(key) === domain.toLowerCase()) {
      delete auths[key];
      removed = true;
    }
  }
  if (removed) writeConfig(path, { ...cfg, auths });
  return removed;
}

/** The registry a login/logout argument names: "https://index.docker.io/v1/" -> "docker.io"; default docker.io. */
export function registryDomain(arg: string | undefined): string {
  if (!arg) return DOCKER_DOMAIN;
  const host = keyHost(arg);
  if (!/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d+)?$/.test(host) || host === '') {
    throw new ImageError(`invalid registry "${arg}": expected a host name with an optional port, e.g. registry.example.com:5000`);
  }
  return host;
}
