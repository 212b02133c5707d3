// Writing to stdout/stderr without touching process.stdout/stderr: creating
// those streams loads node:stream (~8 ms), which the hot commands (state,
// list, kill, --version) can do without. Writes are synchronous and complete.
import { writeSync } from 'fs';

function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text, 'utf8');
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking pipe that is full: wait a moment and go on.
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      if (code === 'EPIPE') return; // the reader went away: nothing to tell it
      throw e;
    }
  }
}

export function writeOut(text: string): void {
  writeAll(1, text);
}

export function writeErr(text: string): void {
  writeAll(2, text);
}
