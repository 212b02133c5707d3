// Fast loading of ccrun's own modules (Node 20 has no
// module.enableCompileCache), two parts:
//  - a V8 code cache: `npm run build` writes dist/.code-cache/ by running
//    the hot commands and loading every module once
//    (scripts/build-code-cache.js); each of our modules is then compiled with
//    its cached data, which skips most parsing and compiling. Each entry
//    starts with the size and mtime of the source it was made from: V8
//    itself checks only the source's length, so an edit of the same length
//    would otherwise run the old code. A missing, stale or rejected entry
//    only means a normal compile.
//  - a direct loader for the relative requires between our modules: the
//    file is "./x.js" or "./x/index.js" below dist/, so Node's resolution
//    (stat of each candidate, realpath, package.json scope lookups), about a
//    third of the loading time, is skipped. Anything else (node_modules,
//    built-ins, the addon, a file that is not there) goes through Node's
//    require as before.
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import type ModuleClass = require('module');

// The loader's own class, as every CommonJS module sees it: require('module')
// would also load the public module API (the ES module loader, source maps).
const Module = module.constructor as typeof ModuleClass;

const distDir = path.resolve(__dirname, '..');
const cacheDir = path.join(distDir, '.code-cache');

interface InternalModule {
  _compile(content: string, filename: string): unknown;
  paths: string[];
  loaded: boolean;
}
type LoadedModule = InternalModule & ModuleClass;

function cachePath(filename: string): string {
  return path.join(cacheDir, filename.slice(distDir.length + 1).replace(/[/\\]/g, '__') + '.bin');
}

const pending = new Map<string, { script: vm.Script; stamp: Buffer }>();

/** The header of a cache entry: which version of the source file it belongs to. */
function stampOf(st: fs.Stats): Buffer {
  return Buffer.from(`ccrun-code-cache ${st.size} ${st.mtimeMs}\n`);
}

let produce = false;
let original: InternalModule['_compile'];

/** Compiles and runs one of our modules, with its cache entry when that is current. */
function compileOurs(mod: LoadedModule, content: string, filename: string, st: fs.Stats | undefined): unknown {
  let cachedData: Buffer | undefined;
  const stamp = st ? stampOf(st) : undefined;
  if (stamp) {
    try {
      const entry = fs.readFileSync(cachePath(filename));
      if (entry.subarray(0, stamp.length).equals(stamp)) cachedData = entry.subarray(stamp.length);
    } catch {
      /* no entry: a normal compile */
    }
  }
  if (cachedData === undefined && !produce) return original.call(mod, content, filename);
  const script = new vm.Script(Module.wrap(content), { filename, cachedData });
  if (produce && stamp && (cachedData === undefined || script.cachedDataRejected)) {
    pending.set(filename, { script, stamp });
  } else if (!produce && script.cachedDataRejected) {
    return original.call(mod, content, filename);
  }
  const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
  return fn.call(mod.exports, mod.exports, requireFor(mod), mod, filename, path.dirname(filename));
}

/** The files a relative request between our modules can be, in Node's order; undefined: not ours, Node resolves it. */
function ourCandidates(request: string, fromDir: string): string[] | undefined {
  if (!request.startsWith('./') && !request.startsWith('../')) return undefined;
  const base = path.resolve(fromDir, request);
  if (!base.startsWith(distDir + path.sep) || base.startsWith(cacheDir)) return undefined;
  return base.endsWith('.js') ? [base] : [base + '.js', path.join(base, 'index.js')];
}

/** The first candidate that is a file: its name, text and stat (one open, fstat and read). */
function readFirst(candidates: string[]): { filename: string; content: string; st: fs.Stats } | undefined {
  for (const filename of candidates) {
    let fd: number;
    try {
      fd = fs.openSync(filename, 'r');
    } catch {
      continue;
    }
    try {
      const st = fs.fstatSync(fd);
      if (st.isFile()) return { filename, content: fs.readFileSync(fd, 'utf8'), st };
    } finally {
      fs.closeSync(fd);
    }
  }
  return undefined;
}

const nodeModulePaths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths;

function requireFor(mod: LoadedModule): NodeRequire {
  const dir = path.dirname(mod.filename);
  const req = ((request: string) => {
    const candidates = ourCandidates(request, dir);
    if (!candidates) return mod.require(request);
    for (const f of candidates) {
      const loaded = require.cache[f];
      if (loaded) return loaded.exports;
    }
    const found = readFirst(candidates);
    if (!found) return mod.require(request); // Node reports what is missing
    // What Module._load does for a new file, without the resolution.
    const child = new Module(found.filename, mod) as LoadedModule;
    child.filename = found.filename;
    child.paths = nodeModulePaths(path.dirname(found.filename));
    require.cache[found.filename] = child;
    let ok = false;
    try {
      compileOurs(child, found.content, found.filename, found.st);
      ok = true;
    } finally {
      if (!ok) delete require.cache[found.filename];
    }
    child.loaded = true;
    return child.exports;
  }) as NodeRequire;
  req.resolve = ((request: string, options?: { paths?: string[] }) =>
    (Module as unknown as { _resolveFilename(r: string, p: ModuleClass, m: boolean, o?: unknown): string })._resolveFilename(request, mod, false, options)) as NodeRequire['resolve'];
  req.main = require.main;
  req.cache = require.cache;
  req.extensions = require.extensions;
  return req;
}

/** produce: write cache entries (build time); otherwise only read them. */
export function installCodeCache(produceEntries = false): void {
  produce = produceEntries;
  if (produce) {
    // Written at exit, after the modules ran, so the lazily compiled
    // functions a command used are in the cache too.
    process.once('exit', () => {
      fs.mkdirSync(cacheDir, { recursive: true });
      for (const [filename, { script, stamp }] of pending) fs.writeFileSync(cachePath(filename), Buffer.concat([stamp, script.createCachedData()]));
    });
  }
  const proto = Module.prototype as unknown as LoadedModule;
  original = proto._compile;
  // The entry module (bin/ccrun requires dist/cli/main.js) and anything Node
  // itself loads from dist/ come here.
  proto._compile = function (this: LoadedModule, content: string, filename: string): unknown {
    if (!filename.startsWith(distDir + path.sep) || filename.startsWith(cacheDir)) return original.call(this, content, filename);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(filename);
    } catch {
      /* no source to stat: a normal compile */
    }
    return compileOurs(this, content, filename, st);
  };
}
