// Start-up machinery (issue 12): the V8 code cache of dist/ never runs old
// code and is never needed (a missing, stale or damaged cache only costs a
// normal compile), and bin/ccrun starts node without NODE_EXTRA_CA_CERTS
// while the registry client still trusts the certificates it names.
import t from 'tap';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import type { AddressInfo } from 'net';
import { REPO, busyboxSpec, makeBundle, stateRoot, uniqueId } from '../helpers/runtime';
import type { Tap } from '../helpers/runtime';
import { extraCaOption } from '../../src/image/registry/client';

/** A copy of the installed layout (bin/ and dist/ copied with their mtimes, the rest linked), so dist/ can be changed. */
function copyOfCcrun(t: { teardown(fn: () => void): void }): { dir: string; bin: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-startup-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const d of ['bin', 'dist']) spawnSync('cp', ['-a', path.join(REPO, d), path.join(dir, d)]);
  for (const d of ['node_modules', 'build', 'schema', 'package.json']) fs.symlinkSync(path.join(REPO, d), path.join(dir, d));
  return { dir, bin: path.join(dir, 'bin', 'ccrun') };
}

const run = (bin: string, args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(bin, args, { encoding: 'utf8', env, timeout: 30_000 });
const cacheDir = (dir: string): string => path.join(dir, 'dist', '.code-cache');

/** The modules (paths below dist/) of a bundle, from its header. */
function bundleModules(dir: string, name: string): string[] {
  const header = fs.readFileSync(path.join(cacheDir(dir), `${name}.bundle.bin`), 'latin1').split('\n')[0];
  return (JSON.parse(header) as { files: [string][] }).files.map((f) => f[0]);
}

/**
 * Replaces `from` by `to` (same length) in a bundle's source and drops its V8
 * data, so that its source is what runs and the output says which copy ran.
 * Returns whether the bundle held `from`.
 */
function markBundle(dir: string, name: string, from: string, to: string): boolean {
  const js = path.join(cacheDir(dir), `${name}.bundle.js`);
  const bin = path.join(cacheDir(dir), `${name}.bundle.bin`);
  const text = fs.readFileSync(js, 'utf8');
  fs.writeFileSync(js, text.replace(from, to));
  const entry = fs.readFileSync(bin);
  fs.writeFileSync(bin, entry.subarray(0, entry.indexOf(10) + 1));
  return text.includes(from) && from.length === to.length;
}

t.test('the code cache is used when it matches, and the copy works as the original', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  t.ok(fs.readdirSync(cacheDir(dir)).length > 10, 'the build wrote cache entries');
  const r = run(bin, ['--version']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ccrun version 0\.1\.0\n/);
});

t.test('an edit of the same length after the cache was built runs the new code', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const main = path.join(dir, 'dist', 'cli', 'main.js');
  const text = fs.readFileSync(main, 'utf8');
  t.ok(text.includes("VERSION = '0.1.0'"), 'main.js holds the version');
  // V8 checks only a cache's source length: this edit keeps it.
  fs.writeFileSync(main, text.replace("VERSION = '0.1.0'", "VERSION = '9.8.7'"));
  const r = run(bin, ['--version']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ccrun version 9\.8\.7\n/, 'the edited module ran, not its cached build');
});

t.test('without a cache, or with damaged entries, every command still works', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  // Damaged: each entry keeps its header (so it is taken as current) but its V8 data is garbage.
  for (const f of fs.readdirSync(cacheDir(dir))) {
    const p = path.join(cacheDir(dir), f);
    const entry = fs.readFileSync(p);
    const header = entry.subarray(0, entry.indexOf(10) + 1);
    fs.writeFileSync(p, Buffer.concat([header, Buffer.alloc(64, 0x5a)]));
  }
  const check = (what: string): void => {
    const root = stateRoot(t);
    const id = uniqueId('startup');
    const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'echo from-the-container']));
    const v = run(bin, ['--version']);
    t.equal(v.status, 0, `${what}: --version: ${v.stderr}`);
    const r = run(bin, ['--root', root, 'run', '--bundle', bundle, id]);
    t.equal(r.status, 0, `${what}: run: ${r.stderr}`);
    t.equal(r.stdout, 'from-the-container\n', `${what}: the container ran`);
    const c = run(bin, ['--root', root, 'create', '--bundle', bundle, id]);
    t.equal(c.status, 0, `${what}: create: ${c.stderr}`);
    const s = run(bin, ['--root', root, 'state', id]);
    t.equal(JSON.parse(s.stdout).status, 'created', `${what}: state`);
    t.equal(run(bin, ['--root', root, 'delete', '--force', id]).status, 0, `${what}: delete`);
  };
  check('damaged cache');
  fs.rmSync(cacheDir(dir), { recursive: true, force: true });
  check('no cache');
  t.notOk(fs.existsSync(cacheDir(dir)), 'running never writes a cache (only the build does)');
});

