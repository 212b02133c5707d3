// Image -> OCI bundle: the rootfs flattened from the cached layers, and a
// config.json converted from the image config as the image-spec's
// conversion.md says, on top of `ccrun spec`'s defaults.
//
// Choices where conversion.md leaves room:
//  - Env: the image's, plus PATH (the default one) when the image has none
//    and HOME from the user's passwd entry ("/" without one), as Docker does;
//    TERM only with a terminal (never here: process.terminal is false).
//  - Volumes: bind mounts from <bundle>/volumes/<name>, pre-filled with what
//    the image has at that path (Docker's copy-up of a new volume), so the
//    data survives the container and lives beside the bundle.
//  - The rootfs is writable (root.readonly false), as in `docker run`.
//  - Labels become annotations; the computed org.opencontainers.image.*
//    annotations win over a label of the same name.
import { existsSync, lstatSync, mkdirSync, rmSync } from 'fs';
import { join, posix } from 'path';
import { defaultSpec, writeSpecFile } from '../runtime/config/default-spec';
import type { Mount, Spec } from '../runtime/config/types';
import { resolveUser } from './bundle-user';
import { ImageError, ImageNotFoundError } from './errors';
import type { ImageRecord, ImageStore } from './store';
import type * as Unpack from './unpack';

// The unpacker costs tens of ms to load; `ccrun run IMAGE` with its layers
// already cached never needs it (start-up is the hot path).
const unpack = (): typeof Unpack => require('./unpack') as typeof Unpack;

/** The parts of an OCI/Docker image config the conversion reads. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: {
    User?: string;
    ExposedPorts?: Record<string, unknown>;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, unknown> | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
}

/** What a user may override at run time (docker run --entrypoint, CMD..., -e, -u, -w). */
export interface SpecOverrides {
  /** Replaces the image's Entrypoint (and drops its Cmd unless cmd is given too). */
  entrypoint?: string[];
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** KEY=VALUE entries added last (replacing the image's value of KEY). */
  env?: string[];
  /** name, uid, name:group or uid:gid, resolved in the image. */
  user?: string;
  workdir?: string;
}

export interface ConversionOptions {
  /** root.path of the spec (default: rootfsDir as given). */
  rootPath?: string;
  /** Directory (relative to the bundle, or absolute) holding the volume sources (default "volumes"). */
  volumeDir?: string;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const ANN = 'org.opencontainers.image.';

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const k = envKey(e);
    const i = out.findIndex((x) => envKey(x) === k);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/** The source directory name of a volume: readable, and unique by a short hash of the path. */
export function volumeName(path: string): string {
  const readable = path.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'root';
  // crypto is loaded only for images that have volumes (several ms of start-up).
  const { createHash } = require('crypto') as typeof import('crypto');
  return `${readable}-${createHash('sha256').update(path).digest('hex').slice(0, 8)}`;
}

/** Volume paths of the image, cleaned and absolute. */
export function imageVolumes(config: ImageConfig): string[] {
  return Object.keys(config.config?.Volumes ?? {}).map((v) => posix.normalize('/' + v).replace(/\/+$/, '') || '/');
}

/**
 * The runtime config for `imageConfig`, with users resolved in `rootfsDir`.
 * Throws ImageError naming what is wrong (no command, unknown user, ...).
 */
export function imageConfigToSpec(imageConfig: ImageConfig, rootfsDir: string, overrides: SpecOverrides = {}, opts: ConversionOptions = {}): Spec {
  const c = imageConfig.config ?? {};
  const spec = defaultSpec({});
  const proc = spec.process!;
  proc.terminal = false;

  const entrypoint = overrides.entrypoint ?? c.Entrypoint ?? [];
  const cmd = overrides.cmd ?? (overrides.entrypoint ? [] : (c.Cmd ?? []));
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new ImageError('the image has no Entrypoint or Cmd: give the command to run');
  proc.args = args;

  const workdir = overrides.workdir ?? c.WorkingDir ?? '';
  proc.cwd = workdir === '' ? '/' : posix.normalize(posix.isAbsolute(workdir) ? workdir : '/' + workdir);

  const user = resolveUser(rootfsDir, overrides.user ?? c.User);
  proc.user = { uid: user.uid, gid: user.gid };
  if (user.additionalGids.length) proc.user.additionalGids = user.additionalGids;

  let env = [...(c.Env ?? [])];
  if (!env.some((e) => envKey(e) === 'PATH')) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (!env.some((e) => envKey(e) === 'HOME')) env.push(`HOME=${user.home}`);
  env = mergeEnv(env, overrides.env ?? []);
  proc.env = env;

  spec.root = { path: opts.rootPath ?? rootfsDir, readonly: false };

  const annotations: Record<string, string> = { ...(c.Labels ?? {}) };
  if (imageConfig.os) annotations[`${ANN}os`] = imageConfig.os;
  if (imageConfig['os.version']) annotations[`${ANN}os.version`] = imageConfig['os.version'];
  if (imageConfig['os.features']?.length) annotations[`${ANN}os.features`] = imageConfig['os.features'].join(',');
  if (imageConfig.architecture) annotations[`${ANN}architecture`] = imageConfig.architecture;
  if (imageConfig.variant) annotations[`${ANN}variant`] = imageConfig.variant;
  if (imageConfig.author) annotations[`${ANN}author`] = imageConfig.author;
  if (imageConfig.created) annotations[`${ANN}created`] = imageConfig.created;
  if (c.StopSignal) annotations[`${ANN}stopSignal`] = c.StopSignal;
  const ports = Object.keys(c.ExposedPorts ?? {});
  if (ports.length) annotations[`${ANN}exposedPorts`] = ports.join(',');
  if (Object.keys(annotations).length) spec.annotations = annotations;

  const volumeDir = opts.volumeDir ?? 'volumes';
  const volumeMounts: Mount[] = imageVolumes(imageConfig).map((dest) => ({
    destination: dest,
    type: 'bind',
    source: posix.join(volumeDir, volumeName(dest)),
    options: ['rbind', 'rprivate'],
  }));
  spec.mounts = [...(spec.mounts ?? []), ...volumeMounts];
  return spec;
}

export function readImageConfig(store: ImageStore, rec: ImageRecord): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(store.readBlob(rec.configDigest).toString('utf8')) as ImageConfig;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`image config ${rec.configDigest} is not valid JSON: ${(e as Error).message}`);
  }
  const ids = config.rootfs?.diff_ids ?? [];
  const mine = rec.layers.map((l) => l.diffId);
  if (ids.length !== mine.length || ids.some((d, i) => d !== mine[i])) {
    throw new ImageError(`image config ${rec.configDigest} lists other layers (rootfs.diff_ids) than the image's manifest`);
  }
  return config;
}

