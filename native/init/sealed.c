/*
 * CVE-2019-5736: a container process that reaches /proc/PID/exe of a
 * process ccrun put into the container (the parked init, an exec'd
 * process before its execve) must not be able to overwrite the runtime's
 * binary on the host. The helper is non-dumpable until exec, which already
 * keeps a container without CAP_SYS_PTRACE away; like runc, it also runs
 * from a sealed memfd copy of itself, so even a process that can open that
 * exe finds an anonymous, write-sealed file, never the host file. Node
 * itself never enters a container.
 */
#include "init.h"
#include "../common/sealed-copy.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

void reexec_sealed(char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) fail_errno("open /proc/self/exe");
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE)) {
    close(self); /* already the sealed copy (ccrun's addon made it) */
    return;
  }
  int mfd = sealed_copy(self, "ccrun-init");
  if (mfd < 0) fail_errno("make a sealed memfd copy of ccrun-init");
  close(self);
  syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  fail_errno("exec the sealed copy of ccrun-init");
}
