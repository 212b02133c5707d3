// What bench/runtime.js and bench/kernel-floor.js time commands with.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

/**
 * A timer of whole commands, in ms. stderr goes to errFile: a created
 * container inherits it, and a pipe would keep spawnSync waiting until the
 * container exits. A command that fails throws with what it said.
 */
function commandTimer(errFile) {
  return function time(cmd, args, env = process.env) {
    const err = fs.openSync(errFile, 'w');
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', err], env });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    fs.closeSync(err);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${fs.readFileSync(errFile, 'utf8')}`);
    return ms;
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

module.exports = { commandTimer, median };
