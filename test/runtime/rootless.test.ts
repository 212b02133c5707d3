// Rootless: an unprivileged user made by this test runs containers with
// `ccrun spec --rootless` bundles; root inside is the user outside.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { busyboxRootfs, CCRUN } from '../helpers/runtime';
import { unprivilegedUser } from '../helpers/unprivileged-user';

const user = unprivilegedUser('ccrun-rootless-test');
const { uid, gid } = user;
const USER = user.name;
const runtimeDir = user.ownedDir('ccrun-xdg-');
const bundle = fs.mkdtempSync('/tmp/ccrun-rootless-');
t.teardown(() => {
  as(['sh', '-c', `for c in $(${CCRUN} list -q); do ${CCRUN} delete --force $c; done`]);
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(runtimeDir, { recursive: true, force: true });
  user.dispose();
});

function as(cmd: string[]): { code: number; stdout: string; stderr: string } {
  return user.runSync(cmd, { env: { XDG_RUNTIME_DIR: runtimeDir }, cwd: bundle });
}

t.test('spec --rootless, then run as an unprivileged user', async (t) => {
  spawnSync('cp', ['-a', busyboxRootfs(), path.join(bundle, 'rootfs')]);
  spawnSync('chown', ['-R', `${uid}:${gid}`, bundle]);
  const spec = as([CCRUN, 'spec', '--rootless']);
  t.equal(spec.code, 0, spec.stderr);
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /tmp/x && echo tmp-ok; sleep 0.2'];
  config.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  const r = as([CCRUN, 'run', '--bundle', bundle, 'rl']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], '0', 'root inside');
  t.match(lines[1], new RegExp(`^\\s*0\\s+${uid}\\s+1$`), `mapped to uid ${uid} outside`);
  t.equal(lines[2], 'tmp-ok');
  t.match(r.stderr, /without resource limits/, 'says once that there are no limits');
});

t.test('the lifecycle of a rootless container keeps its state under $XDG_RUNTIME_DIR', async (t) => {
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  config.process.args = ['sleep', '30'];
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  const c = as(['sh', '-c', `${CCRUN} create --bundle ${bundle} rl2 >/dev/null 2>&1 </dev/null; echo $?`]);
  t.equal(c.stdout.trim(), '0', c.stderr);
  t.ok(fs.existsSync(path.join(runtimeDir, 'ccrun', 'rl2', 'state.json')), 'state under $XDG_RUNTIME_DIR/ccrun');
  const st = JSON.parse(as([CCRUN, 'state', 'rl2']).stdout);
  t.equal(st.status, 'created');
  t.equal(st.owner, USER);
  const status = fs.readFileSync(`/proc/${st.pid}/status`, 'utf8');
  t.match(status, new RegExp(`^Uid:\\s+${uid}\\s`, 'm'), 'the init runs as the user on the host');
  t.equal(as([CCRUN, 'start', 'rl2']).code, 0);
  t.equal(JSON.parse(as([CCRUN, 'state', 'rl2']).stdout).status, 'running');
  t.equal(as([CCRUN, 'kill', 'rl2', 'KILL']).code, 0);
  const d = as(['sh', '-c', `sleep 0.3; ${CCRUN} delete rl2`]);
  t.equal(d.code, 0, d.stderr);
  t.notOk(fs.existsSync(path.join(runtimeDir, 'ccrun', 'rl2')));
  const limits = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  limits.linux.resources = { memory: { limit: 64 << 20 } };
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(limits));
  const l = as([CCRUN, 'run', '--bundle', bundle, 'rl3']);
  t.equal(l.code, 1, 'limits asked for without a delegated cgroup are an error');
  t.match(l.stderr, /limit/);
});
