// --help output, rendered by commander from the same option tables the fast
// parser uses. Loaded only when help is asked for.
import { Command, Option } from 'commander';
import { COMMANDS, GLOBAL_OPTIONS, loadCommand, VERSION } from './main';
import type { OptionSpec } from './command';

function flags(o: OptionSpec): string {
  const names = `${o.short ? `-${o.short}, ` : ''}--${o.name}`;
  return o.kind === 'boolean' ? names : `${names} <${o.value ?? 'value'}>`;
}

function addOptions(cmd: Command, specs: OptionSpec[]): void {
  for (const o of specs) {
    if (o.hidden) continue;
    const opt = new Option(flags(o), o.description);
    if (o.default !== undefined && o.kind !== 'boolean') opt.default(o.default);
    cmd.addOption(opt);
  }
}

export function printHelp(commandName?: string): void {
  const program = new Command('ccrun')
    .description('ccrun: an OCI container runtime (runc-compatible) with an image front end')
    .version(VERSION, '-v, --version', 'print the version')
    .usage('[global options] <command> [options] [args]');
  addOptions(program, GLOBAL_OPTIONS.filter((o) => o.name !== 'version'));
  const seen = new Set<string>();
  for (const name of Object.keys(COMMANDS)) {
    if (seen.has(COMMANDS[name])) continue;
    seen.add(COMMANDS[name]);
    let spec;
    try {
      spec = loadCommand(name);
    } catch {
      continue; // a command still being written must not break help
    }
    if (!spec) continue;
    const sub = program.command(spec.name).description(spec.summary).usage(spec.usage);
    addOptions(sub, spec.options);
    if (commandName === spec.name) {
      process.stdout.write(sub.helpInformation());
      return;
    }
  }
  process.stdout.write(program.helpInformation());
}
