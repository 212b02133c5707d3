// The runc command-line contracts engines rely on, checked on ccrun alone
// (containerd's go-runc and podman's conmon parse these): the --log file in
// JSON even when failing early, the error wording they match, numeric
// signals and kill --all, delete --force, ps --format json, --version.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ccrun, stateRoot, busyboxSpec, makeBundle, uniqueId, waitFor, isAlive, type Tap } from '../helpers/runtime';

const root = stateRoot(t);

function tmpDir(t: Tap): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-contract-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logLines(file: string): { level: string; msg: string; time: string }[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function created(t: Tap, args = ['sleep', '300']): string {
  const id = uniqueId('ct');
  t.teardown(() => void ccrun(root, ['delete', '--force', id]));
  const r = ccrun(root, ['create', '--bundle', makeBundle(t, busyboxSpec(args)), id], { files: true });
  if (r.code !== 0) throw new Error(r.stderr);
  return id;
}

const status = (id: string): string => JSON.parse(ccrun(root, ['state', id]).stdout).status;

t.test('--log with --log-format json is written even when failing early, in both flag forms', async (t) => {
  const dir = tmpDir(t);
  for (const [i, form] of [['--log-format', 'json'], ['--log-format=json']].entries()) {
    const log = path.join(dir, `log${i}.json`);
    const r = ccrun(root, ['--log', log, ...form, 'state', 'no-such-id']);
    t.equal(r.code, 1);
    const lines = logLines(log);
    const last = lines[lines.length - 1];
    t.equal(last.level, 'error', `${form.join(' ')}: an error line`);
    t.match(last.msg, /does not exist/);
    t.ok(!Number.isNaN(Date.parse(last.time)), 'time is a timestamp');
  }
  const usage = path.join(dir, 'usage.json');
  t.equal(ccrun(root, ['--log', usage, '--log-format', 'json', 'no-such-command']).code, 1);
  t.match(logLines(usage).pop()!.msg, /unknown command/);
  const badFlag = path.join(dir, 'flag.json');
  t.equal(ccrun(root, ['--log', badFlag, '--log-format', 'json', 'kill', '--bogus', 'x']).code, 1);
  t.ok(fs.existsSync(badFlag), 'created for a bad flag too');
});

t.test('the error wording callers match', async (t) => {
  for (const cmd of [['state'], ['start'], ['kill'], ['delete'], ['pause'], ['resume'], ['ps'], ['exec']]) {
    const r = ccrun(root, [...cmd, 'no-such-id', ...(cmd[0] === 'exec' ? ['true'] : [])]);
    t.equal(r.code, 1, cmd[0]);
    t.match(r.stderr, /does not exist/, `${cmd[0]} of an unknown id`);
  }
  const id = created(t);
  const dup = ccrun(root, ['create', '--bundle', makeBundle(t, busyboxSpec(['true'])), id], { files: true });
  t.match(dup.stderr, /already exists/);
  t.equal(ccrun(root, ['kill', id, 'KILL']).code, 0);
  t.ok(await waitFor(() => status(id) === 'stopped'), 'stopped');
  const kill = ccrun(root, ['kill', id, 'TERM']);
  t.equal(kill.code, 1);
  t.match(kill.stderr, /container not running|no such process/);
  t.match(ccrun(root, ['start', id]).stderr, /stopped|not running/);
});

t.test('numeric signals and kill --all', async (t) => {
  const id = created(t, ['sh', '-c', 'trap "exit 3" USR1; while :; do sleep 0.1; done']);
  t.equal(ccrun(root, ['start', id]).code, 0);
  t.equal(ccrun(root, ['kill', id, '10']).code, 0, 'signal 10 (USR1) by number');
  t.ok(await waitFor(() => status(id) === 'stopped'), 'the trap ran and the container stopped');
  const all = created(t, ['sh', '-c', 'sleep 300 & sleep 300 & wait']);
  t.equal(ccrun(root, ['start', all]).code, 0);
  const pid = JSON.parse(ccrun(root, ['state', all]).stdout).pid;
  t.ok(await waitFor(() => JSON.parse(ccrun(root, ['ps', '--format', 'json', all]).stdout).length === 3), 'ps --format json lists 3 pids');
  const pids: number[] = JSON.parse(ccrun(root, ['ps', '--format', 'json', all]).stdout);
  t.ok(pids.includes(pid), 'the init is listed (host pids)');
  t.equal(ccrun(root, ['kill', '--all', all, '9']).code, 0);
  t.ok(await waitFor(() => pids.every((p) => !isAlive(p))), 'every process is gone');
});

t.test('delete --force of a created and of a running container', async (t) => {
  const c = created(t);
  const cpid = JSON.parse(ccrun(root, ['state', c]).stdout).pid;
  t.equal(ccrun(root, ['delete', '--force', c]).code, 0);
  t.equal(ccrun(root, ['state', c]).code, 1);
  t.ok(await waitFor(() => !isAlive(cpid)), 'the parked init is gone');
  const r = created(t);
  t.equal(ccrun(root, ['start', r]).code, 0);
  const rpid = JSON.parse(ccrun(root, ['state', r]).stdout).pid;
  const plain = ccrun(root, ['delete', r]);
  t.equal(plain.code, 1, 'no delete of a running container without --force');
  t.equal(status(r), 'running');
  t.equal(ccrun(root, ['delete', '--force', r]).code, 0);
  t.ok(await waitFor(() => !isAlive(rpid)), 'the running init is gone');
  t.equal(ccrun(root, ['delete', '--force', r]).code, 0, '--force on an unknown id is not an error');
});

t.test('--version is shaped like runc', async (t) => {
  const r = ccrun(root, ['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^ccrun version \d+\.\d+\.\d+\nspec: 1\.\d+\.\d+\n/);
});
