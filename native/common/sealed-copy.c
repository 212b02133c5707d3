#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sealed-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

int sealed_copy(int src, const char *name) {
  struct stat st;
  if (fstat(src, &st) != 0) return -1;
  int mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return -1;
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n == 0 ? EIO : errno;
      close(mfd);
      errno = err;
      return -1;
    }
  }
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    int err = errno;
    close(mfd);
    errno = err;
    return -1;
  }
  return mfd;
}
