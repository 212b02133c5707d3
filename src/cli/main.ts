// Entry point: parse global flags, find the command, load only its module
// (start-up is a hot path), run it, and map errors to messages and exit codes.
import { parseArgs } from './args';
import type { CommandSpec, GlobalOptions, OptionSpec } from './command';
import { CliLogger } from './log';
import { writeErr, writeOut } from './output';
import { CcrunError } from '../runtime/errors';

export const VERSION = '0.1.0';
export const SPEC_VERSION = '1.2.0';

/** Command name -> module under ./commands (loaded lazily). */
export const COMMANDS: Record<string, string> = {
  // OCI runtime (runc's command line)
  create: 'create',
  start: 'start',
  state: 'state',
  kill: 'kill',
  delete: 'delete',
  run: 'run',
  exec: 'exec',
  list: 'list',
  ps: 'ps',
  pause: 'pause',
  resume: 'resume',
  update: 'update',
  events: 'events',
  checkpoint: 'checkpoint',
  restore: 'restore',
  spec: 'spec',
  features: 'features',
  // images
  pull: 'pull',
  images: 'images',
  inspect: 'inspect',
  rmi: 'rmi',
  bundle: 'bundle',
  load: 'load',
  save: 'save',
  login: 'login',
  logout: 'logout',
  // Docker-style front end
  stop: 'stop',
  rm: 'rm',
  logs: 'logs',
  port: 'port',
  network: 'network',
};

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'root', kind: 'string', value: 'DIR', description: 'state directory (default /run/ccrun; rootless: $XDG_RUNTIME_DIR/ccrun)' },
  { name: 'log', kind: 'string', value: 'FILE', description: 'also write log lines to FILE (created even when failing early)' },
  { name: 'log-format', kind: 'string', value: 'text|json', description: 'format of --log lines', default: 'text' },
  { name: 'debug', kind: 'boolean', description: 'write debug messages' },
  { name: 'systemd-cgroup', kind: 'boolean', description: 'use systemd for cgroups (not supported: refused clearly)' },
  { name: 'rootless', kind: 'string', value: 'true|false|auto', description: 'accepted for runc compatibility', hidden: true },
  { name: 'criu', kind: 'string', value: 'PATH', description: 'the criu binary checkpoint and restore run (default: criu on PATH)' },
  { name: 'store', kind: 'string', value: 'DIR', description: 'image store (default /var/lib/ccrun; non-root: $XDG_DATA_HOME/ccrun)' },
  { name: 'version', short: 'v', kind: 'boolean', description: 'print the version' },
];

export function loadCommand(name: string): CommandSpec | undefined {
  const file = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!file) return undefined;
  // The command's modules in one compiled bundle, when the build made one.
  (require('./code-cache') as typeof import('./code-cache')).useBundle(file);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require(`./commands/${file}`) as { command: CommandSpec }).command;
}

function splitGlobal(argv: string[]): { global: string[]; rest: string[] } {
  // Global flags come before the command name; values may be separate words.
  const valued = new Set(GLOBAL_OPTIONS.filter((o) => o.kind !== 'boolean').map((o) => o.name));
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') break;
    const name = a.replace(/^--?/, '').split('=')[0];
    if (valued.has(name) && !a.includes('=')) i++;
  }
  return { global: argv.slice(0, i), rest: argv.slice(i) };
}

export async function main(argv: string[]): Promise<void> {
  let log: CliLogger | undefined;
  let code = 1;
  try {
    const { global, rest } = splitGlobal(argv);
    const g = parseArgs(global, GLOBAL_OPTIONS);
    const fmt = String(g.opts.logFormat);
    if (fmt !== 'text' && fmt !== 'json') {
      log = new CliLogger(undefined, 'text', false);
      throw new CcrunError(`--log-format must be text or json, not "${fmt}"`);
    }
    const globals: GlobalOptions = {
      root: g.opts.root as string | undefined,
      log: g.opts.log as string | undefined,
      logFormat: fmt,
      debug: Boolean(g.opts.debug),
      systemdCgroup: Boolean(g.opts.systemdCgroup),
      rootless: g.opts.rootless as string | undefined,
      store: g.opts.store as string | undefined,
    };
    log = new CliLogger(globals.log, globals.logFormat, globals.debug);
    if (g.opts.criu !== undefined) process.env.CCRUN_CRIU = String(g.opts.criu);
    if (g.opts.version) {
      writeOut(`ccrun version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      code = 0;
      return;
    }
    const name = rest[0];
    if (g.help || name === undefined || name === 'help') {
      const { printHelp } = require('./help') as typeof import('./help');
      printHelp(name === 'help' ? rest[1] : undefined);
      code = name === undefined && !g.help ? 1 : 0;
      return;
    }
    const command = loadCommand(name);
    if (!command) throw new CcrunError(`unknown command "${name}" (see ccrun --help)`);
    const parsed = parseArgs(rest.slice(1), command.options, command.stopAfterPositionals);
    if (parsed.help) {
      const { printHelp } = require('./help') as typeof import('./help');
      printHelp(name);
      code = 0;
      return;
    }
    const min = command.minArgs ?? 0;
    const max = command.maxArgs ?? Infinity;
    if (parsed.args.length < min || parsed.args.length > max) {
      throw new CcrunError(`usage: ccrun ${command.name} ${command.usage}`);
    }
    log.debug(`command ${name} ${JSON.stringify(parsed.args)}`);
    code = await command.run({ globals, log }, parsed.opts, parsed.args);
  } catch (e) {
    code = reportError(e, log ?? new CliLogger(undefined, 'text', false));
  } finally {
    log?.close();
  }
  process.exitCode = code;
}

function reportError(e: unknown, log: CliLogger): number {
  if (e instanceof CcrunError) {
    log.error(e.message);
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  log.error(err && err.message ? err.message : String(e));
  if (log.debugEnabled && err && err.stack) writeErr(err.stack + '\n');
  return 1;
}
