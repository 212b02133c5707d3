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

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

extern char **environ;

void reexec_sealed(char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) fail_errno("open /proc/self/exe");
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE)) {
    close(self); /* already the sealed copy */
    return;
  }
  struct stat st;
  if (fstat(self, &st) != 0) fail_errno("stat /proc/self/exe");
  int mfd = memfd_create("ccrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) fail_errno("memfd_create for a sealed copy of ccrun-init");
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_errno("copy ccrun-init into a memfd");
  }
  close(self);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    fail_errno("seal the ccrun-init memfd");
  syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  fail_errno("exec the sealed copy of ccrun-init");
}
