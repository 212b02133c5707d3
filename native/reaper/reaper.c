/*
 * ccrun-reaper: `ccrun run --init`'s pid 1. Bind-mounted read-only into the
 * container at /dev/init, it starts the command as its child, passes on every
 * signal it is sent (pid 1 of a pid namespace gets no default actions, so a
 * command that is pid 1 itself would ignore SIGTERM), reaps every orphan that
 * is reparented to it (zombies would pile up otherwise), and exits with the
 * command's status (128+N when killed by signal N). Static, so it runs in any
 * image; single-threaded and small on purpose.
 *
 * Usage: ccrun-reaper [--] COMMAND [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
  if (first >= argc) {
    fprintf(stderr, "ccrun-reaper: usage: %s [--] COMMAND [ARG...]\n", argv[0]);
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  /* Blocked signals are queued for pid 1 (never dropped as "ignored"), and
   * sigwaitinfo takes them one by one. */
  if (sigprocmask(SIG_BLOCK, &all, &old) != 0) {
    perror("ccrun-reaper: sigprocmask");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("ccrun-reaper: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first], argv + first);
    fprintf(stderr, "ccrun-reaper: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      perror("ccrun-reaper: sigwaitinfo");
      return 1;
    }
    if (sig != SIGCHLD) {
      /* Stop signals from the terminal are for the command, not for us. */
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) {
        /* The command is done: what is left is killed with the namespace. */
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return 1;
      }
    }
  }
}
