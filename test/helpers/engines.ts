// Real engines with ccrun as their runtime, each private to one test file:
// podman (isolated --root/--runroot/--tmpdir, its own containers.conf; ccrun
// keeps its default state root, /run/ccrun, because podman 4 does not pass
// --runtime-flag to `delete`, so a private root would leak state) and containerd (its own
// config, directories and socket; the runc shim told to use ccrun with
// --runc-binary, ccrun's state under --runc-root). Each is started and torn
// down by the test: leftover containers deleted, processes killed by pid,
// mounts under the temp dir unmounted, the temp dir removed.
import { spawn, spawnSync, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CCRUN, busyboxRootfs, isAlive, REPO, type Result, type Tap } from './runtime';

/** The first of the binaries that is not on PATH, or undefined. */
export function missingBinary(names: string[]): string | undefined {
  for (const n of names) {
    if (spawnSync('sh', ['-c', `command -v ${n}`]).status !== 0) return n;
  }
  return undefined;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, timeout: opts.timeout ?? 60_000 });
  return { code: r.status ?? (r.signal ? 128 : 255), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Unmounts whatever the engine left mounted under dir (deepest first), then removes dir. */
function removeTree(dir: string): void {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deletes every container left in a ccrun state root (recursively: containerd keeps one root per namespace). */
function deleteLeftovers(stateRoot: string): void {
  if (!fs.existsSync(stateRoot)) return;
  const entries = fs.readdirSync(stateRoot, { withFileTypes: true });
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = path.join(stateRoot, e.name);
    if (fs.existsSync(path.join(dir, 'state.json'))) spawnSync(CCRUN, ['--root', stateRoot, 'delete', '--force', e.name]);
    else deleteLeftovers(dir);
  }
}

function tempDir(prefix: string): string {
  // The shim and conmon dislike spaces; os.tmpdir() is /tmp here.
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export class Podman {
  readonly dir: string;
  readonly stateRoot: string;
  readonly image = 'localhost/ccrun-busybox:test';
  private env: NodeJS.ProcessEnv;

  constructor(t: Tap) {
    this.dir = tempDir('ccrun-podman-');
    this.stateRoot = '/run/ccrun';
    const conf = path.join(this.dir, 'containers.conf');
    // This host's root has no CAP_SYS_RESOURCE: podman's default rlimits
    // (1048576 open files and processes) cannot be set by any runtime here.
    fs.writeFileSync(
      conf,
      [
        '[containers]',
        'netns = "none"',
        'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
        '[engine]',
        'runtime = "ccrun"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${path.join(this.dir, 'events.log')}"`,
        'runtime_supports_json = ["ccrun"]',
        '[engine.runtimes]',
        `ccrun = ["${CCRUN}"]`,
        '',
      ].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
    t.teardown(() => this.destroy());
    const tar = path.join(this.dir, 'busybox.tar');
    execFileSync('tar', ['-C', busyboxRootfs(), '-cf', tar, '.']);
    const r = this.podman(['import', tar, this.image]);
    if (r.code !== 0) throw new Error(`podman import failed: ${r.stderr}`);
  }

  podman(args: string[], opts: { input?: string; timeout?: number } = {}): Result {
    return run('podman', this.globalArgs().concat(args), { env: this.env, ...opts });
  }

  globalArgs(): string[] {
    return [
      '--root', path.join(this.dir, 'root'),
      '--runroot', path.join(this.dir, 'runroot'),
      '--tmpdir', path.join(this.dir, 'tmp'),
      '--storage-driver', 'vfs',
      '--runtime', 'ccrun',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'file',
    ];
  }

  environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  /** Flags every `podman run` of the tests takes: no network; podman's default seccomp profile applies. */
  runFlags(): string[] {
    return ['--network', 'none'];
  }

  /** Full ids of every container podman knows. */
  containerIds(): string[] {
    return this.podman(['ps', '--all', '--quiet', '--no-trunc']).stdout.split('\n').filter(Boolean);
  }

  destroy(): void {
    const ids = this.containerIds();
    this.podman(['rm', '--all', '--force', '--time', '0'], { timeout: 60_000 });
    // Only the containers this podman made: the default root is shared.
    for (const id of ids) {
      if (fs.existsSync(path.join(this.stateRoot, id))) spawnSync(CCRUN, ['--root', this.stateRoot, 'delete', '--force', id]);
    }
    removeTree(this.dir);
  }
}

export class Containerd {
  readonly dir: string;
  readonly socket: string;
  readonly stateRoot: string;
  readonly image = 'localhost/ccrun-busybox:test';
  private pid = 0;
  private exited: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.socket = path.join(dir, 'containerd.sock');
    this.stateRoot = path.join(dir, 'ccrun-state');
  }

  static async start(t: Tap): Promise<Containerd> {
    const c = new Containerd(tempDir('ccrun-containerd-'));
    t.teardown(() => c.stop());
    const d = c.dir;
    fs.writeFileSync(
      path.join(d, 'config.toml'),
      [
        'version = 2',
        `root = "${d}/root"`,
        `state = "${d}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]',
        '[grpc]',
        `  address = "${c.socket}"`,
        '[ttrpc]',
        `  address = "${c.socket}.ttrpc"`,
        '[debug]',
        `  address = "${d}/debug.sock"`,
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(d, 'containerd.log'), 'w');
    const child = spawn('containerd', ['--config', path.join(d, 'config.toml')], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    c.pid = child.pid ?? 0;
    // Reaped by Node once it ends: stop() waits for this, so no zombie is left.
    c.exited = new Promise((r) => child.on('exit', () => r()));
    child.unref();
    const end = Date.now() + 30_000;
    while (Date.now() < end && c.ctr(['version']).code !== 0) await new Promise((r) => setTimeout(r, 200));
    if (c.ctr(['version']).code !== 0) throw new Error(`containerd did not start: ${fs.readFileSync(path.join(d, 'containerd.log'), 'utf8').slice(-2000)}`);
    const tar = path.join(d, 'busybox.tar');
    execFileSync(path.join(REPO, 'scripts', 'make-busybox-image.sh'), [tar, c.image], { stdio: 'ignore' });
    const r = c.ctr(['image', 'import', '--snapshotter', 'native', tar]);
    if (r.code !== 0) throw new Error(`ctr image import failed: ${r.stderr}`);
    return c;
  }

  ctr(args: string[], opts: { input?: string; timeout?: number } = {}): Result {
    return run('ctr', ['--address', this.socket, ...args], opts);
  }

  ctrArgv(args: string[]): string[] {
    return ['ctr', '--address', this.socket, ...args];
  }

  /** Flags for `ctr run`: the runc shim runs ccrun (BinaryName) with its state under our root. */
  runFlags(): string[] {
    return ['--snapshotter', 'native', '--runc-binary', CCRUN, '--runc-root', this.stateRoot];
  }

  async stop(): Promise<void> {
    for (const line of this.ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      this.ctr(['task', 'kill', '-s', 'SIGKILL', line]);
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && this.ctr(['task', 'ls', '-q']).stdout.trim() !== '') {
      for (const id of this.ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['task', 'delete', '--force', id]);
      spawnSync('sleep', ['0.2']);
    }
    for (const id of this.ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['container', 'rm', id]);
    // Shims outlive containerd by design: end the ones of this instance, by pid.
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.startsWith('/usr/bin/containerd-shim') || cmd.startsWith('containerd-shim')) {
          if (cmd.includes(this.socket)) process.kill(Number(pid), 'SIGKILL');
        }
      } catch {
        /* gone */
      }
    }
    if (this.pid > 0) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const end = Date.now() + 10_000;
      while (Date.now() < end && isAlive(this.pid)) spawnSync('sleep', ['0.1']);
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    deleteLeftovers(this.stateRoot);
    removeTree(this.dir);
  }
}

/** Runs argv on a new pty (Python's pty module) and returns what it printed and its exit status. */
export function onPty(argv: string[], env?: NodeJS.ProcessEnv): Result {
  const script = `
import pty, os, sys, json
argv = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b''
while True:
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(st) & 255)
`;
  return run('python3', ['-c', script, JSON.stringify(argv)], { env, timeout: 60_000 });
}