/** Unpacks (in order, each with its lower layers) the layers not yet in the cache. */
export async function ensureLayersUnpacked(store: ImageStore, rec: ImageRecord): Promise<void> {
  const below: string[] = [];
  for (const l of rec.layers) {
    if (!store.hasLayer(l.diffId)) {
      if (!store.hasBlob(l.digest)) throw new ImageError(`layer ${l.digest} of ${rec.name || rec.manifestDigest} is missing from the store: pull the image again`);
      await unpack().unpackLayer(store, l, { lowerDiffIds: [...below] });
    }
    below.push(l.diffId);
  }
}

/** Copies what the image has at each volume path into its (new) volume directory. */
function fillVolumes(bundleDir: string, rootfs: string, config: ImageConfig): void {
  for (const dest of imageVolumes(config)) {
    const target = join(bundleDir, 'volumes', volumeName(dest));
    mkdirSync(target, { recursive: true, mode: 0o755 });
    // Only a real directory (no symlink anywhere on the way) is copied: it must stay inside the rootfs.
    let cur = rootfs;
    let ok = true;
    for (const part of dest.split('/').filter(Boolean)) {
      cur = join(cur, part);
      try {
        const st = lstatSync(cur);
        if (!st.isDirectory()) ok = false;
      } catch {
        ok = false;
      }
      if (!ok) break;
    }
    if (!ok) continue;
    // child_process (and net under it) only when there is a volume to fill: ~5 ms of start-up.
    const { spawnSync } = require('child_process') as typeof import('child_process');
    const r = spawnSync('cp', ['-a', '--', `${cur}/.`, target], { encoding: 'utf8' });
    if (r.status !== 0) throw new ImageError(`copying the image's ${dest} into its volume failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
}

export interface BundleResult {
  record: ImageRecord;
  config: ImageConfig;
  spec: Spec;
}

/**
 * Writes DIR/rootfs and DIR/config.json for image `ref` from the store.
 * DIR may exist but must hold neither; on failure what was made is removed.
 */
export async function createBundle(store: ImageStore, ref: string, dir: string, overrides: SpecOverrides = {}): Promise<BundleResult> {
  const rec = store.getImage(ref);
  if (!rec) throw new ImageNotFoundError(`image "${ref}" is not in the store ${store.root}: pull or load it first (see ccrun images)`);
  const rootfs = join(dir, 'rootfs');
  const configPath = join(dir, 'config.json');
  for (const p of [rootfs, configPath, join(dir, 'volumes')]) {
    if (existsSync(p) || isLink(p)) throw new ImageError(`${p} already exists: bundle into an empty directory, or remove it first`);
  }
  const config = readImageConfig(store, rec);
  await ensureLayersUnpacked(store, rec);
  const madeDir = !existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  try {
    await unpack().buildRootfs(store, rec.layers.map((l) => l.diffId), rootfs);
    const spec = imageConfigToSpec(config, rootfs, overrides, { rootPath: 'rootfs', volumeDir: 'volumes' });
    fillVolumes(dir, rootfs, config);
    writeSpecFile(dir, spec);
    return { record: rec, config, spec };
  } catch (e) {
    if (madeDir) rmSync(dir, { recursive: true, force: true });
    else for (const p of [rootfs, join(dir, 'volumes'), configPath]) rmSync(p, { recursive: true, force: true });
    throw e;
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
