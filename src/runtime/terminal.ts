// A terminal that ccrun itself owns (foreground `run`/`exec` with
// process.terminal and no --console-socket): ccrun-init sends the pty master
// over a socketpair instead of a console socket, and ccrun relays the user's
// terminal to it in raw mode, follows window-size changes (SIGWINCH ->
// TIOCSWINSZ) and restores the user's terminal at the end.
import * as fs from 'fs';
import { native } from '../native';

export interface TerminalPair {
  /** Our end: the pty master arrives here. */
  ours: number;
  /** The helper's end (launch() hands it over and closes it). */
  theirs: number;
}

export function terminalPair(): TerminalPair {
  const [ours, theirs] = native().socketPair();
  return { ours, theirs };
}

/** The pty master sent by the helper (it is sent before "ready", so this does not block once launch returned). */
export function receiveMaster(pair: TerminalPair): number {
  try {
    return native().recvFd(pair.ours).fd;
  } finally {
    fs.closeSync(pair.ours);
  }
}

export interface TerminalRelay {
  /** Waits until the container side of the pty is closed (or `ms` passed), then restores the user's terminal. */
  finish(ms?: number): Promise<void>;
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  let tries = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, data.length - off);
      tries = 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // The master is non-blocking once libuv reads it: wait a little for room.
      if (code === 'EAGAIN' && tries++ < 1000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      return; // EIO: the container side is gone
    }
  }
}

export function relayTerminal(master: number, opts: { input?: boolean } = {}): TerminalRelay {
  const addon = native();
  // docker run -t without -i: a terminal for the output, none of our input.
  const input = opts.input ?? true;
  const stdin = process.stdin;
  const stdout = process.stdout;
  const rawMode = stdin.isTTY === true;
  const resize = (): void => {
    if (!stdout.isTTY) return;
    try {
      addon.setWinsize(master, stdout.rows, stdout.columns);
    } catch {
      /* the pty is gone */
    }
  };
  resize();
  if (rawMode && input) stdin.setRawMode(true);
  process.on('SIGWINCH', resize);

  // tty (and the net module under it) costs ~10 ms to load: only when relaying.
  const tty = require('tty') as typeof import('tty');
  const fromContainer = new tty.ReadStream(master);
  let closed = false;
  let onClosed: () => void = () => undefined;
  const closedPromise = new Promise<void>((r) => (onClosed = r));
  const markClosed = (): void => {
    closed = true;
    onClosed();
  };
  fromContainer.on('data', (d: Buffer) => stdout.write(d));
  // Reading a master whose slave side is all closed gives EIO: that is the end.
  fromContainer.on('error', markClosed);
  fromContainer.on('end', markClosed);
  fromContainer.on('close', markClosed);

  const toContainer = (d: Buffer): void => writeAll(master, d);
  if (input) {
    stdin.on('data', toContainer);
    stdin.resume();
  }

  return {
    async finish(ms = 500): Promise<void> {
      if (!closed) await Promise.race([closedPromise, new Promise((r) => setTimeout(r, ms).unref())]);
      process.removeListener('SIGWINCH', resize);
      if (input) {
        stdin.removeListener('data', toContainer);
        if (rawMode) stdin.setRawMode(false);
        stdin.pause();
        // Let stdin go (a pipe or tty left open would keep ccrun alive).
        stdin.destroy();
      }
      fromContainer.destroy();
      await new Promise<void>((r) => stdout.write('', () => r()));
    },
  };
}
