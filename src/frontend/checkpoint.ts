// The front end's checkpoint and restore, as podman's: `ccrun checkpoint
// NAME` dumps an image container (ccrun run IMAGE) into its own directory
// (<container dir>/checkpoint) and, with --export, writes that with the
// root's changes (the overlay's upper layer) and the container's record to a
// tarball; `ccrun restore NAME` brings it back from there, and `ccrun
// restore --import FILE [--name NEW]` makes a new container from a tarball
// on any host that has the same image.
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { join, resolve } from 'path';
import type { ContainerRecord } from './records';
import { checkContainerName, newContainerId } from './records';
import { imageStore, records, type FrontendContext } from './run';
import { ConfigError, HostError, NotFoundError, StateError, UsageError } from '../runtime/errors';
import type { CriuSharedOptions } from '../runtime/criu';

type CriuFlags = Omit<CriuSharedOptions, 'imagePath'>;

/** The image container's checkpoint directory (CRIU's images and ccrun's note). */
export function checkpointDir(fx: FrontendContext, id: string): string {
  return join(records(fx).containerDir(id), 'checkpoint');
}

/**
 * What an export holds, relative to the container directory: CRIU's images,
 * the root's changes, the record, and the files the spec binds in (hosts,
 * resolv.conf, anonymous volumes).
 */
const EXPORTED = ['checkpoint', 'upper', 'record.json', 'spec.json', 'etc', 'volumes'];

