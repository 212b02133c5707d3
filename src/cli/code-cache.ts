// A V8 code cache for ccrun's own modules (Node 20 has no
// module.enableCompileCache). `npm run build` writes dist/.code-cache/ by
// loading every module once (scripts/build-code-cache.js); at run time each
// of our modules is compiled with its cached data, which skips most of the
// parsing and compiling of the functions a command runs. A missing or stale
// cache entry only means a normal compile. Each entry starts with the size
// and mtime of the source it was made from: V8 itself checks only the
// source's length, so an edit of the same length would otherwise run the
// old code.
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import Module = require('module');

const distDir = path.resolve(__dirname, '..');
const cacheDir = path.join(distDir, '.code-cache');

interface InternalModule {
  _compile(content: string, filename: string): unknown;
}

function cachePath(filename: string): string {
  return path.join(cacheDir, path.relative(distDir, filename).replace(/[/\\]/g, '__') + '.bin');
}

const pending = new Map<string, { script: vm.Script; stamp: Buffer }>();

/** The header of a cache entry: which version of the source file it belongs to. */
function sourceStamp(filename: string): Buffer {
  const st = fs.statSync(filename);
  return Buffer.from(`ccrun-code-cache ${st.size} ${st.mtimeMs}\n`);
}

/** produce: write cache entries (build time); otherwise only read them. */
export function installCodeCache(produce = false): void {
  if (produce) {
    // Written at exit, after the modules ran, so the lazily compiled
    // functions a command used are in the cache too.
    process.once('exit', () => {
      fs.mkdirSync(cacheDir, { recursive: true });
      for (const [filename, { script, stamp }] of pending) fs.writeFileSync(cachePath(filename), Buffer.concat([stamp, script.createCachedData()]));
    });
  }
  const proto = Module.prototype as unknown as InternalModule & Module;
  const original = proto._compile;
  proto._compile = function (this: Module, content: string, filename: string): unknown {
    if (!filename.startsWith(distDir + path.sep) || filename.startsWith(cacheDir)) return original.call(this, content, filename);
    let cachedData: Buffer | undefined;
    let stamp: Buffer | undefined;
    try {
      stamp = sourceStamp(filename);
      const entry = fs.readFileSync(cachePath(filename));
      if (entry.subarray(0, stamp.length).equals(stamp)) cachedData = entry.subarray(stamp.length);
    } catch {
      /* no entry (or no source to stat): a normal compile */
    }
    if (cachedData === undefined && !produce) return original.call(this, content, filename);
    const script = new vm.Script(Module.wrap(content), { filename, cachedData });
    if (produce && stamp && (cachedData === undefined || script.cachedDataRejected)) {
      pending.set(filename, { script, stamp });
    } else if (!produce && script.cachedDataRejected) {
      return original.call(this, content, filename);
    }
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    const mod = this;
    const req = ((id: string) => mod.require(id)) as NodeRequire;
    req.resolve = ((request: string, options?: { paths?: string[] }) =>
      (Module as unknown as { _resolveFilename(r: string, p: Module, m: boolean, o?: unknown): string })._resolveFilename(request, mod, false, options)) as NodeRequire['resolve'];
    req.main = require.main;
    req.cache = require.cache;
    req.extensions = require.extensions;
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };
}
