// Exclusive locks between processes: a lock file created with O_EXCL that
// holds the owner's pid. A lock whose owner is dead is broken (under a
// second, short-lived lock, so two breakers cannot remove each other's fresh
// lock). Used by the image store; not re-entrant.
import * as fs from 'fs';
import { removeFile } from '../runtime/remove-dir';

let sleepCell: Int32Array | undefined;

function sleepSync(ms: number): void {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleepCell, 0, 0, ms);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One attempt: true when we now hold the lock. Breaks a lock whose pid is dead. */
function tryLock(path: string): boolean {
  try {
    const fd = fs.openSync(path, 'wx', 0o600);
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  breakIfStale(path);
  return false;
}

function breakIfStale(path: string): void {
  let owner: number;
  let age: number;
  try {
    owner = Number(fs.readFileSync(path, 'utf8').trim() || NaN);
    age = Date.now() - fs.statSync(path).mtimeMs;
  } catch {
    return; // released meanwhile
  }
  // An empty file is a holder that died between create and write (or is writing now).
  if (Number.isNaN(owner) ? age < 5000 : pidAlive(owner)) return;
  const breaker = `${path}.break`;
  try {
    fs.closeSync(fs.openSync(breaker, 'wx', 0o600));
  } catch {
    try {
      if (Date.now() - fs.statSync(breaker).mtimeMs > 10000) removeFile(breaker);
    } catch {
      /* gone already */
    }
    return;
  }
  try {
    const again = Number(fs.readFileSync(path, 'utf8').trim() || NaN);
    if (again === owner || (Number.isNaN(again) && Number.isNaN(owner))) removeFile(path);
  } catch {
    /* released meanwhile */
  } finally {
    removeFile(breaker);
  }
}

/** Runs fn holding the lock file `path`, polling (5 ms, doubling to 100 ms) while another holds it. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  let wait = 5;
  while (!tryLock(path)) {
    await sleep(wait);
    wait = Math.min(wait * 2, 100);
  }
  try {
    return await fn();
  } finally {
    removeFile(path);
  }
}

/** The same for short synchronous critical sections (images.json updates). */
export function withFileLockSync<T>(path: string, fn: () => T): T {
  let wait = 2;
  while (!tryLock(path)) {
    sleepSync(wait);
    wait = Math.min(wait * 2, 50);
  }
  try {
    return fn();
  } finally {
    removeFile(path);
  }
}
