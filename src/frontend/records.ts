// Docker-style containers on disk. Each one has a directory in the image
// store (the same filesystem as the unpacked layers, as overlayfs needs):
//
//   <store>/containers/<id>/record.json   what it is: name, image, command, root overlay
//   <store>/containers/<id>/spec.json     its OCI config (kept apart: ps and name lookups skip it)
//   <store>/containers/<id>/upper, work   the overlay's writable layer (kept until rm)
//   <store>/containers/<id>/merged        the empty directory the root is mounted on
//   <store>/containers/<id>/etc/          generated hostname, hosts, resolv.conf
//   <store>/containers/<id>/volumes/<name> the anonymous volumes of the image's Volumes
//   <store>/containers/<id>/container.log stdout and stderr of a detached run
//   <store>/containers/<id>/exit.json     exit code and time of the last run
//   <store>/containers/<id>/network.json  what is attached while it runs (netns, CNI results, pasta)
//
// The runtime's own state (under --root) exists only while the container
// runs: the record is what `ps -a`, `start` and `rm` work from.
import * as fs from 'fs';
import { join } from 'path';
import type { Spec } from '../runtime/config/types';
import type { RootOverlay } from '../runtime/plan';
import { NotFoundError, UsageError, StateError } from '../runtime/errors';
import { removeTree } from '../image/remove-tree';
import { isSameProcessAlive, processStartTime } from '../runtime/state';

export interface ContainerRecord {
  id: string;
  name: string;
  /** The reference the user gave ("busybox"). */
  image: string;
  /** The image id (config digest). */
  imageId: string;
  command: string[];
  created: string;
  spec: Spec;
  rootOverlay?: RootOverlay;
  /** --rm: remove everything once the command exits. */
  autoRemove: boolean;
  /** -i: stdin stays connected (detached: an open pipe held by the monitor). */
  interactive?: boolean;
  /** Sent by `stop` first (the image's StopSignal, else SIGTERM). */
  stopSignal: string;
  /** Its networking as resolved at create (network, published ports, names); none in older records. */
  network?: import('./network').NetworkSettings;
}

/** What `ps` and name lookups need: a record without its spec. */
export type ContainerSummary = Omit<ContainerRecord, 'spec'> & { spec?: Spec };

export interface ExitRecord {
  exitCode: number;
  startedAt?: string;
  finishedAt: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkContainerName(name: string): void {
  if (!NAME_RE.test(name) || name.length > 128) {
    throw new UsageError(`invalid container name "${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`);
  }
  if (/^[0-9a-f]{64}$/.test(name)) throw new UsageError(`invalid container name "${name}": it looks like a container id`);
}

/**
 * Random bytes from the kernel: the crypto module (and the stream modules it
 * pulls in) costs several ms of every `run`'s start-up.
 */
function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n; ) off += fs.readSync(fd, buf, off, n - off, null);
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** A uniform integer in [0, max) (max < 2^16), by rejection. */
function randomInt(max: number): number {
  const limit = 65536 - (65536 % max);
  for (;;) {
    const v = randomBytes(2).readUInt16LE(0);
    if (v < limit) return v % max;
  }
}

/** A 64-hex id as Docker makes them; shown as its first 12 digits. */
export function newContainerId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    // Docker avoids ids that are all digits in their short form (they read like numbers).
    if (!/^\d{12}/.test(id)) return id;
  }
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'gentle', 'happy', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'sharp', 'tender', 'vivid', 'witty', 'zen', 'bold', 'clever', 'jolly'];
const NOUNS = ['curie', 'darwin', 'euler', 'fermi', 'gauss', 'hopper', 'kepler', 'lovelace', 'meitner', 'newton', 'noether', 'pascal', 'ritchie', 'shannon', 'tesla', 'turing', 'wozniak', 'yalow', 'babbage', 'lamport'];

export function randomName(taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
    const name = i < 20 ? base : `${base}${randomInt(1000)}`;
    if (!taken.has(name)) return name;
  }
}

export class ContainerRecords {
  readonly dir: string;
  constructor(storeRoot: string) {
    this.dir = join(storeRoot, 'containers');
  }