function tar(args: string[], what: string): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new HostError(`${what}: tar ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

export async function checkpointImageContainer(fx: FrontendContext, ref: string, o: CriuFlags & { leaveRunning: boolean; exportTo?: string }): Promise<void> {
  const rec = records(fx).require(ref);
  if (rec.autoRemove) throw new StateError(`cannot checkpoint container ${rec.name}: it was run with --rm, and would be removed as soon as the dump stops it (run it without --rm)`);
  if (o.exportTo !== undefined && !/\.(tar\.gz|tgz)$/.test(o.exportTo)) throw new UsageError(`--export ${o.exportTo}: give a .tar.gz file name`);
  if (!rec.rootOverlay) throw new ConfigError(`cannot checkpoint container ${rec.name}: its root is a copy, not an overlay (this host has no overlayfs), so there are no root changes to carry`);
  if (!fx.runtime.store.exists(rec.id)) throw new StateError(`cannot checkpoint container ${rec.name}: container not running`);
  const dir = checkpointDir(fx, rec.id);
  // A previous checkpoint's images would mix with this one's.
  fs.rmSync(dir, { recursive: true, force: true });
  // Its addresses, read before the dump stops it and its network is released: a restore asks for them again.
  const addresses = rec.network?.mode === 'cni' ? (await import('./network')).attachedAddresses(fx, rec.id) : [];
  const { checkpointContainer } = await import('../runtime/checkpoint');
  await checkpointContainer(fx.runtime, { ...o, id: rec.id, imagePath: dir, spec: rec.spec });
  if (addresses.length) fs.writeFileSync(join(dir, NETWORK_FILE), JSON.stringify({ addresses }));
  // The dump stopped it: its monitor records the exit and releases the network; a restore
  // right after must not meet that release half-way (the namespace's path is the same).
  if (!o.leaveRunning) await (await import('./manage')).runnerDone(fx, rec);
  if (o.exportTo !== undefined) {
    const out = resolve(o.exportTo);
    try {
      tar(['--xattrs', '--xattrs-include=*', '-czf', out, '-C', records(fx).containerDir(rec.id), ...EXPORTED.filter((f) => fs.existsSync(join(records(fx).containerDir(rec.id), f)))], `cannot export the checkpoint of ${rec.name} to ${out}`);
    } catch (e) {
      fs.rmSync(out, { force: true });
      throw e;
    }
  }
}

/** In the checkpoint directory, beside CRIU's images: the addresses the container had. */
const NETWORK_FILE = 'ccrun-network.json';

/**
 * The network a restored container comes back on, and the spec that joins
 * it. The namespace it was dumped from went away with it (its network was
 * released when the dump stopped it), so, as podman does, a new one is made
 * on the same networks with the same published ports, asking for the
 * address it had; CRIU restores the processes into it. When that address is
 * taken now (an import beside the original), it gets another, with a
 * warning: its listening sockets work, connections to the old address do not.
 */
async function networkForRestore(fx: FrontendContext, rec: ContainerRecord, dir: string): Promise<import('../runtime/config/types').Spec> {
  const net = await import('./network');
  const settings = rec.network;
  if (settings?.mode === 'container') return net.joinContainerSpec(fx, rec);
  if (settings?.mode !== 'cni') return rec.spec;
  let had: string | undefined;
  try {
    had = (JSON.parse(fs.readFileSync(join(dir, NETWORK_FILE), 'utf8')) as { addresses: { addresses: string[] }[] }).addresses[0]?.addresses[0];
  } catch {
    /* a checkpoint without addresses: any address */
  }
  const attach = async (ip: string | undefined): Promise<void> => {
    const attaching = await net.attachNetwork(fx, { ...rec, network: { ...settings, ip } });
    await attaching?.added;
  };
  const wanted = settings.ip ?? had;
  try {
    await attach(wanted);
  } catch (e) {
    if (settings.ip !== undefined || wanted === undefined || !/not available|already allocated/.test((e as Error).message)) throw e;
    fx.warn(`restoring ${rec.name}: its address ${wanted} is taken now, so it gets another (connections to the old address are not restored)`);
    await attach(undefined);
  }
  return net.specInNetns(rec.spec, net.netnsPath(fx, rec.id));
}

/** Restores an image container from its checkpoint directory (after checkpoint, or --import). */
export async function restoreImageContainer(fx: FrontendContext, rec: ContainerRecord, o: CriuFlags): Promise<void> {
  if (fx.runtime.store.exists(rec.id)) {
    const { observe } = await import('../runtime/status');
    const st = observe(fx.runtime, rec.id).status;
    if (st !== 'stopped') throw new StateError(`cannot restore container ${rec.name}: it is ${st}`);
    const { deleteContainer } = await import('../runtime/container');
    await deleteContainer(fx.runtime, rec.id, true);
  }
  const dir = checkpointDir(fx, rec.id);
  const { isCriuImageDir } = await import('../runtime/criu');
  if (!isCriuImageDir(dir)) throw new NotFoundError(`container ${rec.name} has no checkpoint to restore (make one with ccrun checkpoint ${rec.name})`);
  // No monitor comes back with it: nothing runs it that a stop could wait for.
  fs.rmSync(join(records(fx).containerDir(rec.id), 'runner.json'), { force: true });
  const spec = await networkForRestore(fx, rec, dir);
  const log = fs.openSync(records(fx).logPath(rec.id), 'a', 0o600);
  const devNull = fs.openSync('/dev/null', 'r');
  const { restoreContainer } = await import('../runtime/restore');
  try {
    await restoreContainer(fx.runtime, {
      ...o,
      id: rec.id,
      bundle: records(fx).containerDir(rec.id),
      imagePath: dir,
      spec,
      rootOverlay: rec.rootOverlay,
      stdio: [devNull, log, log],
      extra: { frontend: true, name: rec.name, image: rec.image, restored: true },
    });
  } catch (e) {
    await (await import('./network')).releaseNetwork(fx, rec.id);
    throw e;
  } finally {
    fs.closeSync(log);
    fs.closeSync(devNull);
  }
  // Its state has moved on from here: a second restore would not match the root.
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `ccrun restore --import FILE [--name NEW]`: a new container from an export. */
export async function importImageContainer(fx: FrontendContext, file: string, o: CriuFlags & { name?: string }): Promise<ContainerRecord> {
  const archive = resolve(file);
  if (!fs.existsSync(archive)) throw new NotFoundError(`--import ${file} does not exist`);
  if (o.name !== undefined) checkContainerName(o.name);
  const recs = records(fx);
  const id = newContainerId();
  const cdir = recs.containerDir(id);
  fs.mkdirSync(cdir, { recursive: true, mode: 0o700 });
  try {
    tar(['--xattrs', '--xattrs-include=*', '-xzf', archive, '-C', cdir], `cannot read the export ${archive}`);
    let old: ContainerRecord;
    try {
      old = { ...JSON.parse(fs.readFileSync(join(cdir, 'record.json'), 'utf8')), spec: JSON.parse(fs.readFileSync(join(cdir, 'spec.json'), 'utf8')) } as ContainerRecord;
    } catch {
      throw new UsageError(`--import ${file} is not a ccrun checkpoint export (no record.json and spec.json in it)`);
    }
    const name = o.name ?? old.name;
    if (recs.find(name)) throw new StateError(`cannot import: a container named ${name} already exists (give another with --name)`);
    const store = imageStore(fx);
    const image = store.getImage(old.imageId) ?? store.getImage(old.image);
    if (!image || image.configDigest !== old.imageId) throw new NotFoundError(`cannot import ${name}: its image ${old.image} (${old.imageId}) is not in this store (pull or load it first)`);
    const { rootOverlayFor } = await import('./image-root');
    fs.mkdirSync(join(cdir, 'work'), { recursive: true, mode: 0o700 });
    fs.mkdirSync(join(cdir, 'merged'), { recursive: true });
    const oldDir = recs.containerDir(old.id);
    // The spec names files of the old container's directory (hosts, resolv.conf, volumes).
    const spec = JSON.parse(JSON.stringify(old.spec).split(oldDir).join(cdir));
    const rec: ContainerRecord = { ...old, id, name, spec, created: new Date().toISOString(), rootOverlay: rootOverlayFor(store, image, cdir) };
    recs.write(rec);
    await restoreImageContainer(fx, rec, o);
    return rec;
  } catch (e) {
    fs.rmSync(cdir, { recursive: true, force: true });
    throw e;
  }
}
