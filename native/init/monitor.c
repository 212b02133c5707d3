/*
 * The monitor of a detached image container (`ccrun run -d`, `ccrun start
 * NAME`): the helper that cloned the init stays as its parent instead of
 * exiting, so the container's exit status can be collected without a Node
 * process (tens of MB) living as long as the container. It
 *   - holds the write end of the container's stdin pipe (`-d -i`: stdin stays
 *     open, as Docker's), or the pty master (`-d -t`), relaying the terminal's
 *     output to the log file (our stdout);
 *   - waits for the init, then execs the plan's exit command with the exit
 *     code filled in (ccrun records it and removes the runtime state; a short
 *     Node process once the container is gone).
 * Plan record: "monitor" KEEP_STDIN TERMINAL ARGV... ("{code}", "{pid}" filled in)
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int keep_stdin_fd = -1;
static int terminal_peer_fd = -1;

/* Before the clone: what the init must inherit. Returns the fd the init uses
 * as its console socket (-1: no terminal). */
int monitor_prepare(const struct plan *p) {
  if (!plan_find(p, "monitor")) return -1;
  if (plan_get_ll(p, "monitor", 1, 0)) {
    int fds[2];
    if (pipe2(fds, 0) != 0) fail_errno("pipe for the container's stdin");
    if (dup2(fds[0], 0) != 0) fail_errno("dup2 the stdin pipe");
    close(fds[0]);
    if (fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) fail_errno("fcntl");
    keep_stdin_fd = fds[1];
  }
  if (!plan_get_ll(p, "monitor", 2, 0)) return -1;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail_errno("socketpair for the terminal");
  terminal_peer_fd = pair[1];
  return pair[0];
}

/* One read from the pty master to the log; 0 once the terminal is done
 * (EIO: every slave end is closed). */
static int copy_out(int from) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return 0;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(1, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += w;
  }
  return 1;
}

/* After "go": the caller is about to return; stay with the container. */
int monitor_container(const struct plan *p, pid_t init) {
  int master = terminal_peer_fd >= 0 ? receive_fd(terminal_peer_fd) : -1;
  if (terminal_peer_fd >= 0) close(terminal_peer_fd);
  /* Out of the caller's session: its terminal hanging up is not ours. */
  setsid();
  for (int s = 1; s < 65; s++)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD) signal(s, SIG_IGN);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(init, &status, master >= 0 ? WNOHANG : 0);
    if (r == init) break;
    if (r < 0 && errno != EINTR) {
      status = 255 << 8;
      break;
    }
    if (master >= 0) {
      /* The terminal's output until the init exits; polled in slices so
       * the exit is seen even if something keeps the pty open. */
      struct pollfd pfd = {master, POLLIN, 0};
      int ready = poll(&pfd, 1, 200);
      if (ready > 0 && !((pfd.revents & POLLIN) && copy_out(master))) {
        close(master);
        master = -1;
      }
    }
  }
  if (master >= 0) {
    /* What the container wrote last. */
    struct pollfd pfd = {master, POLLIN, 0};
    while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) && copy_out(master)) {
    }
    close(master);
  }
  if (keep_stdin_fd >= 0) close(keep_stdin_fd);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;

  const struct record *r = plan_find(p, "monitor");
  if (r->nfields < 4) return code;
  /* The exit command's "{code}" and "{pid}" arguments are filled in (the
   * pid lets ccrun tell this run from a later start of the container). */
  char codebuf[16], pidbuf[16];
  snprintf(codebuf, sizeof codebuf, "%d", code);
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)init);
  char *argv[64];
  int argc = 0;
  for (int i = 3; i < r->nfields && argc < 63; i++) {
    char *a = r->fields[i];
    argv[argc++] = strcmp(a, "{code}") == 0 ? codebuf : strcmp(a, "{pid}") == 0 ? pidbuf : a;
  }
  argv[argc] = NULL;
  for (int s = 1; s < 65; s++) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execv(argv[0], argv);
  dprintf(2, "ccrun monitor: exec %s: %s (the exit code %d was not recorded)\n", argv[0], strerror(errno), code);
  return code;
}