  containerDir(id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new NotFoundError(`"${id}" is not a container id`);
    return join(this.dir, id);
  }

  ids(): string[] {
    try {
      return fs.readdirSync(this.dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /**
   * Every complete record (a directory still being made has none yet),
   * without its spec: names and states only, so that `run` and `ps` do not
   * parse every container's config (a seccomp profile makes each ~100 KB).
   */
  list(): ContainerSummary[] {
    const out: ContainerSummary[] = [];
    for (const id of this.ids()) {
      const r = this.readSummary(id);
      if (r) out.push(r);
    }
    return out;
  }

  private readSummary(id: string): ContainerSummary | undefined {
    try {
      return JSON.parse(fs.readFileSync(join(this.containerDir(id), 'record.json'), 'utf8')) as ContainerSummary;
    } catch {
      return undefined;
    }
  }

  /** The whole record, spec included (kept in spec.json; inline in records of older ccruns). */
  read(id: string): ContainerRecord | undefined {
    const summary = this.readSummary(id);
    if (!summary) return undefined;
    if (summary.spec) return summary as ContainerRecord;
    try {
      return { ...summary, spec: JSON.parse(fs.readFileSync(join(this.containerDir(id), 'spec.json'), 'utf8')) as Spec };
    } catch {
      return undefined;
    }
  }

  write(rec: ContainerRecord): void {
    const dir = this.containerDir(rec.id);
    const { spec, ...summary } = rec;
    // The spec first: a record.json is only there once its container is whole.
    for (const [name, data] of [['spec.json', JSON.stringify(spec)], ['record.json', JSON.stringify(summary, null, 1)]]) {
      const tmp = join(dir, `.${name}.${process.pid}`);
      fs.writeFileSync(tmp, data, { mode: 0o600 });
      fs.renameSync(tmp, join(dir, name));
    }
  }

  readExit(id: string): ExitRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(join(this.containerDir(id), 'exit.json'), 'utf8')) as ExitRecord;
    } catch {
      return undefined;
    }
  }

  writeExit(id: string, exit: ExitRecord): void {
    const dir = this.containerDir(id);
    const tmp = join(dir, `.exit.json.${process.pid}`);
    fs.writeFileSync(tmp, JSON.stringify(exit));
    fs.renameSync(tmp, join(dir, 'exit.json'));
  }

  /**
   * The process that runs the container now and records its exit: the
   * monitor (which execs `ccrun start --exited` in its place, same pid) or
   * the foreground `ccrun run`. Kept with its start time, so a recycled pid
   * is not taken for it.
   */
  writeRunner(id: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (!startTime) return;
    const tmp = join(this.containerDir(id), `.runner.json.${process.pid}`);
    fs.writeFileSync(tmp, JSON.stringify({ pid, startTime }));
    fs.renameSync(tmp, join(this.containerDir(id), 'runner.json'));
  }

  /** Whether the container's runner (writeRunner) is still alive. */
  runnerAlive(id: string): boolean {
    try {
      const r = JSON.parse(fs.readFileSync(join(this.containerDir(id), 'runner.json'), 'utf8')) as { pid: number; startTime: string };
      return isSameProcessAlive(r.pid, r.startTime);
    } catch {
      return false;
    }
  }

  logPath(id: string): string {
    return join(this.containerDir(id), 'container.log');
  }

  /**
   * A name or id (full, or a unique prefix of at least 1 digit) -> the record.
   * Names win over id prefixes, as in Docker.
   */
  find(ref: string): ContainerRecord | undefined {
    const all = this.list();
    const byName = all.find((r) => r.name === ref || r.name === ref.replace(/^\//, ''));
    if (byName) return this.read(byName.id);
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const hits = all.filter((r) => r.id.startsWith(ref));
    if (hits.length > 1) throw new StateError(`"${ref}" matches ${hits.length} containers: give more of the id`);
    return hits.length ? this.read(hits[0].id) : undefined;
  }

  require(ref: string): ContainerRecord {
    const r = this.find(ref);
    if (!r) throw new NotFoundError(`container "${ref}" does not exist (see ccrun ps -a)`);
    return r;
  }

  remove(id: string): void {
    removeTree(this.containerDir(id), { maxRetries: 5 });
  }
}
