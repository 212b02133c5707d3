/* The sync socket with the Node side, and error reporting through it. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sync_fd = -1;
int start_result_fd = -1;

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_frame(int fd, char **buf, size_t *len) {
  unsigned char hdr[4];
  if (read_full(fd, hdr, 4) != 0) return -1;
  uint32_t n = (uint32_t)hdr[0] | ((uint32_t)hdr[1] << 8) | ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 24);
  if (n > 64u << 20) return -1;
  *buf = malloc(n ? n : 1);
  if (!*buf) return -1;
  if (read_full(fd, *buf, n) != 0) return -1;
  *len = n;
  return 0;
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

/* One record in one frame, written with a single write so concurrent
 * writers (the helper and the container init) never interleave. */
int send_message(int fd, const char *tag, ...) {
  const char *fields[16];
  int n = 0;
  fields[n++] = tag;
  va_list ap;
  va_start(ap, tag);
  const char *f;
  while (n < 16 && (f = va_arg(ap, const char *)) != NULL) fields[n++] = f;
  va_end(ap);
  size_t total = 4;
  for (int i = 0; i < n; i++) total += 4 + strlen(fields[i]);
  unsigned char *buf = malloc(4 + total);
  if (!buf) return -1;
  put_u32(buf, (uint32_t)total);
  put_u32(buf + 4, (uint32_t)n);
  size_t off = 8;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(fields[i]);
    put_u32(buf + off, (uint32_t)l);
    memcpy(buf + off + 4, fields[i], l);
    off += 4 + l;
  }
  int rc = write_full(fd, buf, off);
  free(buf);
  return rc;
}

ssize_t send_with_fd(int sock, int fd, const void *data, size_t len) {
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void *)data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}

int receive_fd(int sock) {
  char name[256];
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {name, sizeof name};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return -1;
  int fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

static void vfail(int with_errno, const char *fmt, va_list ap) {
  int saved = errno;
  char msg[4096];
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (with_errno && n >= 0 && (size_t)n < sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));
  /* During create the caller reads the sync socket; once parked, `start`
   * reads the start result fifo. */
  if (sync_fd >= 0 && send_message(sync_fd, "error", msg, NULL) == 0) _exit(1);
  if (start_result_fd >= 0 && write_full(start_result_fd, msg, strlen(msg)) == 0) _exit(1);
  dprintf(2, "ccrun-init: %s\n", msg);
  _exit(1);
}

void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(0, fmt, ap);
  va_end(ap);
  _exit(1);
}

void fail_errno(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(1, fmt, ap);
  va_end(ap);
  _exit(1);
}

int write_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write_full(fd, data, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}
