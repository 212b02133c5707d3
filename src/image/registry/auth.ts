// The registry's 401 challenge (WWW-Authenticate) and the token flow of the
// Distribution project's token auth spec: GET the realm with service and
// scope, anonymously or with Basic credentials, read token/access_token and
// expires_in (default 60 s).

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (the first challenge we understand). */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const headers = Array.isArray(header) ? header : header ? [header] : [];
  for (const h of headers) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(h);
    if (!m) continue;
    const scheme = m[1].toLowerCase();
    if (scheme !== 'bearer' && scheme !== 'basic') continue;
    const params: Record<string, string> = {};
    const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
    re.lastIndex = 0;
    const rest = m[2];
    let p: RegExpExecArray | null;
    while ((p = re.exec(rest)) !== null) {
      params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
      if (re.lastIndex >= rest.length) break;
    }
    return { scheme, params };
  }
  return undefined;
}

export interface Token {
  token: string;
  expiresAt: number;
}

/** Reads a token endpoint's JSON answer; renews 5 s before expiry. */
export function parseTokenResponse(body: string, now = Date.now()): Token | undefined {
  let j: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    j = JSON.parse(body) as typeof j;
  } catch {
    return undefined;
  }
  const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
  if (!token) return undefined;
  // The spec: a missing expires_in means 60 s, and clients should assume at least 60 s.
  const seconds = typeof j.expires_in === 'number' && j.expires_in > 60 ? j.expires_in : 60;
  return { token, expiresAt: now + seconds * 1000 - 5000 };
}