t.test('a bundle runs while every module in it is current, never once one changed, and CCRUN_CODE_CACHE=off skips it', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const bundles = fs.readdirSync(cacheDir(dir)).filter((f) => f.endsWith('.bundle.js'));
  for (const name of ['main', 'run', 'create', 'start', 'delete', 'state', 'kill', 'list', 'ps', 'exec', 'pull']) t.ok(bundles.includes(`${name}.bundle.js`), `the build wrote the ${name} bundle`);
  // pull's is recorded on a warm pull (scripts/warmup-registry.js): the
  // registry client and the store, none of the unpack path's modules.
  const pullFiles = bundleModules(dir, 'pull');
  t.ok(pullFiles.includes('image/registry/client.js') && pullFiles.includes('image/store.js'), `the pull bundle holds the registry client and the store (${pullFiles.join(' ')})`);
  t.same(pullFiles.filter((f) => f.startsWith('image/unpack/')), [], 'and none of the unpack modules (it was recorded on a warm pull)');
  // Mark the start-up bundle's copy of main.js.
  t.ok(markBundle(dir, 'main', "VERSION = '0.1.0'", "VERSION = '7.7.7'"), 'the bundle holds main.js');
  t.match(run(bin, ['--version']).stdout, /^ccrun version 7\.7\.7\n/, 'the current bundle is what runs');
  t.match(run(bin, ['--version'], { ...process.env, CCRUN_CODE_CACHE: 'off' }).stdout, /^ccrun version 0\.1\.0\n/, 'CCRUN_CODE_CACHE=off: the module files run');
  // A rebuilt main.js (new mtime, same text): the bundle is stale and never runs.
  const main = path.join(dir, 'dist', 'cli', 'main.js');
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(main, later, later);
  t.match(run(bin, ['--version']).stdout, /^ccrun version 0\.1\.0\n/, 'a bundle with a changed module is ignored');
  // Everything still works through the command bundles, and with a stale one.
  const root = stateRoot(t);
  const id = uniqueId('bundle');
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'echo from-the-container']));
  const r = run(bin, ['--root', root, 'run', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'from-the-container\n');
  fs.utimesSync(path.join(dir, 'dist', 'runtime', 'container.js'), later, later);
  const again = run(bin, ['--root', root, 'run', '--bundle', bundle, id]);
  t.equal(again.stdout, 'from-the-container\n', 'run with its bundle stale');
});

/**
 * Runs `run --bundle` of a container that waits until the test has read the
 * ccrun process's memory map, and returns that map and the command's output.
 */
