// Driving CRIU through its command line (`criu dump` / `criu restore`), as
// the issue allows: the same options runc sets over its RPC, one flag each.
// This file knows CRIU's words (options, image files, log lines); what to
// dump and how the container comes back is checkpoint.ts and restore.ts.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { join } from 'path';
import { HostError, UsageError } from './errors';

/** runc's --manage-cgroups-mode values (runc's default: soft). */
export const MANAGE_CGROUPS_MODES = ['soft', 'full', 'strict', 'ignore'] as const;
export type ManageCgroupsMode = (typeof MANAGE_CGROUPS_MODES)[number];

/** The keys runc and crun give the external namespaces, so their images and ours read the same. */
export const EXTERNAL_NETNS_KEY = 'extRootNetNS';
export const EXTERNAL_PIDNS_KEY = 'extRootPidNS';

/** Written next to CRIU's images: where fds 0-2 of the init pointed (runc's file name and format). */
export const DESCRIPTORS_FILE = 'descriptors.json';
export const DUMP_LOG = 'dump.log';
export const RESTORE_LOG = 'restore.log';

/** The options runc's checkpoint and restore share. */
export interface CriuSharedOptions {
  /** Where CRIU's images are (default: ./checkpoint, as runc). */
  imagePath: string;
  /** Where CRIU writes its log (default: the image path). */
  workPath?: string;
  tcpEstablished?: boolean;
  fileLocks?: boolean;
  shellJob?: boolean;
  extUnixSk?: boolean;
  manageCgroupsMode?: string;
}

/** The criu binary: --criu PATH (runc's global flag), else criu on PATH. */
export function criuBinary(): string {
  return process.env.CCRUN_CRIU || 'criu';
}

export function checkManageCgroupsMode(mode: string | undefined): ManageCgroupsMode {
  const m = mode ?? 'soft';
  if (!(MANAGE_CGROUPS_MODES as readonly string[]).includes(m)) {
    throw new UsageError(`--manage-cgroups-mode: "${m}" is not one of ${MANAGE_CGROUPS_MODES.join(', ')}`);
  }
  return m as ManageCgroupsMode;
}

/** The flags both dump and restore pass for the shared options. */
export function sharedCriuArgs(o: CriuSharedOptions, log: string): string[] {
  const args = ['--images-dir', o.imagePath, '--work-dir', o.workPath ?? o.imagePath, '--log-file', log, '-v4'];
  if (o.tcpEstablished) args.push('--tcp-established');
  if (o.fileLocks) args.push('--file-locks');
  if (o.shellJob) args.push('--shell-job');
  if (o.extUnixSk) args.push('--ext-unix-sk');
  // An optional argument: CRIU takes it only in the --opt=value form.
  args.push(`--manage-cgroups=${checkManageCgroupsMode(o.manageCgroupsMode)}`);
  return args;
}

export interface CriuRun {
  ok: boolean;
  /** What CRIU reported: the "Error" lines of its log (or its stderr), for the user's message. */
  errors: string[];
  /** CRIU's whole log, when it wrote one. */
  logPath?: string;
}

/** The lines of a CRIU log (or output) that say what went wrong, last ones first in importance. */
export function criuErrors(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
  const errors = lines.filter((l) => /^Error \(/.test(l) || /^Error:/.test(l));
  return (errors.length ? errors : lines.filter((l) => l).slice(-3)).slice(-6);
}

/**
 * Runs criu with args; stdio: criu's fds 0.. (restore hands the container
 * its stdio and inherited fds this way). Never throws for CRIU's own
 * failure: the caller turns `errors` into its message.
 */
export function runCriu(args: string[], logPath: string, stdio: (number | 'ignore' | 'pipe' | 'inherit')[] = ['ignore', 'pipe', 'pipe']): CriuRun {
  const r = spawnSync(criuBinary(), args, { stdio: stdio as never, encoding: 'utf8', timeout: 600_000 });
  if (r.error) {
    const e = r.error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new HostError(`checkpoint/restore needs CRIU, and "${criuBinary()}" was not found (apt-get install criu, or give its path with --criu PATH)`);
    }
    throw new HostError(`cannot run ${criuBinary()}: ${e.message}`);
  }
  if (r.status === 0) return { ok: true, errors: [], logPath };
  let log = '';
  try {
    log = fs.readFileSync(logPath, 'utf8');
  } catch {
    /* CRIU failed before it opened its log */
  }
  const errors = criuErrors(log || `${r.stderr ?? ''}\n${r.stdout ?? ''}`);
  if (errors.length === 0) errors.push(`criu exited with status ${r.status ?? r.signal}`);
  return { ok: false, errors, logPath: log ? logPath : undefined };
}

/** One sentence for the user: what CRIU said, and where its whole log is. */
export function criuFailure(what: string, run: CriuRun): string {
  let hint = '';
  if (run.errors.some((e) => /kernel features detection|kerndat/.test(e))) {
    hint = ' (CRIU cannot work on this kernel: `criu check` fails the same way)';
  }
  return `${what}: CRIU reported: ${run.errors.join(' / ')}${hint}${run.logPath ? `; full log: ${run.logPath}` : ''}`;
}

/** True when dir holds a CRIU dump (its inventory image). */
export function isCriuImageDir(dir: string): boolean {
  return fs.existsSync(join(dir, 'inventory.img'));
}

/** "pipe:[123]", "/dev/null", "socket:[9]": where fds 0, 1, 2 of pid point. */
export function stdioDescriptors(pid: number): string[] {
  const out: string[] = [];
  for (let fd = 0; fd < 3; fd++) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      out.push('/dev/null'); // closed: runc records /dev/null too
    }
  }
  return out;
}

/** mnt_id of an open fd of pid (its fdinfo). */
export function fdMountId(pid: number, fd: number): number | undefined {
  try {
    const m = /^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The mount ids of pid's mount namespace. */
export function mountIds(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const id = Number(line.split(' ')[0]);
    if (line) ids.add(id);
  }
  return ids;
}

/**
 * A file the init holds on a mount outside its mount namespace (the stdio
 * its creator gave it, /dev/null or a log file): CRIU cannot reopen that by
 * path, so it is dumped as external (file[mnt_id:inode]) and the restorer
 * hands in its own fd under the same key.
 */
export function externalFileKey(pid: number, fd: number, inContainer: Set<number>): string | undefined {
  const mnt = fdMountId(pid, fd);
  if (mnt === undefined || inContainer.has(mnt)) return undefined;
  let ino: number;
  try {
    ino = fs.statSync(`/proc/${pid}/fd/${fd}`).ino;
  } catch {
    return undefined;
  }
  const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  if (!target.startsWith('/')) return undefined; // pipes, sockets, anon inodes: CRIU's own kinds
  return `file[${mnt.toString(16)}:${ino.toString(16)}]`;
}
