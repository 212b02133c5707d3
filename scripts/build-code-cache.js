#!/usr/bin/env node
// Writes dist/.code-cache/: runs the commands whose start-up matters with
// the cache in produce mode (so the functions they use are compiled into it),
// then loads every other module once.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const repo = path.resolve(__dirname, '..');
const dist = path.join(repo, 'dist');
fs.rmSync(path.join(dist, '.code-cache'), { recursive: true, force: true });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccrun-codecache-'));
const env = { ...process.env, CCRUN_BUILD_CODE_CACHE: '1' };
const ccrun = path.join(repo, 'bin', 'ccrun');
// The container paths need the busybox image and rootfs (scripts/setup.sh
// runs this again once they exist). A module's own cache holds the functions
// compiled by the first command that loads it.
const warmups = [];
// The hot commands on a real container, as an engine calls them: each also
// records its command's bundle (cli/code-cache.ts), and the start-up path's
// ("main") comes from the first. Run twice: the first pass writes each
// bundle, the second compiles and runs it and writes its code cache.
const bundled = [];
const rootfs = path.join(repo, 'bundles', 'busybox', 'rootfs');
if (fs.existsSync(path.join(rootfs, 'bin', 'busybox'))) {
  // `ccrun spec`'s config, without a terminal, running args on the busybox rootfs.
  spawnSync(process.execPath, [ccrun, 'spec', '-b', root], { stdio: 'ignore' });
  const spec = JSON.parse(fs.readFileSync(path.join(root, 'config.json'), 'utf8'));
  fs.rmSync(path.join(root, 'config.json')); // the last warm-ups run `spec -b` there again
  const bundleRunning = (name, args) => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    fs.symlinkSync(rootfs, path.join(dir, 'rootfs'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...spec, process: { ...spec.process, terminal: false, args } }));
    return dir;
  };
  const bundle = bundleRunning('bundle', ['true']);
  const held = 'code-cache-held';
  if (process.getuid && process.getuid() === 0) {
    // The container held through create ... delete runs a sleep, so that exec
    // (an engine's probes call it again and again) has a running container.
    const heldBundle = bundleRunning('bundle-held', ['sleep', '60']);
    bundled.push(
      ['--root', root, 'run', '-b', bundle, 'code-cache-warmup'],
      // The image front end's bundle ("run-image"; the image is loaded by scripts/setup.sh). Never the host's network.
      ['--root', root, 'run', '--rm', '--network', 'none', 'busybox', 'true'],
      ['--root', root, 'create', '-b', heldBundle, held],
      ['--root', root, 'state', held],
      ['--root', root, 'list'],
      ['--root', root, 'kill', held, 'CONT'],
      ['--root', root, 'ps', '--format', 'json', held],
      ['--root', root, 'start', held],
      ['--root', root, 'exec', held, 'true'],
      ['--root', root, 'kill', held, 'KILL'],
      ['--root', root, 'delete', '--force', held],
    );
  } else {
    warmups.push(['--root', root, 'run', '-b', bundle, 'code-cache-warmup']);
  }
}
// A warm pull (the image present, its tag unchanged), against a registry of the
// build's own: the image is pulled once first with the cache off, so that pull
// neither records the bundle (it would hold the unpack path) nor writes the
// modules' own caches before the hot commands above do.
let registry;
try {
  registry = require('./warmup-registry').startWarmupRegistry();
  const image = `${registry.host}/${registry.repo}`;
  const store = path.join(root, 'store');
  spawnSync(process.execPath, [ccrun, '--store', store, 'pull', '-q', image], { env: { ...process.env, CCRUN_CODE_CACHE: 'off' }, stdio: 'ignore' });
  bundled.push(['--store', store, 'pull', '-q', image]);
} catch {
  /* no pull bundle: pull loads its modules one by one */
}
bundled.push(['--version']);
// The richest paths first (they also write the modules' own caches).
for (let pass = 0; pass < 2; pass++) {
  if (pass === 1) dropBundleCaches();
  for (const args of bundled) spawnSync(process.execPath, [ccrun, ...args], { env: { ...env, CCRUN_BUILD_BUNDLES: '1' }, stdio: 'ignore' });
}
for (const args of [...warmups, ['--root', root, 'state', 'none'], ['--root', root, 'kill', 'none'], ['--root', root, 'delete', 'none'], ['features'], ['spec', '-b', root]]) {
  spawnSync(process.execPath, [ccrun, ...args], { env, stdio: 'ignore' });
}
// The loader's own entry (bin/ccrun writes it when missing, at exit) from a
// command that runs from its bundle, so the functions of that path are in it.
fs.rmSync(path.join(dist, '.code-cache', 'cli__code-cache.js.bin'), { force: true });
spawnSync(process.execPath, [ccrun, '--root', root, 'list'], { env, stdio: 'ignore' });
if (registry) void registry.stop();
// Whatever a failed warm-up left (a parked init, its cgroup) goes with its state.
for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) {
  if (fs.existsSync(path.join(root, id, 'state.json'))) spawnSync(process.execPath, [ccrun, '--root', root, 'delete', '--force', id], { stdio: 'ignore' });
}
fs.rmSync(root, { recursive: true, force: true });
require(path.join(dist, 'cli', 'code-cache.js')).installCodeCache(true);
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === '.code-cache' ? [] : walk(path.join(d, e.name))) : e.name.endsWith('.js') ? [path.join(d, e.name)] : []));
for (const f of walk(dist)) {
  try {
    require(f);
  } catch {
    /* a module that needs its environment: it is compiled when used */
  }
}
const entries = fs.existsSync(path.join(dist, '.code-cache')) ? fs.readdirSync(path.join(dist, '.code-cache')) : [];
const bundles = entries.filter((e) => e.endsWith('.bundle.js')).map((e) => e.slice(0, -'.bundle.js'.length));
process.on('exit', () => console.log(`build-code-cache: ${entries.length}+ entries in dist/.code-cache; bundles: ${bundles.join(' ') || 'none'}`));

/**
 * After the recording pass, each bundle's .bin goes back to its header alone,
 * so that the second pass writes every bundle's cache from the first command
 * to load it there: its own. In the recording pass a later command could load
 * a bundle an earlier one had just recorded and write its cache from its own
 * path: `run IMAGE` wrote the run bundle's, without the functions of the
 * config.json validation that `run -b` runs (~14 M instructions compiled again
 * on every `run -b`).
 */
function dropBundleCaches() {
  const { writeReplacing } = require(path.join(dist, 'cli', 'code-cache.js'));
  const dir = path.join(dist, '.code-cache');
  for (const f of fs.readdirSync(dir).filter((e) => e.endsWith('.bundle.bin'))) {
    const file = path.join(dir, f);
    const entry = fs.readFileSync(file);
    writeReplacing(file, entry.subarray(0, entry.indexOf(10) + 1));
  }
}