async function mapsOfRunningRun(t: Tap, bin: string): Promise<{ maps: string; stdout: string; status: number | null }> {
  const root = stateRoot(t);
  const signal = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-signal-'));
  t.teardown(() => fs.rmSync(signal, { recursive: true, force: true }));
  const spec = busyboxSpec(['sh', '-c', 'while [ ! -e /signal/proceed ]; do sleep 0.05; done; echo ran']);
  spec.mounts!.push({ destination: '/signal', type: 'bind', source: signal, options: ['rbind', 'ro'] });
  const bundle = makeBundle(t, spec);
  const child = spawn(bin, ['--root', root, 'run', '--bundle', bundle, uniqueId('mapped')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  // bin/ccrun execs node in place, so the child's pid is ccrun's. The map is
  // read once the container runs (its init's state.json is there).
  let maps = '';
  for (let i = 0; i < 200 && !maps; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const ids = fs.readdirSync(root);
    if (ids.length && fs.existsSync(path.join(root, ids[0], 'state.json'))) maps = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  }
  fs.writeFileSync(path.join(signal, 'proceed'), '');
  const status = await exited;
  t.equal(stderr, '', 'nothing on stderr');
  return { maps, stdout, status };
}

t.test('a big bundle is mapped from its file, not read; without the mapping addon it is read, and runs the same', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const mapped = await mapsOfRunningRun(t, bin);
  t.equal(mapped.status, 0);
  t.equal(mapped.stdout, 'ran\n');
  t.match(mapped.maps, /\.code-cache\/run\.bundle\.js\n/, "run's bundle source is mapped in the running ccrun");
  // The copy's build/ without ccrun_mapfile.node: the bundle is read.
  const release = path.join(dir, 'build', 'Release');
  fs.unlinkSync(path.join(dir, 'build'));
  fs.mkdirSync(release, { recursive: true });
  for (const f of fs.readdirSync(path.join(REPO, 'build', 'Release'))) {
    if (f !== 'ccrun_mapfile.node') fs.symlinkSync(path.join(REPO, 'build', 'Release', f), path.join(release, f));
  }
  const read = await mapsOfRunningRun(t, bin);
  t.equal(read.status, 0);
  t.equal(read.stdout, 'ran\n');
  t.ok(read.maps.length > 0, 'the map was read while the container ran');
  t.notMatch(read.maps, /\.code-cache\/run\.bundle\.js/, 'nothing of the bundle is mapped');
  t.notMatch(read.maps, /ccrun_mapfile/, 'and the addon is not loaded');
});

t.test("a command's bundle holds the start-up modules and is picked from the command line; a wrong pick still runs the right command", async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const header = (name: string): string[] => bundleModules(dir, name);
  const startup = header('main');
  t.ok(startup.includes('cli/main.js'), 'the start-up bundle holds main.js');
  for (const name of ['state', 'create', 'start', 'delete', 'kill', 'run', 'pull']) {
    t.same(header(name).slice(0, startup.length), startup, `the ${name} bundle begins with the start-up modules`);
  }
  t.notOk(header('run-image').includes('cli/main.js'), "run-image's bundle (asked for by run, after start-up) does not");
  for (const name of ['create', 'run']) t.ok(header(name).includes('runtime/config/config-validator.js'), `the ${name} bundle holds the config.json validator`);
  // One non-ASCII character makes V8 hold a whole bundle's source as two-byte text (and bin/ccrun reads the loader rather than map it).
  for (const f of [...fs.readdirSync(cacheDir(dir)).filter((f) => f.endsWith('.bundle.js')), '../cli/code-cache.js']) {
    const nonAscii = fs.readFileSync(path.join(cacheDir(dir), f), 'latin1').match(/[^\x00-\x7f]+/);
    t.equal(nonAscii, null, `${f} is ASCII`);
  }
  // Mark the state bundle's copy of main.js.
  t.ok(markBundle(dir, 'state', '`usage: ccrun ', '`USAGE: ccrun '), "the state bundle holds main.js's usage message");
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-pick-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  const cli = (...args: string[]) => spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  const picked = cli('--root', path.join(cwd, 'state-dir'), 'state');
  t.equal(picked.status, 1);
  t.match(picked.stderr, /USAGE: ccrun state/, "main.js ran from the state command's bundle");
  // `--root kill` (a relative directory named like a command) is taken for the command: kill's bundle is read first.
  const wrong = cli('--root', 'kill', 'state');
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /usage: ccrun state/, "the state command's usage, from the main.js of kill's bundle");
  t.notOk(fs.existsSync(path.join(cwd, 'kill')), 'nothing was made for the misread word');
});

t.test("the loader's own cache entry never runs old code", async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const loader = path.join(dir, 'dist', 'cli', 'code-cache.js');
  t.ok(fs.existsSync(path.join(cacheDir(dir), 'cli__code-cache.js.bin')), 'the build wrote the entry bin/ccrun loads code-cache.js with');
  // An edit of the same length (V8 would take the entry for it) that shows it ran.
  const text = fs.readFileSync(loader, 'utf8');
  const from = "process.env.CCRUN_CODE_CACHE === 'off'";
  const to = "!process.stderr.write('LOADER-NEW\\n')";
  t.ok(text.includes(from) && to.length <= from.length);
  fs.writeFileSync(loader, text.replace(from, to.padEnd(from.length)));
  const r = run(bin, ['--version']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ccrun version 0\.1\.0\n/);
  t.match(r.stderr, /LOADER-NEW/, 'the edited loader ran, not its cached build');
  t.notOk(fs.readFileSync(path.join(cacheDir(dir), 'cli__code-cache.js.bin'), 'latin1').startsWith(`ccrun-code-cache ${fs.statSync(loader).size} ${fs.statSync(loader).mtimeMs} `), 'running never rewrites the entry (only the build does)');
});

