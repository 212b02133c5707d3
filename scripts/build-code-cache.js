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
// The container paths first: a module's cache holds the functions compiled
// by the first command that loads it, and `run` uses the most. They need the
// busybox image and rootfs (scripts/setup.sh runs this again once they exist).
const warmups = [];
if (process.getuid && process.getuid() === 0) warmups.push(['--root', root, 'run', '--rm', '--network', 'none', 'busybox', 'true']); // never the host's network
const rootfs = path.join(repo, 'bundles', 'busybox', 'rootfs');
if (fs.existsSync(path.join(rootfs, 'bin', 'busybox'))) {
  const bundle = path.join(root, 'bundle');
  fs.mkdirSync(bundle);
  fs.symlinkSync(rootfs, path.join(bundle, 'rootfs'));
  spawnSync(process.execPath, [ccrun, 'spec', '-b', bundle], { stdio: 'ignore' });
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['true'];
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  warmups.push(['--root', root, 'run', '-b', bundle, 'code-cache-warmup']);
}
for (const args of [...warmups, ['--version'], ['--root', root, 'state', 'none'], ['--root', root, 'list'], ['--root', root, 'kill', 'none'], ['--root', root, 'delete', 'none'], ['--root', root, 'start', 'none'], ['features'], ['spec', '-b', root]]) {
  spawnSync(process.execPath, [ccrun, ...args], { env, stdio: 'ignore' });
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
const n = fs.existsSync(path.join(dist, '.code-cache')) ? fs.readdirSync(path.join(dist, '.code-cache')).length : 0;
process.on('exit', () => console.log(`build-code-cache: ${n}+ entries in dist/.code-cache`));
