/*
 * ccrun-init entry: read the plan from the sync socket, then either create a
 * container (clone its init into new namespaces) or exec a process in an
 * existing one. See init.h for the wire format, and src/runtime/launch.ts for
 * the other side of the conversation:
 *
 *   Node -> helper : plan
 *   helper -> Node : "pid" HOSTPID   (init cloned, id mappings written)
 *   Node -> helper : "go"            (init placed in its cgroup)
 *   init -> Node   : "ready" | "error" MSG
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
  const char *name;
  int flag;
} ns_types[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"network", CLONE_NEWNET},
    {"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP}, {"mount", CLONE_NEWNS}, {"time", CLONE_NEWTIME},
};

static int ns_flag(const char *name) {
  for (size_t i = 0; i < sizeof ns_types / sizeof ns_types[0]; i++)
    if (strcmp(ns_types[i].name, name) == 0) return ns_types[i].flag;
  fail("unknown namespace type \"%s\"", name);
}

/* Join the namespaces the plan names by path: the user namespace first (it
 * grants the rights to join the others), the mount namespace last (after it,
 * host paths no longer resolve). */
static void join_namespaces(const struct plan *p) {
  int fds[16];
  int flags[16];
  int n = 0;
  for (int i = 0; i < p->nrecords && n < 16; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "ns") != 0 || r->nfields < 3 || r->fields[2][0] == 0) continue;
    int fd = open(r->fields[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_errno("open %s namespace %s", r->fields[1], r->fields[2]);
    fds[n] = fd;
    flags[n] = ns_flag(r->fields[1]);
    n++;
  }
  static const int order[] = {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID,
                              CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS};
  for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
    for (int i = 0; i < n; i++) {
      if (flags[i] != order[o]) continue;
      if (setns(fds[i], flags[i]) != 0) fail_errno("join namespace (setns %#x)", flags[i]);
      close(fds[i]);
    }
}

static int new_namespace_flags(const struct plan *p) {
  int flags = 0;
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "ns") == 0 && r->nfields >= 3 && r->fields[2][0] == 0) flags |= ns_flag(r->fields[1]);
  }
  return flags;
}

/* Writes /proc/PID/{setgroups,uid_map,gid_map}, directly or through the
 * setuid newuidmap/newgidmap tools for a rootless caller with sub-ids. */
static void write_id_maps(const struct plan *p, pid_t pid) {
  char path[64], buf[4096];
  const char *tools[2] = {plan_get(p, "mapper", 1, NULL), plan_get(p, "mapper", 2, NULL)};
  const char *tags[2] = {"uidmap", "gidmap"};
  const char *files[2] = {"uid_map", "gid_map"};
  const char *setgroups = plan_get(p, "setgroups", 1, NULL);
  if (setgroups && !tools[1]) {
    snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
    if (write_file(path, setgroups, strlen(setgroups)) != 0 && errno != ENOENT) fail_errno("write %s", path);
  }
  for (int k = 0; k < 2; k++) {
    size_t off = 0;
    int count = 0;
    char *argv[3 + 3 * 64];
    char pidbuf[16];
    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    argv[0] = (char *)tools[k];
    argv[1] = pidbuf;
    int argc = 2;
    for (int i = 0; i < p->nrecords; i++) {
      const struct record *r = &p->records[i];
      if (strcmp(r->fields[0], tags[k]) != 0 || r->nfields < 4) continue;
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s %s %s\n", r->fields[1], r->fields[2], r->fields[3]);
      if (off >= sizeof buf) fail("too many %s entries", tags[k]);
      if (argc + 3 < (int)(sizeof argv / sizeof argv[0]) - 1) {
        argv[argc++] = r->fields[1];
        argv[argc++] = r->fields[2];
        argv[argc++] = r->fields[3];
      }
      count++;
    }
    argv[argc] = NULL;
    if (count == 0) continue;
    if (tools[k] && tools[k][0]) {
      pid_t t = fork();
      if (t < 0) fail_errno("fork %s", tools[k]);
      if (t == 0) {
        execv(tools[k], argv);
        dprintf(2, "ccrun-init: exec %s: %s\n", tools[k], strerror(errno));
        _exit(127);
      }
      int st;
      while (waitpid(t, &st, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("%s failed to write the %s of the container", tools[k], files[k]);
    } else {
      snprintf(path, sizeof path, "/proc/%d/%s", pid, files[k]);
      if (write_file(path, buf, off) != 0) fail_errno("write %s (\"%.*s\")", path, (int)(off ? off - 1 : 0), buf);
    }
  }
}

static int connect_console_socket(const char *path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) fail("console socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fail_errno("connect to console socket %s", path);
  return fd;
}

/* Where the pty master goes: the --console-socket path, or (ccrun owns the
 * terminal: foreground run/exec) a socket fd it passed to us. */
static int open_console(const struct plan *p) {
  const char *console = plan_get(p, "console", 1, NULL);
  if (console && console[0]) return connect_console_socket(console);
  long fd = plan_get_ll(p, "consolefd", 1, -1);
  if (fd < 0) return -1;
  if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0) fail_errno("console fd %ld", fd);
  return (int)fd;
}

/* Signals the caller of `run` forwards to the container; the helper that
 * waits must survive them itself. */
static void ignore_forwarded_signals(void) {
  for (int s = 1; s < 65; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE)
      continue;
    signal(s, SIG_IGN);
  }
}

