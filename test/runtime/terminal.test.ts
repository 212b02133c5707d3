// process.terminal as callers see it: runc's console-socket protocol (the pty
// master arrives over a unix socket with SCM_RIGHTS, its name as payload), and
// a foreground `run`/`exec -t` that relays the user's terminal in raw mode,
// follows window-size changes and gives the terminal back as it found it.
// Node cannot receive SCM_RIGHTS, so the receivers here are small Python
// scripts (socket.recv_fds, pty.fork).
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { CCRUN, ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId, waitFor, type Tap } from '../helpers/runtime';

const root = stateRoot(t);

/** Receives the pty master on a console socket, writes `input` to it, prints what the container wrote until it closes. */
const CONSOLE_RECEIVER = `
import socket, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 1)
print('name ' + msg.decode(), flush=True)
print('isatty %d' % os.isatty(fds[0]), flush=True)
if len(sys.argv) > 2: os.write(fds[0], sys.argv[2].encode())
out = b''
while True:
    try: d = os.read(fds[0], 4096)
    except OSError: break
    if not d: break
    out += d
print('output\\n' + out.decode(errors='replace').replace('\\r', ''), flush=True)
`;

/** Runs argv on a new pty (as a user's terminal), with a window size, optional resize and input; prints the output and status. */
const PTY_DRIVER = `
import pty, os, sys, fcntl, termios, struct, time, json
cfg = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execv(cfg['argv'][0], cfg['argv'])
def size(r, c): fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
size(*cfg['size'])
out = b''
def read_until(text, secs=20):
    global out
    end = time.time() + secs
    while text.encode() not in out and time.time() < end:
        try: d = os.read(fd, 4096)
        except OSError: return
        if not d: return
        out += d
for step in cfg.get('steps', []):
    read_until(step['wait'])
    if 'resize' in step: size(*step['resize'])
    if 'write' in step: os.write(fd, step['write'].encode())
while True:
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    out += d
_, st = os.waitpid(pid, 0)
print(json.dumps({'out': out.decode(errors='replace'), 'code': os.waitstatus_to_exitcode(st)}))
`;

interface PtyStep {
  wait: string;
  resize?: [number, number];
  write?: string;
}

function onPty(argv: string[], size: [number, number], steps: PtyStep[] = []): Promise<{ out: string; code: number }> {
  const child = spawn('python3', ['-c', PTY_DRIVER, JSON.stringify({ argv, size, steps })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Error(`pty driver printed ${JSON.stringify(text)}`));
      }
    });
  });
}

function tmpDir(t: Tap): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-tty-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function consoleReceiver(t: Tap, socketPath: string, input?: string): { child: ChildProcess; lines: () => string; done: Promise<void> } {
  const child = spawn('python3', ['-c', CONSOLE_RECEIVER, socketPath, ...(input !== undefined ? [input] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  return { child, lines: () => out, done };
}

t.test('create --console-socket sends the pty master (runc protocol); the pty is the init stdio, controlling terminal and /dev/console', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'console.sock');
  const rx = consoleReceiver(t, sock, 'typed\n');
  t.ok(await waitFor(() => rx.lines().includes('listening')), 'receiver listening');
  const spec = busyboxSpec(['sh', '-c', 'read line; echo "read $line"; tty; ls -l /dev/console; test -t 0 && test -t 1 && test -t 2 && echo all-tty; ps -o pid,tty,comm | grep "^ *1 "']);
  spec.process!.terminal = true;
  const bundle = makeBundle(t, spec);
  const id = uniqueId('tty');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const r = ccrun(root, ['create', '--console-socket', sock, '--bundle', bundle, id], { files: true });
  t.equal(r.code, 0, r.stderr);
  t.ok(await waitFor(() => rx.lines().includes('name ')), 'master received');
  t.match(rx.lines(), /^name \/dev\/pts\/\d+$/m, 'the payload is the pty name');
  t.match(rx.lines(), /^isatty 1$/m, 'the fd is a terminal');
  t.equal(ccrun(root, ['start', id]).code, 0);
  await rx.done;
  const out = rx.lines();
  t.match(out, /read typed/, 'input written to the master reaches the container');
  t.match(out, /\/dev\/pts\/0/, 'tty names the container devpts');
  t.match(out, /c[rw-]+\s+1 \S+\s+\S+\s+136,\s+0 .*\/dev\/console/, '/dev/console is the pty slave (136, 0)');
  t.match(out, /all-tty/, 'stdin, stdout and stderr are the terminal');
  t.match(out, /^ *1 (pts\/0|136,0) /m, 'the pty is the controlling terminal of the init');
});

t.test('create with terminal true and no --console-socket fails and leaves nothing', async (t) => {
  const spec = busyboxSpec(['sh']);
  spec.process!.terminal = true;
  const bundle = makeBundle(t, spec);
  const id = uniqueId('nosock');
  const r = ccrun(root, ['create', '--bundle', bundle, id], { files: true });
  t.equal(r.code, 1);
  t.match(r.stderr, /--console-socket/);
  t.equal(ccrun(root, ['state', id]).code, 1, 'no container state left');
  const missing = ccrun(root, ['create', '--console-socket', '/nonexistent/sock', '--bundle', bundle, id], { files: true });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /console socket .* does not exist/);
});

