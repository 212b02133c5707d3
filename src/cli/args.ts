// A small argv parser driven by each command's option table. It exists
// because loading commander costs ~10 ms on every start, and start-up is our
// hot path; commander is loaded only to render --help (src/cli/help.ts).
import type { OptionSpec, ParsedOptions } from './command';
import { UsageError } from '../runtime/errors';

export interface ParseResult {
  opts: ParsedOptions;
  args: string[];
  help: boolean;
}

export function parseArgs(
  argv: string[],
  specs: OptionSpec[],
  stopAfterPositionals = Infinity,
): ParseResult {
  const byLong = new Map<string, OptionSpec>();
  const byShort = new Map<string, OptionSpec>();
  for (const s of specs) {
    byLong.set(s.name, s);
    if (s.short) byShort.set(s.short, s);
  }
  const opts: ParsedOptions = {};
  for (const s of specs) {
    if (s.default !== undefined) opts[camel(s.name)] = s.default;
    else if (s.kind === 'list') opts[camel(s.name)] = [];
  }
  const args: string[] = [];
  let help = false;
  let i = 0;
  const take = (spec: OptionSpec, inline: string | undefined, shown: string): void => {
    const key = camel(spec.name);
    if (spec.kind === 'boolean') {
      if (inline === undefined) opts[key] = true;
      else if (/^(true|1|yes)$/i.test(inline)) opts[key] = true;
      else if (/^(false|0|no)$/i.test(inline)) opts[key] = false;
      else throw new UsageError(`option ${shown} takes true or false, not "${inline}"`);
      return;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option ${shown} needs a value${spec.value ? ` (${spec.value})` : ''}`);
      value = argv[++i];
    }
    if (spec.kind === 'number') {
      if (!/^-?\d+$/.test(value)) throw new UsageError(`option ${shown} takes a whole number, not "${value}"`);
      opts[key] = Number(value);
    } else if (spec.kind === 'list') {
      (opts[key] as string[]).push(value);
    } else {
      opts[key] = value;
    }
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (args.length >= stopAfterPositionals) {
      args.push(a);
      continue;
    }
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
      take(spec, eq >= 0 ? a.slice(eq + 1) : undefined, `--${name}`);
      continue;
    }
    if (a.length > 1 && a[0] === '-' && !/^-\d/.test(a)) {
      // -b DIR, -bDIR, -b=DIR, and clusters of booleans (-it).
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]);
        if (!spec) {
          // runc (urfave/cli) also accepts long flags with one dash: -root X.
          const long = a.slice(1).split('=')[0];
          const longSpec = byLong.get(long);
          if (j === 1 && longSpec) {
            const eq = a.indexOf('=');
            take(longSpec, eq >= 0 ? a.slice(eq + 1) : undefined, `-${long}`);
            break;
          }
          throw new UsageError(`unknown option -${a[j]}`);
        }
        if (spec.kind === 'boolean') {
          take(spec, undefined, `-${a[j]}`);
          continue;
        }
        const rest = a.slice(j + 1);
        take(spec, rest === '' ? undefined : rest.replace(/^=/, ''), `-${a[j]}`);
        break;
      }
      continue;
    }
    args.push(a);
  }
  return { opts, args, help };
}

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
