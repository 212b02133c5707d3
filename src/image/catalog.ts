// What `images` and `inspect` show about stored images: rows for the table
// (Docker's columns) and the full inspection document (config + manifest).
import { familiarRepository, parseReference } from './reference';
import { ImageNotFoundError } from './errors';
import type { ImageRecord, ImageStore } from './store';

export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  digest: string;
  /** The image's own creation time (config.created), if it has one. */
  created?: string;
  /** When it was stored here. */
  pulled: string;
  /** Bytes of the blobs (compressed layers + config), as downloaded. */
  size: number;
  platform: string;
  name: string;
}

function splitName(rec: ImageRecord): { repository: string; tag: string } {
  const repoText = rec.repository ?? rec.name.replace(/:[^:/]*$/, '');
  let repository = repoText || '<none>';
  try {
    if (repoText) repository = familiarRepository(parseReference(repoText));
  } catch {
    /* keep it as stored */
  }
  const tag = rec.name ? rec.name.slice(rec.name.lastIndexOf(':') + 1) : '<none>';
  return { repository, tag };
}

function readConfig(store: ImageStore, rec: ImageRecord): Record<string, unknown> {
  try {
    return JSON.parse(store.readBlob(rec.configDigest).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function imageRows(store: ImageStore): ImageRow[] {
  return store.listImages().map((rec) => {
    const cfg = readConfig(store, rec);
    const { repository, tag } = splitName(rec);
    let cfgSize = 0;
    try {
      cfgSize = store.readBlob(rec.configDigest).length;
    } catch {
      /* missing config counts as 0 */
    }
    return {
      repository,
      tag,
      id: rec.configDigest,
      digest: rec.indexDigest ?? rec.manifestDigest,
      created: typeof cfg.created === 'string' ? cfg.created : undefined,
      pulled: rec.created,
      size: cfgSize + rec.layers.reduce((n, l) => n + l.size, 0),
      platform: [rec.platform.os, rec.platform.architecture, rec.platform.variant].filter(Boolean).join('/'),
      name: rec.name,
    };
  });
}

/** "3 days ago", as docker images shows it. */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [
    [60 * 60 * 24 * 365, 'year'],
    [60 * 60 * 24 * 30, 'month'],
    [60 * 60 * 24 * 7, 'week'],
    [60 * 60 * 24, 'day'],
    [60 * 60, 'hour'],
    [60, 'minute'],
  ];
  for (const [n, unit] of steps) {
    const v = Math.floor(s / n);
    if (v >= 1) return `${v === 1 ? (unit === 'hour' ? 'An' : 'A') : v} ${unit}${v === 1 ? '' : 's'} ago`;
  }
  return 'Less than a minute ago';
}

export interface ImageInspection {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Name: string;
  Digest: string;
  ManifestDigest: string;
  IndexDigest?: string;
  Platform: ImageRecord['platform'];
  Created?: string;
  Pulled: string;
  Size: number;
  Layers: ImageRecord['layers'];
  Config: unknown;
  Manifest: unknown;
}

export function inspectImage(store: ImageStore, ref: string): ImageInspection {
  const rec = store.getImage(ref);
  if (!rec) throw new ImageNotFoundError(`image "${ref}" is not in the store (see ccrun images; ccrun pull ${ref})`);
  const config = readConfig(store, rec);
  const manifest = JSON.parse(store.readBlob(rec.manifestDigest).toString('utf8')) as unknown;
  const repo = rec.repository ?? rec.name.replace(/:[^:/]*$/, '');
  const digest = rec.indexDigest ?? rec.manifestDigest;
  const row = imageRows(store).find((r) => r.id === rec.configDigest && r.name === rec.name);
  return {
    Id: rec.configDigest,
    RepoTags: store.listImages().filter((r) => r.configDigest === rec.configDigest && r.name).map((r) => r.name),
    RepoDigests: repo ? [`${repo}@${digest}`] : [],
    Name: rec.name,
    Digest: digest,
    ManifestDigest: rec.manifestDigest,
    ...(rec.indexDigest ? { IndexDigest: rec.indexDigest } : {}),
    Platform: rec.platform,
    Created: typeof config.created === 'string' ? config.created : undefined,
    Pulled: rec.created,
    Size: row?.size ?? 0,
    Layers: rec.layers,
    Config: config,
    Manifest: manifest,
  };
}