static int wait_status(pid_t pid) {
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return 255;
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

/* Join the cgroup the runtime made, where it asked us to ("cgjoin" FILE: v1
 * tasks files): a thread writing "0" moves itself without the kernel's global
 * threadgroup lock, whose synchronize_rcu would cost the runtime 10-25 ms
 * writing our pid. Called while single-threaded, before anything of the
 * container runs, where the runtime would otherwise have placed us. */
static void join_cgroup(const struct plan *p) {
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "cgjoin") != 0 || r->nfields < 2) continue;
    if (write_file(r->fields[1], "0", 1) != 0) fail_errno("joining the container's cgroup (writing 0 to %s)", r->fields[1]);
  }
}

/* ---- the container's init, from clone to exec ---- */

static volatile sig_atomic_t parked_signal;

/* While parked, the init is pid 1 of its namespace: signals without a
 * handler would be ignored, so `kill` of a created container would do
 * nothing. Die as the signal asks instead. */
static void parked_signal_handler(int sig) { _exit(128 + sig); }

static void park_until_start(int fifo_fd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = parked_signal_handler;
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGWINCH || s == SIGURG || s == SIGCONT) continue;
    sigaction(s, &sa, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  char c;
  for (;;) {
    ssize_t n = read(fifo_fd, &c, 1);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    _exit(1);
  }
  close(fifo_fd);
}

static void container_init(const struct plan *p, int go_fd, int fifo_fd, int console_fd, int new_flags) {
  char c;
  umask(0);
  ssize_t n;
  /* Until "go" the helper writes our /proc/PID/{uid_map,gid_map,setgroups}:
   * a rootless helper can only while we are still dumpable. Nothing else
   * is in the container yet. */
  while ((n = read(go_fd, &c, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) _exit(1);
  close(go_fd);
  join_cgroup(p);
  /* From here on nothing of this process may be reached through /proc from
   * the container before exec replaces it (CVE-2019-5736 class). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Our own session and process group: a container process calling
   * kill(0, sig) must never reach the caller's process group. */
  if (setsid() < 0) fail_errno("setsid");

  if (new_flags & CLONE_NEWUSER) {
    if (setresgid(0, 0, 0) != 0) fail_errno("setresgid(0) in the new user namespace (is gid 0 mapped?)");
    if (setresuid(0, 0, 0) != 0) fail_errno("setresuid(0) in the new user namespace (is uid 0 mapped?)");
  }
  if (new_flags & CLONE_NEWCGROUP) {
    /* After the runtime placed us in the container's cgroup, so that cgroup
     * becomes the root of the new cgroup namespace. */
    if (unshare(CLONE_NEWCGROUP) != 0) fail_errno("unshare(CLONE_NEWCGROUP)");
  }
  const char *hostname = plan_get(p, "hostname", 1, NULL);
  if (hostname && sethostname(hostname, strlen(hostname)) != 0) fail_errno("sethostname");
  const char *domainname = plan_get(p, "domainname", 1, NULL);
  if (domainname && setdomainname(domainname, strlen(domainname)) != 0) fail_errno("setdomainname");

  if (plan_find(p, "rootfs")) setup_rootfs(p);
  finish_rootfs(p);

  static char exe[4096];
  const char *path = resolve_executable(p, exe, sizeof exe);
  prepare_process_early(p);
  /* Built now so that a bad profile fails create; loaded just before exec. */
  seccomp_prepare(p);
  if (console_fd >= 0) {
    setup_terminal(p, console_fd);
    mount_console();
  }

  if (fifo_fd >= 0) {
    if (send_message(sync_fd, "ready", NULL) != 0) _exit(1);
    close(sync_fd);
    sync_fd = -1;
    park_until_start(fifo_fd);
  }
  hooks_start_container(p);
  exec_process(p, path);
}

static int run_create(const struct plan *p) {
  int fifo_fd = -1, console_fd = -1, result_fd = -1;
  const char *fifo = plan_get(p, "fifo", 1, NULL);
  if (fifo) {
    if (mkfifo(fifo, 0600) != 0) fail_errno("mkfifo %s", fifo);
    /* O_RDWR never blocks; `start` opens the other end for writing and the
     * parked init's read returns. */
    fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
    if (fifo_fd < 0) fail_errno("open %s", fifo);
  }
  const char *result = plan_get(p, "fifo", 2, "");
  if (fifo && result[0]) {
    if (mkfifo(result, 0600) != 0) fail_errno("mkfifo %s", result);
    /* Held open (as a writer) by the init until execve: `start` can open the
     * read end without blocking and reads to end-of-file. */
    result_fd = open(result, O_RDWR | O_CLOEXEC);
    if (result_fd < 0) fail_errno("open %s", result);
  }
  console_fd = open_console(p);
  int monitor_console = monitor_prepare(p);
  if (monitor_console >= 0) console_fd = monitor_console;
  seccomp_connect_listener(p);

  join_namespaces(p);
  int new_flags = new_namespace_flags(p);
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) fail_errno("pipe");

  /* The cgroup namespace is unshared by the init itself once it sits in its
   * cgroup; every other new namespace is made by clone. */
  int clone_flags = new_flags & ~CLONE_NEWCGROUP & ~CLONE_NEWTIME;
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)clone_flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) fail_errno("clone(%#x)", clone_flags);
  if (pid == 0) {
    close(go[1]);
    start_result_fd = result_fd;
    container_init(p, go[0], fifo_fd, console_fd, new_flags);
    _exit(1);
  }
  close(go[0]);
  if (fifo_fd >= 0) close(fifo_fd);
  if (result_fd >= 0) close(result_fd);
  if (console_fd >= 0) close(console_fd);
  seccomp_close_listener();

  if (new_flags & CLONE_NEWUSER) write_id_maps(p, pid);

  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  if (send_message(sync_fd, "pid", pidbuf, NULL) != 0) {
    kill(pid, SIGKILL);
    _exit(1);
  }
  char *msg;
  size_t len;
  struct plan reply;
  if (read_frame(sync_fd, &msg, &len) != 0 || plan_decode(msg, len, &reply) != 0 || !plan_find(&reply, "go")) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    _exit(1);
  }
  if (write(go[1], "g", 1) != 1) _exit(1);
  close(go[1]);
  if (plan_find(p, "monitor")) {
    /* The init says "ready" itself; the caller needs nothing more from us. */
    close(sync_fd);
    sync_fd = -1;
    return monitor_container(p, pid);
  }
  if (plan_get_ll(p, "wait", 1, 0)) {
    /* The caller reads the socket until EOF: our exit, after the init's. */
    ignore_forwarded_signals();
    return wait_status(pid);
  }
  close(sync_fd);
  return 0;
}

