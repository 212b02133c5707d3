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
//  - per-command bundles: each of our modules still costs ~0.15 ms to load
//    even from its cache (two files read, one vm.Script, its cache checked
//    and deserialized), ~5 ms of a `run`. The build also writes, for the
//    start-up path ("main": the CLI before the command is known) and for
//    each hot command, one script holding the wrapper function of every
//    module that command loads, with its own code cache: one read and one
//    compile for all of them. A bundle is used only when every module in it
//    still has the size and mtime it was built from; otherwise (or when it
//    is missing or damaged) the modules load one by one as above.
//    A command's bundle also holds the start-up path's modules, and
//    installCodeCache picks it from the command line before main.js runs
//    (one bundle read and compiled, not two: ~1.7 M instructions of a
//    `state`). A wrong pick only costs time: main.js then asks for the
//    right one, whose modules already loaded are skipped.
//    The bundles are mapped from their files by a small addon rather than
//    read, so that V8 uses the page cache's pages instead of a fresh copy of
//    each, and their modules' stamps come from it too (see BuildFiles).
//    CCRUN_CODE_CACHE=off turns all of this off (stack traces then name the
//    modules' own files, not the bundle).
//  - this file itself is loaded by bin/ccrun with its own cache entry
//    (cli__code-cache.js.bin, same header as the others), since Node's
//    require would compile it on every command.
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

/** A path below dist/ as the build wrote it (already normal, so no path.join). */
function inDist(rel: string): string {
  return `${distDir}/${rel}`;
}

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

type ModuleFunction = (this: unknown, exports: unknown, require: NodeRequire, module: LoadedModule, filename: string, dirname: string) => unknown;
/** Modules of the bundles in use: file name -> its wrapper function (not yet run). */
const bundled = new Map<string, ModuleFunction>();
/** A bundle's first line: each module's path below dist/ with the size and mtime it was built from, and the bundle's length. */
interface BundleHeader {
  files: [string, number, number][];
  length: number;
}
/** Build time: the bundle now being recorded, and the modules each one loaded, in order. */
let recordingBundle = 'main';
const recorded = new Map<string, string[]>();
/** Build time: the bundle being recorded when each one began ("main" for a command's own). */
const bundleParent = new Map<string, string>();
/** The bundles this process has read (each is read once). */
const usedBundles = new Set<string>();
/** Build time: bundles loaded without a cache, whose cache is written at exit. */
const pendingBundles = new Map<string, { script: vm.Script; header: string }>();

function bundleFiles(name: string): { js: string; bin: string } {
  return { js: path.join(cacheDir, `${name}.bundle.js`), bin: path.join(cacheDir, `${name}.bundle.bin`) };
}

/**
 * How the loader stats and reads its build files. bin/ccrun passes
 * build/Release/ccrun_mapfile.node, which it loads first: Node compiles its
 * own fs functions on their first call (the first fs.readFileSync into a
 * Buffer ~2.2 M instructions, the first fs.statSync ~1.3 M, the addon's
 * whole load ~0.25 M), and the bundles are mapped rather than read: reading
 * create's ~260 KB bundle and its cache made a new heap string and a new
 * buffer, ~230 fresh pages (3-4 ms where a page fault costs ~14 us, as on the
 * machines this is measured on); mapped, V8 takes the page cache's pages as
 * they are. Without the addon (not built), fs does it all.
 */
export interface BuildFiles {
  /** [size, mtimeMs] of a regular file, as fs.statSync gives them; undefined when it is not one. */
  stamp(file: string): [number, number] | undefined;
  /** The file as an external Latin-1 string or Buffer; undefined when it cannot be mapped (it is then read). */
  map(file: string, asLatin1String: boolean): string | Buffer | undefined;
}

const fsFiles: BuildFiles = {
  stamp(file) {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return st?.isFile() ? [st.size, st.mtimeMs] : undefined;
  },
  map: () => undefined,
};

let files = fsFiles;

/** A bundle's cache file: mapped when the addon is there, read otherwise. */
function bundleEntry(bin: string): Buffer {
  const mapped = files.map(bin, false);
  return mapped instanceof Buffer ? mapped : fs.readFileSync(bin);
}

