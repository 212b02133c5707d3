// Image references, parsed and normalised as Docker does (the grammar of
// github.com/distribution/reference): `busybox` is
// docker.io/library/busybox:latest; a first component with '.' or ':' or
// equal to "localhost" is a registry host.
import { ReferenceError } from './errors';

export interface ImageReference {
  /** Registry host as written by users ("docker.io", "127.0.0.1:5000"). */
  domain: string;
  /** Repository path inside the registry ("library/busybox"). */
  path: string;
  /** Tag; "latest" when neither tag nor digest was given. */
  tag?: string;
  /** "sha256:<hex>" when pinned by digest. */
  digest?: string;
}

export const DOCKER_DOMAIN = 'docker.io';
const DOCKER_API_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const NAME_MAX = 255;

function invalid(ref: string, why: string): ReferenceError {
  return new ReferenceError(`invalid reference "${ref}": ${why}`);
}

function checkDomain(ref: string, domain: string): void {
  let host = domain;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) throw invalid(ref, `registry host "${domain}" has an unclosed "["`);
    const v6 = host.slice(1, end);
    if (!/^[0-9a-fA-F:.]+$/.test(v6)) throw invalid(ref, `"${v6}" is not an IPv6 address`);
    const rest = host.slice(end + 1);
    if (rest && !rest.startsWith(':')) throw invalid(ref, `unexpected "${rest}" after the IPv6 address`);
    port = rest ? rest.slice(1) : undefined;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
    for (const part of host.split('.')) {
      if (!DOMAIN_COMPONENT.test(part)) throw invalid(ref, `registry host "${domain}" is not a valid host name`);
    }
  }
  if (port !== undefined && !/^[0-9]+$/.test(port)) throw invalid(ref, `registry port "${port}" must be a number`);
}

/** Parses and normalises a reference. Throws ReferenceError saying what is wrong. */
export function parseReference(ref: string): ImageReference {
  if (ref === '') throw invalid(ref, 'the reference is empty');
  if (/\s/.test(ref)) throw invalid(ref, 'a reference may not contain white space');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `"${digest}" is not a digest (expected algorithm:hex, e.g. sha256:<64 hex digits>)`);
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw invalid(ref, 'a sha256 digest is 64 lowercase hex digits');
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw invalid(ref, `tag "${tag}" is not valid (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`);
    }
  }
  if (rest === '') throw invalid(ref, 'the repository name is empty');
  if (/^[a-f0-9]{64}$/.test(rest)) throw invalid(ref, 'a repository name cannot be a 64-digit hex string (use NAME@sha256:HEX for a digest)');

  let domain: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DOCKER_DOMAIN;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(slash + 1);
    checkDomain(ref, domain);
  }
  if (domain === 'index.docker.io') domain = DOCKER_DOMAIN;
  if (path === '') throw invalid(ref, 'the repository name is empty');
  for (const comp of path.split('/')) {
    if (comp === '') throw invalid(ref, 'the repository name has an empty path component ("//" or a trailing "/")');
    if (comp.toLowerCase() !== comp) throw invalid(ref, 'repository name must be lowercase');
    if (!PATH_COMPONENT.test(comp)) {
      throw invalid(ref, `"${comp}" is not a valid repository path component (lowercase letters and digits, separated by ".", "_", "__" or "-")`);
    }
  }
  if (domain === DOCKER_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > NAME_MAX) throw invalid(ref, `the repository name is longer than ${NAME_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, path, tag, digest };
}

/** "docker.io/library/busybox" */
export function repositoryName(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** The normalised name used as the store's key: repository plus tag, no digest ("" when digest-only). */
export function storeName(r: ImageReference): string {
  return r.tag !== undefined ? `${repositoryName(r)}:${r.tag}` : '';
}

/** The full normalised form, e.g. "docker.io/library/busybox:latest@sha256:...". */
export function formatReference(r: ImageReference): string {
  let s = repositoryName(r);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** The short name Docker shows: "busybox", "user/app", "quay.io/x/y". */
export function familiarRepository(r: ImageReference): string {
  if (r.domain !== DOCKER_DOMAIN) return repositoryName(r);
  return r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice('library/'.length) : r.path;
}

/** The host the Registry API is served from (docker.io's is registry-1.docker.io). */
export function apiHost(domain: string): string {
  return domain === DOCKER_DOMAIN ? DOCKER_API_HOST : domain;
}

/** The key credentials are stored under in config.json (Docker uses the v1 URL for Hub). */
export function credentialKey(domain: string): string {
  return domain === DOCKER_DOMAIN ? 'https://index.docker.io/v1/' : domain;
}