/* ---- exec: a new process in an existing container ---- */

static int run_exec(const struct plan *p) {
  join_cgroup(p);
  int console_fd = open_console(p);
  seccomp_connect_listener(p);
  join_namespaces(p);
  /* setns(CLONE_NEWPID) applies to children only: fork into the namespace. */
  pid_t pid = fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (setsid() < 0) fail_errno("setsid");
    /* A container without a mount namespace: its root is the init's chroot,
     * which joining namespaces does not give (chroot ROOT: /proc/INIT/root). */
    const char *root = plan_get(p, "chroot", 1, NULL);
    if (root && (chroot(root) != 0 || chdir("/") != 0)) fail_errno("enter the container's root %s", root);
    static char exe[4096];
    const char *path = resolve_executable(p, exe, sizeof exe);
    prepare_process_early(p);
    seccomp_prepare(p);
    if (console_fd >= 0) setup_terminal(p, console_fd);
    /* The runtime answers our parent's "pid" with the state for the agent
     * (it holds our host pid, which we cannot see from in here). */
    seccomp_await_state();
    /* The host pid is what the caller needs; report it from the parent. */
    send_message(sync_fd, "ready", NULL);
    close(sync_fd);
    sync_fd = -1;
    exec_process(p, path);
  }
  if (console_fd >= 0) close(console_fd);
  seccomp_close_listener();
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  send_message(sync_fd, "pid", pidbuf, NULL);
  if (plan_get_ll(p, "wait", 1, 0)) {
    ignore_forwarded_signals();
    return wait_status(pid);
  }
  close(sync_fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    dprintf(2, "ccrun-init is started by ccrun, not by hand\n");
    return 2;
  }
  sync_fd = atoi(argv[1]);
  reexec_sealed(argv);
  /* Exec'd from /proc/self/fd/N (ccrun's sealed copy), the kernel named us "N". */
  prctl(PR_SET_NAME, "ccrun-init", 0, 0, 0);
  char *buf;
  size_t len;
  struct plan p;
  if (read_frame(sync_fd, &buf, &len) != 0) fail("no plan on the sync socket");
  if (plan_decode(buf, len, &p) != 0) fail("malformed plan");
  /* No host fd but stdio, the preserved ones and our socket survives exec. */
  long preserve = plan_get_ll(&p, "preserve", 1, 0);
  if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail_errno("close_range");
  if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) != 0) fail_errno("fcntl");
  const char *mode = plan_get(&p, "mode", 1, "create");
  if (strcmp(mode, "exec") == 0) return run_exec(&p);
  return run_create(&p);
}
