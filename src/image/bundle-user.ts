// Resolving an image's User ("name", "uid", "name:group", "uid:gid", ...) in
// the image's own /etc/passwd and /etc/group, as Docker and runc's
// libcontainer/user do. Files are read with every symlink resolved inside
// the rootfs, so an image whose /etc/passwd links to a host path cannot make
// us read the host's file.
import { lstatSync, readFileSync, readlinkSync } from 'fs';
import { ImageError } from './errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The passwd entry's home, "/" when there is none. */
  home: string;
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_LINKS = 40;

/** The content of `path` (absolute inside the image) with symlinks resolved in `root`; null if absent. */
export function readFileInRoot(root: string, path: string): string | null {
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop(); // ".." at the root stays at the root, as in a chroot
      continue;
    }
    const abs = [root, ...done, part].join('/');
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_LINKS) throw new ImageError(`too many symlinks resolving ${path} in the image`);
      const target = readlinkSync(abs);
      if (target.startsWith('/')) done.length = 0;
      parts = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...parts];
      continue;
    }
    done.push(part);
    if (parts.length && !st.isDirectory()) return null;
  }
  const abs = [root, ...done].join('/');
  try {
    return lstatSync(abs).isFile() ? readFileSync(abs, 'utf8') : null;
  } catch {
    return null;
  }
}

function parsePasswd(text: string | null): PasswdEntry[] {
  if (text === null) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

function parseGroup(text: string | null): GroupEntry[] {
  if (text === null) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

const ID_MAX = 0xffffffff - 1;

function numericId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= ID_MAX ? n : undefined;
}

/**
 * Resolves `spec` (the image's User, or an override) in the rootfs. Unknown
 * names are an error naming them; unknown numeric ids are used as they are
 * (gid 0 when only a uid without a passwd entry is given, as Docker does).
 */
export function resolveUser(rootfs: string, spec: string | undefined): ResolvedUser {
  const text = (spec ?? '').trim();
  const [userPart, groupPart, extra] = text === '' ? ['0', undefined] : text.split(':');
  if (extra !== undefined || userPart === '' || groupPart === '') {
    throw new ImageError(`user "${spec}" is not valid: use name, uid, name:group or uid:gid`);
  }
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = () => parseGroup(readFileInRoot(rootfs, '/etc/group'));
  const uidNum = numericId(userPart);
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (uidNum !== undefined) {
    uid = uidNum;
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw new ImageError(`user "${userPart}" is not in the image's /etc/passwd (use a numeric uid, or an image that defines the user)`);
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined) {
    const gidNum = numericId(groupPart);
    if (gidNum !== undefined) gid = gidNum;
    else {
      const g = groups().find((x) => x.name === groupPart);
      if (!g) throw new ImageError(`group "${groupPart}" is not in the image's /etc/group (use a numeric gid)`);
      gid = g.gid;
    }
  } else if (entry) {
    // Supplementary groups come from /etc/group membership when no group was named.
    const name = entry.name;
    additionalGids = [...new Set(groups().filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid))];
  }
  return { uid, gid, additionalGids, home: entry?.home ?? '/', name: entry?.name };
}
