// One typed interface over the native parts: the addon (calls that are safe
// in Node's multithreaded process) and the path of the ccrun-init helper
// (everything that is not). Unit tests use FakeNative instead.
import { join } from 'path';
import { existsSync } from 'fs';

export interface NativeAddon {
  setChildSubreaper(): void;
  mknod(path: string, mode: number, dev: number): void;
  /** umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW): the top-most mount there and all below it. */
  detachMount(path: string): void;
  /** mount(src, dst, MS_BIND). */
  bindMount(src: string, dst: string): void;
  /** A new network namespace bound at path (an existing file); the caller's thread stays in its own. */
  makeNetns(path: string): void;
  /** A host port held open (TCP: bound and listening; UDP: bound), close-on-exec; returns the fd. */
  reservePort(protocol: 'tcp' | 'udp', ip: string, port: number): number;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  bpfAttachDeviceProgram(cgroupDir: string, insns: Buffer): void;
  /** posix_spawn of path with fd i = fds[i] and a new socketpair end at syncIndex; empty environment. */
  spawnHelper(path: string, args: string[], fds: number[], syncIndex: number): { pid: number; sock: number };
  /** Exit status (code or 128+signal) of a child; null if !block and still running. */
  waitpid(pid: number, block: true): number;
  waitpid(pid: number, block: boolean): number | null;
  /** socketpair(AF_UNIX, SOCK_STREAM), both ends close-on-exec. */
  socketPair(): [number, number];
  /** Blocks for one SCM_RIGHTS message: the fd and the payload (runc's console socket protocol). */
  recvFd(sock: number): { fd: number; name: string };
  /** TIOCSWINSZ. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** Whether the kernel knows all these seccomp(2) filter flags (SECCOMP_FILTER_FLAG_* bits). */
  seccompFlagsSupported(flags: number): boolean;
}

const buildDir = join(__dirname, '..', '..', 'build', 'Release');

let addon: NativeAddon | undefined;

/** The addon, loaded on first use (most commands never need it). */
export function native(): NativeAddon {
  if (!addon) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    addon = require(join(buildDir, 'ccrun_native.node')) as NativeAddon;
  }
  return addon;
}

/** Replaces the addon (unit tests). */
export function setNative(fake: NativeAddon | undefined): void {
  addon = fake;
}

/** Path of the single-threaded helper that creates containers. */
export function initHelperPath(): string {
  const p = process.env.CCRUN_INIT_PATH || join(buildDir, 'ccrun-init');
  if (!existsSync(p)) {
    throw new Error(`ccrun-init helper not found at ${p}: run "npm run build"`);
  }
  return p;
}

/** A recording fake of the addon for unit tests. */
export class FakeNative implements NativeAddon {
  calls: { name: string; args: unknown[] }[] = [];
  xattrs = new Map<string, Map<string, Buffer>>();
  private record(name: string, ...args: unknown[]): void {
    this.calls.push({ name, args });
  }
  setChildSubreaper(): void {
    this.record('setChildSubreaper');
  }
  mknod(path: string, mode: number, dev: number): void {
    this.record('mknod', path, mode, dev);
  }
  detachMount(path: string): void {
    this.record('detachMount', path);
  }
  bindMount(src: string, dst: string): void {
    this.record('bindMount', src, dst);
  }
  makeNetns(path: string): void {
    this.record('makeNetns', path);
  }
  reservePort(protocol: 'tcp' | 'udp', ip: string, port: number): number {
    this.record('reservePort', protocol, ip, port);
    return -1;
  }
  lsetxattr(path: string, name: string, value: Buffer): void {
    this.record('lsetxattr', path, name, value);
    if (!this.xattrs.has(path)) this.xattrs.set(path, new Map());
    this.xattrs.get(path)!.set(name, value);
  }
  lgetxattr(path: string, name: string): Buffer | null {
    return this.xattrs.get(path)?.get(name) ?? null;
  }
  llistxattr(path: string): string[] {
    return [...(this.xattrs.get(path)?.keys() ?? [])];
  }
  bpfAttachDeviceProgram(cgroupDir: string, insns: Buffer): void {
    this.record('bpfAttachDeviceProgram', cgroupDir, insns);
  }
  spawnHelper(path: string, args: string[], fds: number[], syncIndex: number): { pid: number; sock: number } {
    this.record('spawnHelper', path, args, fds, syncIndex);
    throw new Error('FakeNative cannot spawn processes');
  }
  waitpid(pid: number, block: true): number;
  waitpid(pid: number, block: boolean): number | null;
  waitpid(pid: number, block: boolean): number | null {
    this.record('waitpid', pid, block);
    return 0;
  }
  socketPair(): [number, number] {
    this.record('socketPair');
    throw new Error('FakeNative cannot make sockets');
  }
  recvFd(sock: number): { fd: number; name: string } {
    this.record('recvFd', sock);
    throw new Error('FakeNative cannot receive fds');
  }
  setWinsize(fd: number, rows: number, cols: number): void {
    this.record('setWinsize', fd, rows, cols);
  }
  seccompFlagsSupported(flags: number): boolean {
    this.record('seccompFlagsSupported', flags);
    return true;
  }
}
