/*
 * The hooks the init runs itself (runtime-spec config.md, "POSIX-platform
 * Hooks"), from records made by src/runtime/hooks.ts:
 *
 *   hooksync                                  (the runtime wants to be asked before pivot_root:
 *                                              it has hooks to run, or a seccomp agent's state to give)
 *   hook KIND PATH TIMEOUT NARGS ARG... ENV...
 *
 * Before pivot_root the init asks the runtime (Node) to run prestart and
 * createRuntime in the runtime namespace ("hooks" -> "hookstate" with the
 * state JSON the init hands to its own hooks), then runs createContainer in
 * the container's namespaces (the path still resolves in the runtime's
 * filesystem: the old root is there until pivot_root). startContainer runs
 * after `start`, after pivot_root, just before the process's exec.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *state_created; /* state JSON for createContainer */
static char *state_start;   /* state JSON for startContainer */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_hook(const struct record *r, const char *state) {
  if (r->nfields < 5) fail("malformed hook record");
  const char *kind = r->fields[1], *path = r->fields[2];
  long timeout = strtol(r->fields[3], NULL, 10);
  int nargs = atoi(r->fields[4]);
  if (nargs < 0 || 5 + nargs > r->nfields) fail("malformed hook record for %s", path);
  char **argv = calloc((size_t)nargs + 2, sizeof(char *));
  char **envp = calloc((size_t)(r->nfields - 5 - nargs) + 1, sizeof(char *));
  if (!argv || !envp) fail("out of memory");
  if (nargs == 0) argv[0] = (char *)path;
  for (int i = 0; i < nargs; i++) argv[i] = r->fields[5 + i];
  for (int i = 5 + nargs, j = 0; i < r->nfields; i++, j++) envp[j] = r->fields[i];

  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) fail_errno("pipe for the %s hook", kind);
  pid_t pid = fork();
  if (pid < 0) fail_errno("fork the %s hook %s", kind, path);
  if (pid == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < 65; s++) sigaction(s, &sa, NULL);
    if (dup2(in[0], 0) != 0) _exit(127);
    execve(path, argv, envp);
    dprintf(2, "ccrun-init: exec %s hook %s: %s\n", kind, path, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  /* A hook that never reads its stdin must not kill us with SIGPIPE. */
  struct sigaction ign, old;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  size_t len = strlen(state), off = 0;
  while (off < len) {
    ssize_t n = write(in[1], state + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += (size_t)n;
  }
  close(in[1]);
  sigaction(SIGPIPE, &old, NULL);

  long long deadline = timeout > 0 ? now_ms() + timeout * 1000LL : 0;
  int st;
  for (;;) {
    pid_t w = waitpid(pid, &st, deadline ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) fail_errno("wait for the %s hook %s", kind, path);
    if (deadline && now_ms() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      fail("%s hook %s timed out after %ld s", kind, path, timeout);
    }
    if (deadline) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  free(argv);
  free(envp);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
  if (WIFSIGNALED(st)) fail("%s hook %s was killed by signal %d", kind, path, WTERMSIG(st));
  fail("%s hook %s failed with exit status %d", kind, path, WEXITSTATUS(st));
}

static void run_hooks(const struct plan *p, const char *kind, const char *state) {
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "hook") == 0 && r->nfields >= 2 && strcmp(r->fields[1], kind) == 0)
      run_hook(r, state ? state : "{}");
  }
}

void hooks_before_pivot(const struct plan *p) {
  if (!plan_find(p, "hooksync")) return;
  if (send_message(sync_fd, "hooks", NULL) != 0) _exit(1);
  char *msg;
  size_t len;
  struct plan reply;
  /* Anything but the state means the runtime gave up (a hook failed): it
   * kills us and reports the error itself. */
  if (read_frame(sync_fd, &msg, &len) != 0 || plan_decode(msg, len, &reply) != 0) _exit(1);
  const struct record *r = plan_find(&reply, "hookstate");
  if (!r || r->nfields < 3) _exit(1);
  state_created = r->fields[1];
  state_start = r->fields[2];
  /* SCMP_ACT_NOTIFY: the container process state for the agent (Node knows
   * our host pid by now). */
  seccomp_take_state(&reply);
  run_hooks(p, "createContainer", state_created);
}

void hooks_start_container(const struct plan *p) { run_hooks(p, "startContainer", state_start); }
