// Logging for the CLI: human text on stderr, and, with --log FILE, lines in
// the chosen --log-format (json lines {"level","msg","time"} are what
// containerd and conmon read back on failure).
import { openSync, writeSync, mkdirSync, closeSync } from 'fs';
import { dirname } from 'path';
import { writeErr } from './output';

export type Level = 'debug' | 'info' | 'warning' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  readonly debugEnabled: boolean;
}

export class CliLogger implements Logger {
  private fd = -1;
  constructor(
    private readonly file: string | undefined,
    private readonly format: 'text' | 'json',
    readonly debugEnabled: boolean,
  ) {
    if (file) {
      // Created up front so callers find it even when we fail early.
      try {
        mkdirSync(dirname(file), { recursive: true });
        this.fd = openSync(file, 'a', 0o600);
      } catch (e) {
        writeErr(`ccrun: cannot open log file ${file}: ${(e as Error).message}\n`);
      }
    }
  }

  private write(level: Level, msg: string, toStderr: boolean): void {
    if (this.fd >= 0) {
      const time = new Date().toISOString();
      const line =
        this.format === 'json'
          ? JSON.stringify({ level, msg, time }) + '\n'
          : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
      try {
        writeSync(this.fd, line);
      } catch {
        /* a full disk must not turn a warning into a crash */
      }
    }
    if (toStderr) writeErr(level === 'error' ? `ccrun: ${msg}\n` : `ccrun: ${level}: ${msg}\n`);
  }

  debug(msg: string): void {
    if (this.debugEnabled) this.write('debug', msg, this.fd < 0);
  }
  info(msg: string): void {
    this.write('info', msg, false);
  }
  warn(msg: string): void {
    this.write('warning', msg, true);
  }
  error(msg: string): void {
    this.write('error', msg, true);
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
