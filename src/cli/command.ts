// The shape every command file in src/cli/commands/ exports. One table of
// options drives both the fast parser (src/cli/args.ts) and the help text.
import type { Logger } from './log';

export type OptionKind = 'boolean' | 'string' | 'list' | 'number';

export interface OptionSpec {
  /** Long name without dashes, e.g. "pid-file". */
  name: string;
  /** Single-letter alias without dash, e.g. "b". */
  short?: string;
  kind: OptionKind;
  /** Placeholder shown in help, e.g. "FILE". */
  value?: string;
  description: string;
  default?: string | boolean | number;
  /** Accepted but hidden from help (compatibility with runc callers). */
  hidden?: boolean;
}

export interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
  rootless?: string;
  store?: string;
}

export type ParsedOptions = Record<string, string | boolean | number | string[] | undefined>;

export interface CommandContext {
  globals: GlobalOptions;
  log: Logger;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage after the command name, e.g. "[options] <container-id>". */
  usage: string;
  options: OptionSpec[];
  /**
   * Stop option parsing after this many positional arguments: everything after
   * belongs to the container's command line (exec ID CMD..., run IMAGE CMD...).
   */
  stopAfterPositionals?: number;
  minArgs?: number;
  maxArgs?: number;
  /** Returns the process exit code. */
  run(ctx: CommandContext, opts: ParsedOptions, args: string[]): Promise<number> | number;
}