t.test('a loader that is not ASCII is read as UTF-8, never mapped as Latin-1 text', async (t) => {
  const { dir, bin } = copyOfCcrun(t);
  const loader = path.join(dir, 'dist', 'cli', 'code-cache.js');
  t.equal(fs.readFileSync(path.join(REPO, 'dist', 'cli', 'code-cache.js'), 'latin1').match(/[^\x00-\x7f]+/), null, 'the built loader is ASCII (so bin/ccrun maps it)');
  const text = fs.readFileSync(loader, 'utf8');
  const from = "process.env.CCRUN_CODE_CACHE === 'off'";
  fs.writeFileSync(loader, text.replace(from, "!process.stderr.write('LOADÉR\\n')"));
  // The build's way of writing the entry, then a plain run that takes it.
  const built = run(bin, ['--version'], { ...process.env, CCRUN_BUILD_CODE_CACHE: '1' });
  t.equal(built.status, 0, built.stderr);
  const entry = fs.readFileSync(path.join(cacheDir(dir), 'cli__code-cache.js.bin'), 'latin1');
  const st = fs.statSync(loader);
  t.ok(entry.startsWith(`ccrun-code-cache ${st.size} ${st.mtimeMs} ${st.size - 1}\n`), 'the entry says the source has one character fewer than bytes');
  const r = run(bin, ['--version']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /^LOADÉR$/m, 'the text is the UTF-8 one');
});

t.test('started through a symlink in another directory (as npm links bin/), ccrun finds its own dist/', async (t) => {
  // The shebang keeps the symlink's path (--preserve-symlinks-main), so bin/ccrun resolves it only when dist/ is not beside it.
  const links = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-links-'));
  t.teardown(() => fs.rmSync(links, { recursive: true, force: true }));
  fs.symlinkSync(path.join(REPO, 'bin', 'ccrun'), path.join(links, 'ccrun'));
  for (const env of [process.env, { ...process.env, CCRUN_CODE_CACHE: 'off' }]) {
    const r = run(path.join(links, 'ccrun'), ['--version'], env);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /^ccrun version /, `runs${env.CCRUN_CODE_CACHE ? ' with the cache off' : ''}`);
  }
  const { dir, bin } = copyOfCcrun(t);
  fs.symlinkSync(bin, path.join(links, 'copy'));
  fs.rmSync(path.join(dir, 'dist', 'cli', 'code-cache.js'));
  const broken = run(path.join(links, 'copy'), ['--version']);
  t.equal(broken.status, 1);
  t.match(broken.stderr, `${dir}/dist/cli/code-cache.js is missing: build ccrun first`, "the linked copy's dist/ is the one looked at");
});

t.test('bin/ccrun does not make node load NODE_EXTRA_CA_CERTS at start-up', async (t) => {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ccrun-extra-ca.pem' };
  // node itself warns at start-up about a file it cannot load: the proof it tried.
  const direct = spawnSync(process.execPath, [path.join(REPO, 'bin', 'ccrun'), '--version'], { encoding: 'utf8', env });
  t.match(direct.stderr, /extra certs/i, 'node started with the variable loads the file');
  const viaShebang = run(path.join(REPO, 'bin', 'ccrun'), ['--version'], env);
  t.equal(viaShebang.status, 0);
  t.notMatch(viaShebang.stderr, /extra certs/i, 'started through its shebang, node never read it');
});

t.test('the registry client trusts the certificates NODE_EXTRA_CA_CERTS names', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-ca-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  t.equal(r.status, 0, `openssl makes a self-signed certificate: ${r.stderr}`);
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const get = (env: NodeJS.ProcessEnv): Promise<string> =>
    new Promise((resolve) => {
      const agent = new https.Agent(extraCaOption(env));
      https
        .get(`https://127.0.0.1:${port}/`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(`status ${res.statusCode}`));
        })
        .on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    });
  t.equal(await get({ NODE_EXTRA_CA_CERTS: cert }), 'status 200', 'trusted through the extra certificate');
  t.match(await get({}), /^error (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/, 'not trusted without it');
  t.same(extraCaOption({ NODE_EXTRA_CA_CERTS: '' }), {}, 'an empty variable is no file');
});