t.test('run in the foreground with a terminal relays the user terminal, follows resizes and restores the terminal', async (t) => {
  // The new size reaches the pty when ccrun handles its SIGWINCH, which on a
  // busy machine can come after the keystrokes: the container polls for a size
  // other than the first one (20 s at most), then prints what it sees.
  const waitResize = 'i=0; while [ "$(stty size)" = "33 101" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done';
  const spec = busyboxSpec(['sh', '-c', `stty size; echo waiting; read x; ${waitResize}; stty size; echo "got $x"; exit 5`]);
  spec.process!.terminal = true;
  const bundle = makeBundle(t, spec);
  const id = uniqueId('runtty');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  // The shell prints the terminal settings after ccrun returns: raw mode must be gone.
  const script = `${CCRUN} --root ${root} run --bundle ${bundle} ${id}; echo "status $?"; stty -a`;
  const r = await onPty(['/bin/sh', '-c', script], [33, 101], [{ wait: 'waiting', resize: [40, 120], write: 'hello\r' }]);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /^33 101\r?$/m, 'the initial window size');
  t.match(r.out, /^40 120\r?$/m, 'the new size after SIGWINCH');
  t.match(r.out, /got hello/, 'keystrokes reach the container');
  t.match(r.out, /status 5/, 'the container exit code');
  const after = r.out.slice(r.out.indexOf('status 5'));
  t.match(after, /(^|\s)icanon(\s|$)/m, 'canonical mode restored');
  t.match(after, /(^|\s)echo(\s|$)/m, 'echo restored');
  t.equal(ccrun(root, ['state', id]).code, 1, 'the container was deleted');
});

t.test('run with a terminal and a pipe for stdin still runs the container (no raw mode to set)', async (t) => {
  const spec = busyboxSpec(['sh', '-c', 'tty; read x; echo "got $x"']);
  spec.process!.terminal = true;
  const bundle = makeBundle(t, spec);
  const r = ccrun(root, ['run', '--bundle', bundle, uniqueId('pipetty')], { input: 'piped\n' });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\/dev\/pts\/0/);
  t.match(r.stdout, /got piped/);
});

t.test('exec -t: a terminal for the new process, owned by ccrun or sent to a console socket', async (t) => {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '300']));
  const id = uniqueId('exectty');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  t.equal(ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true }).code, 0);

  const r = await onPty([CCRUN, '--root', root, 'exec', '-t', id, 'sh', '-c', 'tty; stty size; echo waiting; read x; echo "got $x"; exit 4'], [25, 90], [{ wait: 'waiting', write: 'abc\r' }]);
  t.equal(r.code, 4, r.out);
  t.match(r.out, /\/dev\/pts\/\d+/);
  t.match(r.out, /^25 90\r?$/m);
  t.match(r.out, /got abc/);

  const dir = tmpDir(t);
  const sock = path.join(dir, 'exec.sock');
  const rx = consoleReceiver(t, sock, 'xyz\n');
  t.ok(await waitFor(() => rx.lines().includes('listening')), 'receiver listening');
  const pidFile = path.join(dir, 'exec.pid');
  const d = ccrun(root, ['exec', '--detach', '--tty', '--console-socket', sock, '--pid-file', pidFile, id, 'sh', '-c', 'read v; echo "exec read $v"; tty'], { files: true });
  t.equal(d.code, 0, d.stderr);
  t.ok(fs.existsSync(pidFile), 'pid file written');
  await rx.done;
  t.match(rx.lines(), /^name \/dev\/pts\/\d+$/m);
  t.match(rx.lines(), /exec read xyz/);
  t.equal(JSON.parse(ccrun(root, ['state', id]).stdout).status, 'running');
});