/**
 * A bundle's source, `length` characters long: mapped as a Latin-1 string
 * when the addon is there (the build keeps bundles ASCII, where that is the
 * same text; one that is not has more bytes than characters and is read as
 * UTF-8).
 */
function bundleSource(js: string, length: number): string {
  const mapped = files.map(js, true);
  return typeof mapped === 'string' && mapped.length === length ? mapped : fs.readFileSync(js, 'utf8');
}

/**
 * Build time: writes a cache or bundle file by rename, never in place: a
 * running ccrun may have the old one mapped (see bundleSource), and its
 * pages must not change under it.
 */
export function writeReplacing(file: string, data: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** The header of a bundle's .bin file when every module in it is unchanged; undefined otherwise. */
function currentBundleHeader(entry: Buffer, nl: number): BundleHeader | undefined {
  let header: BundleHeader;
  try {
    header = JSON.parse(entry.toString('utf8', 0, nl)) as BundleHeader;
  } catch {
    return undefined;
  }
  if (!header || !Array.isArray(header.files) || typeof header.length !== 'number') return undefined;
  for (const f of header.files) {
    if (!Array.isArray(f) || typeof f[0] !== 'string') return undefined;
    const st = files.stamp(inDist(f[0]));
    if (!st || st[0] !== f[1] || st[1] !== f[2]) return undefined;
  }
  return header;
}

/**
 * Makes the modules of bundle `name` (a command's, or "main") load from it
 * when they are first required. Anything wrong with the bundle (missing,
 * stale, damaged) only means the modules load one by one.
 */
export function useBundle(name: string): boolean {
  if (!original) return false; // not installed (tests running the sources)
  if (produce) {
    if (name !== 'main' && !bundleParent.has(name)) bundleParent.set(name, recordingBundle);
    recordingBundle = name;
  }
  if (usedBundles.has(name)) return true;
  const { js, bin } = bundleFiles(name);
  let entry: Buffer;
  try {
    entry = bundleEntry(bin);
  } catch {
    return false;
  }
  const nl = entry.indexOf(10);
  const header = nl > 0 ? currentBundleHeader(entry, nl) : undefined;
  if (!header) return false;
  let source: string;
  try {
    source = bundleSource(js, header.length);
  } catch {
    return false;
  }
  if (source.length !== header.length) return false;
  // Build time: the first run of a command with its new bundle writes the bundle's cache.
  const cachedData = entry.length === nl + 1 ? undefined : entry.subarray(nl + 1);
  let fns: unknown;
  try {
    const script = new vm.Script(source, { filename: js, cachedData });
    fns = script.runInThisContext({ displayErrors: true });
    if (produce && cachedData === undefined) pendingBundles.set(name, { script, header: entry.toString('utf8', 0, nl + 1) });
  } catch {
    return false; // a damaged bundle: the modules' own files still work
  }
  if (!Array.isArray(fns) || fns.length !== header.files.length) return false;
  header.files.forEach(([rel], i) => {
    const filename = inDist(rel);
    if (!require.cache[filename] && typeof fns[i] === 'function') bundled.set(filename, fns[i] as ModuleFunction);
  });
  usedBundles.add(name);
  return true;
}

/**
 * The bundle of the command on this command line, when the build made one:
 * the first of the first few words that look like a command name (not an
 * option, not a path) that has one. Global options come first and some take
 * a value, which this does not know: a value taken for the command
 * (`--root run state ID`) only costs time, as main.js then asks for the
 * right bundle.
 */
function useCommandBundle(argv: string[]): boolean {
  let tries = 0;
  for (const word of argv) {
    if (!/^[a-z][a-z-]*$/.test(word)) continue;
    // Build time: a bundle not written yet is recorded under main.js's request.
    const notWrittenYet = produce && !fs.existsSync(bundleFiles(word).bin);
    if (!notWrittenYet && useBundle(word)) return true;
    if (++tries === 4) break;
  }
  return false;
}

/** Build time: records that the bundle being recorded loaded this module. */
function recordForBundle(filename: string): void {
  if (!produce) return;
  const list = recorded.get(recordingBundle) ?? [];
  if (!list.includes(filename)) list.push(filename);
  recorded.set(recordingBundle, list);
}

/** Build time, at exit: the source and header-only .bin of each bundle recorded that does not exist yet (a second run of the same command then writes its cache). */
function writeRecordedBundles(): void {
  if (process.env.CCRUN_BUILD_BUNDLES !== '1') return;
  for (const [name, own] of recorded) {
    const { js, bin } = bundleFiles(name);
    if (fs.existsSync(js)) continue;
    // A command's bundle begins with the start-up path's modules (see useCommandBundle).
    const startup = bundleParent.get(name) === 'main' ? startupModules() : [];
    const files = [...startup, ...own.filter((f) => !startup.includes(f))];
    const parts: string[] = [];
    const header: BundleHeader = { files: [], length: 0 };
    for (const filename of files) {
      const st = fs.statSync(filename);
      header.files.push([filename.slice(distDir.length + 1), st.size, st.mtimeMs]);
      parts.push(`${Module.wrap(fs.readFileSync(filename, 'utf8')).replace(/;\s*$/, '')}`);
    }
    const source = `[\n${parts.join(',\n')}\n]\n`;
    header.length = source.length;
    writeReplacing(js, source);
    writeReplacing(bin, JSON.stringify(header) + '\n');
  }
}

/** Build time: the start-up path's modules, as this process recorded them or an earlier one wrote them. */
function startupModules(): string[] {
  const mine = recorded.get('main');
  if (mine?.length) return mine;
  try {
    const entry = fs.readFileSync(bundleFiles('main').bin, 'latin1');
    return (JSON.parse(entry.slice(0, entry.indexOf('\n'))) as BundleHeader).files.map(([rel]) => inDist(rel));
  } catch {
    return [];
  }
}

/** Runs a module from a bundle in use, or returns false when it is not in one. */
function runBundled(mod: LoadedModule, filename: string): boolean {
  const fn = bundled.get(filename);
  if (!fn) return false;
  bundled.delete(filename);
  fn.call(mod.exports, mod.exports, requireFor(mod), mod, filename, path.dirname(filename));
  return true;
}

/** Compiles and runs one of our modules, with its cache entry when that is current. */
function compileOurs(mod: LoadedModule, content: string, filename: string, st: fs.Stats | undefined): unknown {
  recordForBundle(filename);
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

const plainSegments = /^(?:[^/.][^/]*|\.[^/.][^/]*)(?:\/(?:[^/.][^/]*|\.[^/.][^/]*))*$/;

/**
 * path.resolve(dir, request) for the requests tsc writes ("./x", "../y/z"):
 * path's normalization walks the string a character at a time, ~1 ms of a
 * `create` over its ~150 requires. Anything unusual goes to path.resolve.
 */
export function resolveRelative(dir: string, request: string): string {
  let base = dir;
  let i = 0;
  for (;;) {
    if (request.startsWith('./', i)) i += 2;
    else if (request.startsWith('../', i)) {
      base = base.slice(0, base.lastIndexOf('/'));
      i += 3;
    } else break;
  }
  const rest = request.slice(i);
  if (base.length < 2 || !dir.startsWith('/') || !plainSegments.test(rest)) return path.resolve(dir, request);
  return `${base}/${rest}`;
}

/** The files a relative request between our modules can be, in Node's order; undefined: not ours, Node resolves it. */
function ourCandidates(request: string, fromDir: string): string[] | undefined {
  if (!request.startsWith('./') && !request.startsWith('../')) return undefined;
  const base = resolveRelative(fromDir, request);
  if (!base.startsWith(distDir + path.sep) || base.startsWith(cacheDir)) return undefined;
  return base.endsWith('.js') ? [base] : [base + '.js', base + '/index.js'];
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

/** Module._nodeModulePaths of a directory, once per directory (a copy for each module, as Node gives). */
const modulePathsByDir = new Map<string, string[]>();
function modulePathsOf(dir: string): string[] {
  let paths = modulePathsByDir.get(dir);
  if (!paths) modulePathsByDir.set(dir, (paths = nodeModulePaths(dir)));
  return paths.slice();
}

/** What Module._load does for a new file, without the resolution: run(child) compiles and runs it. */
function loadChild(parent: LoadedModule, filename: string, run: (child: LoadedModule) => unknown): unknown {
  const child = new Module(filename, parent) as LoadedModule;
  child.filename = filename;
  child.paths = modulePathsOf(path.dirname(filename));
  require.cache[filename] = child;
  let ok = false;
  try {
    run(child);
    ok = true;
  } finally {
    if (!ok) delete require.cache[filename];
  }
  child.loaded = true;
  return child.exports;
}

/**
 * Node's built-in modules, by the request that named them: once one is
 * loaded, a require of it from any of our modules is answered here instead of
 * by Module._load again (its cache key string, the relative-resolve cache, the
 * built-in check), ~150 times in a `run`. A built-in's exports never change.
 */
const builtins = new Map<string, unknown>();

function requireFor(mod: LoadedModule): NodeRequire {
  const dir = path.dirname(mod.filename);
  const req = ((request: string) => {
    const candidates = ourCandidates(request, dir);
    if (!candidates) {
      let exports = builtins.get(request);
      if (exports === undefined) {
        exports = mod.require(request);
        if (Module.isBuiltin(request)) builtins.set(request, exports);
      }
      return exports;
    }
    for (const f of candidates) {
      const loaded = require.cache[f];
      if (loaded) return loaded.exports;
    }
    // From a bundle when Node would pick that file: "./x/index.js" only while "./x.js" is not there.
    const inBundle = candidates.find((f) => bundled.has(f));
    if (inBundle && (inBundle === candidates[0] || !files.stamp(candidates[0]))) {
      return loadChild(mod, inBundle, (child) => runBundled(child, inBundle));
    }
    const found = readFirst(candidates);
    if (!found) return mod.require(request); // Node reports what is missing
    return loadChild(mod, found.filename, (child) => compileOurs(child, found.content, found.filename, found.st));
  }) as NodeRequire;
  req.resolve = ((request: string, options?: { paths?: string[] }) =>
    (Module as unknown as { _resolveFilename(r: string, p: ModuleClass, m: boolean, o?: unknown): string })._resolveFilename(request, mod, false, options)) as NodeRequire['resolve'];
  req.main = require.main;
  req.cache = require.cache;
  req.extensions = require.extensions;
  return req;
}

/**
 * produce: write cache entries (build time); otherwise only read them. argv:
 * the command line, to pick its command's bundle. buildFiles: the mapping
 * addon, when bin/ccrun could load it.
 */
export function installCodeCache(produceEntries = false, argv: string[] = [], buildFiles?: BuildFiles): void {
  if (process.env.CCRUN_CODE_CACHE === 'off') return;
  produce = produceEntries;
  files = buildFiles ?? fsFiles;
  if (produce) {
    // Written at exit, after the modules ran, so the lazily compiled
    // functions a command used are in the cache too.
    process.once('exit', () => {
      fs.mkdirSync(cacheDir, { recursive: true });
      for (const [filename, { script, stamp }] of pending) writeReplacing(cachePath(filename), Buffer.concat([stamp, script.createCachedData()]));
      for (const [name, { script, header }] of pendingBundles) writeReplacing(bundleFiles(name).bin, Buffer.concat([Buffer.from(header), script.createCachedData()]));
      writeRecordedBundles();
    });
  }
  const proto = Module.prototype as unknown as LoadedModule;
  original = proto._compile;
  // The entry module (bin/ccrun requires dist/cli/main.js) and anything Node
  // itself loads from dist/ come here.
  proto._compile = function (this: LoadedModule, content: string, filename: string): unknown {
    if (!filename.startsWith(distDir + path.sep) || filename.startsWith(cacheDir)) return original.call(this, content, filename);
    if (runBundled(this, filename)) return undefined;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(filename);
    } catch {
      /* no source to stat: a normal compile */
    }
    return compileOurs(this, content, filename, st);
  };
  if (!useCommandBundle(argv)) useBundle('main');
}

/** dist/cli/main.js, through the direct loader when it is installed (no resolution by Node). */
export function loadMain(): typeof import('./main') {
  if (!original) return require('./main') as typeof import('./main');
  return requireFor(module as unknown as LoadedModule)('./main.js') as typeof import('./main');
}
