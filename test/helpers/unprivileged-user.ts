// An unprivileged user for tests that run ccrun as one (rootless): made with
// useradd when missing, removed again by dispose() when this process made it.
// Commands run through setpriv with every privilege dropped and `env -i`: the
// test runner adds NODE_OPTIONS hooks to what it spawns, and they would write
// to its root-owned directories as the user.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';

export interface UserResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunAsOptions {
  /** The environment besides PATH and HOME (e.g. XDG_RUNTIME_DIR). */
  env?: Record<string, string>;
  cwd?: string;
  timeout?: number;
}

export interface UnprivilegedUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Runs cmd as the user and waits (blocks this process: no in-process servers). */
  runSync(cmd: string[], opts?: RunAsOptions): UserResult;
  /** Runs cmd as the user without blocking (a registry rig in this process keeps serving). */
  run(cmd: string[], opts?: RunAsOptions): Promise<UserResult>;
  /** A fresh directory under /tmp owned by the user, mode 0700. */
  ownedDir(prefix: string): string;
  /** Pids of the user's processes still alive (zombies are not). */
  processes(): number[];
  /** Kills what the user still runs, and removes the user if this process made it. */
  dispose(): void;
}

function setprivArgv(uid: number, gid: number, home: string, cmd: string[], env: Record<string, string> = {}): string[] {
  const vars = [`HOME=${home}`, `PATH=${process.env.PATH}`, ...(process.env.CCRUN_NETWORK ? [`CCRUN_NETWORK=${process.env.CCRUN_NETWORK}`] : []), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', 'env', '-i', ...vars, ...cmd];
}

export function unprivilegedUser(name: string): UnprivilegedUser {
  const made = spawnSync('id', ['-u', name]).status !== 0;
  if (made) {
    const r = spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  }
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  const home = `/home/${name}`;
  // Zombies are not counted: they are gone, only not yet reaped (this host's pid 1 takes its time).
  const processes = (): number[] =>
    fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
      try {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        return new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status) && !/^State:\s+Z/m.test(status);
      } catch {
        return false;
      }
    });
  return {
    name,
    uid,
    gid,
    home,
    runSync(cmd, opts = {}) {
      const r = spawnSync('setpriv', setprivArgv(uid, gid, home, cmd, opts.env), { encoding: 'utf8', cwd: opts.cwd, timeout: opts.timeout ?? 30_000 });
      return { code: r.status ?? 255, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    run(cmd, opts = {}) {
      return new Promise((done, fail) => {
        const child = spawn('setpriv', setprivArgv(uid, gid, home, cmd, opts.env), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 60_000);
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', fail);
        child.on('close', (code) => {
          clearTimeout(timer);
          done({ code: code ?? 255, stdout, stderr });
        });
      });
    },
    ownedDir(prefix) {
      const dir = fs.mkdtempSync(`/tmp/${prefix}`);
      fs.chownSync(dir, uid, gid);
      fs.chmodSync(dir, 0o700);
      return dir;
    },
    processes,
    dispose() {
      for (const pid of processes()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      if (made) spawnSync('userdel', ['--remove', name]);
    },
  };
}
