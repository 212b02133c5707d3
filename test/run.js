#!/usr/bin/env node
// Runs the tap suite (all of test/**/*.test.ts, or the files given) and ends
// the output with the line CI reads: "N passed, N failed[, N skipped]".
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const tap = path.join(root, 'node_modules', '.bin', 'tap');
const args = ['--reporter=tap', '--disable-coverage', '--timeout=900', ...process.argv.slice(2)];
// The suite never touches this machine's network: ccrun's default network
// (the CNI bridge, with NAT rules) would be made in the host's namespace, so
// containers get `none` unless a test asks; network tests work in namespaces
// of their own (test/frontend/network*.test.ts).
const env = { ...process.env, CCRUN_NETWORK: process.env.CCRUN_NETWORK || 'none' };
const child = spawn(tap, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
// tap's own closing comment counts every assertion: "# { total: 15, pass: 14, fail: 1 }".
let tail = '';
const notOk = [];
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-1_000_000);
});
child.on('close', (code) => {
  const summary = [...tail.matchAll(/^# \{ total: \d+.*\}$/gm)].pop();
  const count = (k) => {
    const m = summary && summary[0].match(new RegExp(`\\b${k}: (\\d+)`));
    return m ? Number(m[1]) : 0;
  };
  for (const m of tail.matchAll(/^( *)not ok \d+ - (.*)$/gm)) notOk.push(m[1] + m[2]);
  if (notOk.length) process.stdout.write('\n# failures:\n' + notOk.map((l) => `#   ${l}`).join('\n') + '\n');
  const pass = count('pass');
  const fail = count('fail');
  const skip = count('skip') + count('todo');
  // A crash with no assertion failing still fails the run.
  const failed = fail || (code !== 0 ? 1 : 0);
  process.stdout.write(`\n${pass} passed, ${failed} failed${skip ? `, ${skip} skipped` : ''}\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