t.test('state reads the saved freezer file, and a state.json from before it still reports paused', async (t) => {
  const root = stateRoot(t);
  const id = uniqueId('frz');
  const bundle = makeBundle(t, busyboxSpec(['sleep', '60']));
  const ccrunBin = path.join(REPO, 'bin', 'ccrun');
  const cli = (...args: string[]) => spawnSync(ccrunBin, ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(cli('create', '--bundle', bundle, id).status, 0);
  t.teardown(() => void cli('delete', '--force', id));
  const stateFile = path.join(root, id, 'state.json');
  const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  t.type(saved.cgroup.freezeFile, 'string', 'create saves the freezer file');
  t.ok(fs.existsSync(saved.cgroup.freezeFile), `${saved.cgroup.freezeFile} exists`);
  const status = (): string => JSON.parse(cli('state', id).stdout).status;
  t.equal(status(), 'created');
  t.equal(cli('pause', id).status, 0);
  t.equal(status(), 'paused', 'paused, read from the saved file');
  delete saved.cgroup.freezeFile;
  fs.writeFileSync(stateFile, JSON.stringify(saved));
  t.equal(status(), 'paused', 'paused, found through the cgroup (an older state.json)');
  t.equal(cli('resume', id).status, 0);
  t.equal(status(), 'created');
});

t.test('ps --format json reads the saved cgroup directory, and a state.json from before it lists the same pids', async (t) => {
  const root = stateRoot(t);
  const id = uniqueId('psd');
  const bundle = makeBundle(t, busyboxSpec(['sh', '-c', 'sleep 60 & exec sleep 61']));
  const cli = (...args: string[]) => spawnSync(path.join(REPO, 'bin', 'ccrun'), ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const pidFile = path.join(root, 'init.pid');
  t.equal(cli('create', '--bundle', bundle, '--pid-file', pidFile, id).status, 0);
  t.teardown(() => void cli('delete', '--force', id));
  t.equal(cli('start', id).status, 0);
  const init = Number(fs.readFileSync(pidFile, 'utf8'));
  const stateFile = path.join(root, id, 'state.json');
  const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  t.type(saved.cgroup.procsDir, 'string', 'create saves the directory ps reads');
  t.ok(fs.existsSync(path.join(saved.cgroup.procsDir, 'cgroup.procs')), `${saved.cgroup.procsDir} is a cgroup`);
  const pids = (): number[] => {
    const r = cli('ps', '--format', 'json', id);
    t.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  // The shell forks its background sleep before exec'ing the other: wait for both.
  let fromSaved: number[] = [];
  for (let i = 0; i < 50 && fromSaved.length < 2; i++, await new Promise((r) => setTimeout(r, 100))) fromSaved = pids();
  t.equal(fromSaved.length, 2, `the init and its child: ${fromSaved}`);
  t.ok(fromSaved.includes(init), 'the init is listed');
  for (const p of fromSaved) t.match(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'), /^sleep\0/, `${p} is one of the sleeps`);
  delete saved.cgroup.procsDir;
  fs.writeFileSync(stateFile, JSON.stringify(saved));
  t.same(pids(), fromSaved, 'the same pids, found through the cgroup (an older state.json)');
});

t.test('the init that joins its cgroup by itself is in the container cgroup of every controller', async (t) => {
  const root = stateRoot(t);
  const id = uniqueId('join');
  const bundle = makeBundle(t, busyboxSpec(['sleep', '60']));
  const cli = (...args: string[]) => spawnSync(path.join(REPO, 'bin', 'ccrun'), ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const pidFile = path.join(root, 'init.pid');
  t.equal(cli('create', '--bundle', bundle, '--pid-file', pidFile, id).status, 0);
  t.teardown(() => void cli('delete', '--force', id));
  const pid = fs.readFileSync(pidFile, 'utf8').trim();
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  // Every hierarchy with a controller (not name=systemd, nor the v2 line of a hybrid host).
  const controllers = lines.filter((l) => !/^\d+:(name=[^:]*)?:/.test(l));
  t.ok(controllers.length > 0, `cgroup lines: ${lines.join(' | ')}`);
  for (const l of controllers) t.match(l, new RegExp(`:/ccrun/${id}$`), `${l.split(':')[1]}: the container's cgroup`);
  t.not(lines.join('\n'), own.join('\n'), 'not the caller cgroups');
  const freezer = controllers.find((l) => l.split(':')[1].split(',').includes('freezer'));
  if (freezer) t.ok(fs.readFileSync(`/sys/fs/cgroup/freezer/ccrun/${id}/cgroup.procs`, 'utf8').split('\n').includes(pid), 'listed in its cgroup.procs');
});
