// checkpoint and restore on this machine: every refusal that needs no CRIU,
// and (where `criu check` fails, as on this kernel) a dump that CRIU cannot
// make: a clear error naming what CRIU reported, the container still
// running, and no images left. The real checkpoint/restore behaviour runs in
// the cgroup v2 VM: test/runtime/checkpoint-vm.test.ts.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { busyboxSpec, ccrun, makeBundle, stateRoot, uniqueId } from '../helpers/runtime';

const root = stateRoot(t);
const state = (id: string): { status: string; pid: number } => JSON.parse(ccrun(root, ['state', id]).stdout);
const criuCheck = spawnSync('criu', ['check'], { encoding: 'utf8' });
const criuWorks = criuCheck.status === 0;
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-ckpt-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

/** A running container (its run must succeed: every check below needs one). */
function running(): { id: string; bundle: string } {
  const bundle = makeBundle(t, busyboxSpec(['sleep', '1000']));
  const id = uniqueId('ck');
  const r = ccrun(root, ['run', '--detach', '--bundle', bundle, id], { files: true });
  if (r.code !== 0) throw new Error(`run --detach failed: ${r.stderr}`);
  return { id, bundle };
}

t.test('checkpoint refuses bad input, changing nothing', async (t) => {
  const dir = tmp();
  const unknown = ccrun(root, ['checkpoint', '--image-path', path.join(dir, 'x'), 'no-such-container']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /container "no-such-container" does not exist/);
  t.notOk(fs.existsSync(path.join(dir, 'x')), 'no image directory made for an unknown id');

  const bundle = makeBundle(t, busyboxSpec(['true']));
  const created = uniqueId('ck');
  t.equal(ccrun(root, ['create', '--bundle', bundle, created], { files: true }).code, 0);
  const notRunning = ccrun(root, ['checkpoint', '--image-path', path.join(dir, 'y'), created]);
  t.equal(notRunning.code, 1);
  t.match(notRunning.stderr, /cannot checkpoint container ".*": container not running \(created\)/);
  t.equal(state(created).status, 'created', 'the created container is untouched');
  t.notOk(fs.existsSync(path.join(dir, 'y')), 'no image directory made');

  const { id } = running();
  const mode = ccrun(root, ['checkpoint', '--manage-cgroups-mode', 'sometimes', '--image-path', path.join(dir, 'z'), id]);
  t.match(mode.stderr, /--manage-cgroups-mode: "sometimes" is not one of soft, full, strict, ignore/);
  const parent = ccrun(root, ['checkpoint', '--parent-path', '/abs', '--image-path', path.join(dir, 'z'), id]);
  t.match(parent.stderr, /--parent-path must be relative to --image-path/);
  const exp = ccrun(root, ['checkpoint', '--export', path.join(dir, 'e.tar.gz'), id]);
  t.match(exp.stderr, /--export is for image containers/);
  const server = ccrun(root, ['checkpoint', '--page-server', '1.2.3.4:5', id]);
  t.match(server.stderr, /--page-server is not supported/);
  t.equal(state(id).status, 'running', 'the container keeps running through all of these');
  t.notOk(fs.existsSync(path.join(dir, 'z')) || fs.existsSync(path.join(dir, 'e.tar.gz')), 'nothing written');
});

t.test('a dump CRIU cannot make: its error, the container still running, no images', { skip: criuWorks ? 'criu check passes on this host: the VM test covers dumps (checkpoint-vm.test.ts)' : false }, async (t) => {
  const { id } = running();
  const pid = state(id).pid;
  const dir = tmp();
  const images = path.join(dir, 'images');
  const r = ccrun(root, ['checkpoint', '--image-path', images, id]);
  t.equal(r.code, 1);
  const said = criuCheck.stderr.split('\n').find((l) => l.startsWith('Error'))?.replace(/^Error \([^)]*\):\s*/, '') ?? '';
  t.match(r.stderr, /cannot checkpoint container ".*": CRIU reported: Error \(/, r.stderr);
  t.ok(said && r.stderr.includes(said), `the message names what CRIU reported (criu check says "${said}")`);
  t.match(r.stderr, /CRIU cannot work on this kernel/);
  t.match(r.stderr, /full log: .*criu-dump\.log/);
  const st = state(id);
  t.equal(st.status, 'running', 'the container is still running');
  t.equal(st.pid, pid, 'the same init');
  t.notOk(fs.existsSync(images), 'no image directory is left');

  // An image directory that existed keeps what it had, and only that.
  fs.mkdirSync(images);
  fs.writeFileSync(path.join(images, 'mine'), 'x');
  const again = ccrun(root, ['checkpoint', '--leave-running', '--image-path', images, id]);
  t.equal(again.code, 1);
  t.same(fs.readdirSync(images), ['mine'], 'only the file that was there before');
  t.equal(state(id).status, 'running');
});

t.test('restore refuses bad input, making nothing', async (t) => {
  const dir = tmp();
  const bundle = makeBundle(t, busyboxSpec(['sleep', '1000']));
  const id = uniqueId('rs');
  const missing = ccrun(root, ['restore', '-d', '--image-path', path.join(dir, 'none'), '-b', bundle, id]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--image-path .*none does not exist/);
  fs.mkdirSync(path.join(dir, 'empty'));
  const notCkpt = ccrun(root, ['restore', '-d', '--image-path', path.join(dir, 'empty'), '-b', bundle, id]);
  t.equal(notCkpt.code, 1);
  t.match(notCkpt.stderr, /is not a checkpoint: it has no CRIU inventory\.img/);
  t.notOk(fs.existsSync(path.join(root, id)), 'no state made');

  const { id: live } = running();
  const over = ccrun(root, ['restore', '-d', '--image-path', path.join(dir, 'empty'), '-b', bundle, live]);
  t.equal(over.code, 1);
  t.match(over.stderr, new RegExp(`container "${live}" already exists`));
  t.equal(state(live).status, 'running', 'the existing container keeps running');

  const badId = ccrun(root, ['restore', '-d', '--image-path', path.join(dir, 'empty'), '-b', bundle, 'bad/id']);
  t.match(badId.stderr, /invalid container id "bad\/id"/);
  const noImport = ccrun(root, ['restore', '--import', path.join(dir, 'nope.tar.gz')]);
  t.match(noImport.stderr, /--import .*nope\.tar\.gz does not exist/);
  const nameWithout = ccrun(root, ['restore', '--name', 'x', id]);
  t.match(nameWithout.stderr, /--name is for restore --import/);
  t.notOk(fs.existsSync(path.join(root, id)), 'still no state for the id that was never restored');
});

t.test('features and --help say checkpoint and restore are there', async (t) => {
  const help = ccrun(root, ['--help']);
  t.match(help.stdout, /checkpoint/);
  t.match(help.stdout, /restore/);
  const h = ccrun(root, ['checkpoint', '--help']);
  for (const f of ['--image-path', '--work-path', '--leave-running', '--tcp-established', '--file-locks', '--shell-job', '--ext-unix-sk', '--pre-dump', '--parent-path', '--manage-cgroups-mode', '--export']) t.match(h.stdout, f);
  const rh = ccrun(root, ['restore', '--help']);
  for (const f of ['--bundle', '--detach', '--pid-file', '--console-socket', '--no-pivot', '--import', '--name']) t.match(rh.stdout, f);
  const features = JSON.parse(ccrun(root, ['features']).stdout);
  t.equal(features.annotations['io.github.ccrun.checkpoint.enabled'], 'true', 'features says checkpoint/restore is there (as runc\'s org.opencontainers.runc.checkpoint.enabled)');
});
