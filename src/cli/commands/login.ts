// `ccrun login [-u USER] [--password-stdin] [REGISTRY]`: check credentials
// against the registry, then store them in Docker's config.json. The
// password is read from stdin or a prompt with echo off, never from argv.
import type { CommandSpec } from '../command';
import { UsageError } from '../../runtime/errors';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal; with hidden, nothing is echoed. */
function prompt(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    let line = '';
    if (hidden) input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (err?: Error): void => {
      input.removeListener('data', onData);
      if (hidden) input.setRawMode(false);
      input.pause();
      if (hidden) process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (data: string): void => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('login interrupted'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
        if (!hidden) process.stderr.write(ch);
      }
    };
    if (!hidden) {
      // Cooked mode: the terminal echoes and hands us whole lines.
      input.once('data', (d: string) => {
        line = d.replace(/\r?\n$/, '');
        input.pause();
        resolve(line);
      });
      return;
    }
    input.on('data', onData);
  });
}

export const command: CommandSpec = {
  name: 'login',
  summary: 'log in to a registry (checks the credentials, then stores them in Docker config.json)',
  usage: '[options] [REGISTRY]',
  options: [
    { name: 'username', short: 'u', kind: 'string', value: 'USER', description: 'user name' },
    { name: 'password-stdin', kind: 'boolean', description: 'read the password from stdin' },
    { name: 'insecure-registry', kind: 'list', value: 'HOST[:PORT]', description: 'allow plain http to this registry (also CCRUN_INSECURE_REGISTRIES)' },
  ],
  maxArgs: 1,
  async run(ctx, opts, args) {
    const creds = require('../../image/registry/credentials') as typeof import('../../image/registry/credentials');
    const { RegistryClient, insecureRegistries } = require('../../image/registry/client') as typeof import('../../image/registry/client');
    const domain = creds.registryDomain(args[0]);
    let username = opts.username as string | undefined;
    let password: string;
    if (opts.passwordStdin) {
      if (!username) throw new UsageError('--password-stdin needs --username (-u)');
      password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
    } else {
      if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password: use --password-stdin (with -u USER)');
      if (!username) username = (await prompt('Username: ', false)).trim();
      password = await prompt('Password: ', true);
    }
    if (!username) throw new UsageError('a user name is required (-u USER)');
    if (!password) throw new UsageError('the password is empty');
    const client = new RegistryClient(domain, {
      credentials: { username, password },
      insecureHosts: insecureRegistries(opts.insecureRegistry as string[]),
      debug: ctx.log.debugEnabled ? (m) => ctx.log.debug(m) : undefined,
    });
    try {
      await client.checkLogin();
    } finally {
      client.close();
    }
    creds.saveCredentials(domain, { username, password });
    process.stdout.write('Login Succeeded\n');
    return 0;
  },
};
