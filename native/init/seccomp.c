/*
 * linux.seccomp through libseccomp. src/runtime/seccomp.ts has already
 * checked the profile and turned it into records:
 *
 *   seccomp  DEFAULT_ACTION DEFAULT_ERRNO FLAG...
 *   scarch   ARCH                        (libseccomp's name: x86_64, aarch64...)
 *   scrule   SYSCALL ACTION ERRNO NARGS [INDEX OP VALUE VALUETWO]...
 *   sclistener PATH                      (SCMP_ACT_NOTIFY is used: the agent's socket)
 *   scbpf    HEX                         (instead of scarch/scrule: the program compiled
 *                                         by an earlier run, from the runtime's cache)
 *   scexport                             (send the compiled program back: "scbpf" HEX)
 *
 * The filter is built before the init parks (a bad profile fails `create`)
 * and loaded as late as possible: just before execve when no_new_privs is
 * set, else before the credentials change, while the process still holds
 * CAP_SYS_ADMIN (the kernel's rule for a filter without no_new_privs; runc
 * does the same).
 *
 * libseccomp only compiles the filter: we export its BPF and load it with
 * seccomp(2) ourselves, so every flag the kernel knows works whatever
 * libseccomp's version (2.5 cannot set WAIT_KILLABLE_RECV).
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The compiled filter and the seccomp(2) flags to load it with. */
static struct sock_fprog program;
static unsigned long load_flags;
static int planned;

/* SCMP_ACT_NOTIFY: the connection to the agent (made before any namespace
 * was joined, so the host path resolves) and the container process state
 * the runtime gave us to send with the notification fd. */
static int listener_sock = -1;
static const char *listener_path;
static char *listener_state;

static int parse_action(const char *name, const char *errno_text, uint32_t *out) {
  uint32_t err = (uint32_t)strtoul(errno_text, NULL, 10);
  if (strcmp(name, "SCMP_ACT_ALLOW") == 0) *out = SCMP_ACT_ALLOW;
  else if (strcmp(name, "SCMP_ACT_ERRNO") == 0) *out = SCMP_ACT_ERRNO(err);
  else if (strcmp(name, "SCMP_ACT_TRACE") == 0) *out = SCMP_ACT_TRACE(err);
  else if (strcmp(name, "SCMP_ACT_TRAP") == 0) *out = SCMP_ACT_TRAP;
  else if (strcmp(name, "SCMP_ACT_LOG") == 0) *out = SCMP_ACT_LOG;
  else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0) *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0) *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0) *out = SCMP_ACT_NOTIFY;
  else return -1;
  return 0;
}

static int parse_op(const char *name, enum scmp_compare *out) {
  static const struct {
    const char *name;
    enum scmp_compare op;
  } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
             {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
             {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(ops[i].name, name) == 0) {
      *out = ops[i].op;
      return 0;
    }
  return -1;
}

static unsigned long flag_bit(const char *flag) {
  if (strcmp(flag, "SECCOMP_FILTER_FLAG_TSYNC") == 0) return SECCOMP_FILTER_FLAG_TSYNC;
  if (strcmp(flag, "SECCOMP_FILTER_FLAG_LOG") == 0) return SECCOMP_FILTER_FLAG_LOG;
  if (strcmp(flag, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0) return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (strcmp(flag, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0) return SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  fail("seccomp flag %s is not supported by this build of ccrun", flag);
}

/* libseccomp writes the BPF to an fd: a memfd, read back into memory now,
 * so that nothing of libseccomp runs after the park. */
static void export_program(scmp_filter_ctx filter) {
  int fd = memfd_create("ccrun-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) fail_errno("seccomp: memfd for the filter");
  int rc = seccomp_export_bpf(filter, fd);
  if (rc != 0) fail("seccomp: export the filter: %s", strerror(-rc));
  struct stat st;
  if (fstat(fd, &st) != 0) fail_errno("seccomp: stat the exported filter");
  size_t len = (size_t)st.st_size;
  if (len == 0 || len % sizeof(struct sock_filter) != 0) fail("seccomp: libseccomp exported %zu bytes, not a BPF program", len);
  if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    fail("seccomp: the filter has %zu instructions, more than the kernel takes (%d): use fewer rules", len / sizeof(struct sock_filter), BPF_MAXINSNS);
  struct sock_filter *insns = malloc(len);
  if (!insns) fail("out of memory");
  size_t off = 0;
  while (off < len) {
    ssize_t n = pread(fd, (char *)insns + off, len - off, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_errno("seccomp: read back the exported filter");
    off += (size_t)n;
  }
  close(fd);
  program.len = (unsigned short)(len / sizeof(struct sock_filter));
  program.filter = insns;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* A program compiled by an earlier run (src/runtime/seccomp-cache.ts): the
 * runtime checked it was made from exactly these rules. */
static void take_compiled_program(const char *hex) {
  size_t n = strlen(hex);
  if (n == 0 || n % (2 * sizeof(struct sock_filter)) != 0) fail("seccomp: malformed compiled filter");
  size_t len = n / 2;
  if (len / sizeof(struct sock_filter) > BPF_MAXINSNS) fail("seccomp: the compiled filter is too long");
  unsigned char *bytes = malloc(len);
  if (!bytes) fail("out of memory");
  for (size_t i = 0; i < len; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) fail("seccomp: malformed compiled filter");
    bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  program.len = (unsigned short)(len / sizeof(struct sock_filter));
  program.filter = (struct sock_filter *)bytes;
}

/* The compiled program back to the runtime, which keeps it for the next
 * run of the same rules (15-20 ms of libseccomp saved each time). */
static void send_compiled_program(void) {
  static const char digits[] = "0123456789abcdef";
  size_t len = program.len * sizeof(struct sock_filter);
  char *hex = malloc(2 * len + 1);
  if (!hex) return;
  const unsigned char *bytes = (const unsigned char *)program.filter;
  for (size_t i = 0; i < len; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  hex[2 * len] = 0;
  if (sync_fd >= 0) send_message(sync_fd, "scbpf", hex, NULL);
  free(hex);
}

void seccomp_prepare(const struct plan *p) {
  const struct record *d = plan_find(p, "seccomp");
  if (!d) return;
  if (d->nfields < 3) fail("malformed seccomp record");
  uint32_t def;
  if (parse_action(d->fields[1], d->fields[2], &def) != 0) fail("seccomp: unknown default action %s", d->fields[1]);
  load_flags = 0;
  for (int i = 3; i < d->nfields; i++) load_flags |= flag_bit(d->fields[i]);
  if (plan_find(p, "sclistener")) {
    load_flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    /* The kernel refuses TSYNC with NEW_LISTENER unless a failed sync reads
     * as ESRCH (the return value is the listener fd); we are one thread. */
    if (load_flags & SECCOMP_FILTER_FLAG_TSYNC) load_flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }
  const char *compiled = plan_get(p, "scbpf", 1, NULL);
  if (compiled) {
    take_compiled_program(compiled);
    planned = 1;
    return;
  }
  scmp_filter_ctx filter = seccomp_init(def);
  if (!filter) fail("seccomp_init failed (defaultAction %s)", d->fields[1]);
  int rc;

  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "scarch") != 0 || r->nfields < 2) continue;
    uint32_t arch = seccomp_arch_resolve_name(r->fields[1]);
    if (arch == 0) fail("seccomp: architecture %s is unknown to libseccomp", r->fields[1]);
    rc = seccomp_arch_add(filter, arch);
    if (rc != 0 && rc != -EEXIST) fail("seccomp: add architecture %s: %s", r->fields[1], strerror(-rc));
  }

  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "scrule") != 0) continue;
    if (r->nfields < 5) fail("malformed seccomp rule record");
    const char *name = r->fields[1];
    uint32_t action;
    if (parse_action(r->fields[2], r->fields[3], &action) != 0) fail("seccomp: unknown action %s for %s", r->fields[2], name);
    int nargs = atoi(r->fields[4]);
    if (nargs < 0 || nargs > 6 || r->nfields < 5 + 4 * nargs) fail("malformed seccomp rule record for %s", name);
    /* A name this architecture does not have is skipped, as runc does: one
     * profile serves every architecture. */
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    struct scmp_arg_cmp args[6];
    for (int a = 0; a < nargs; a++) {
      const char *const *f = (const char *const *)&r->fields[5 + 4 * a];
      args[a].arg = (unsigned)atoi(f[0]);
      if (parse_op(f[1], &args[a].op) != 0) fail("seccomp: unknown operator %s for %s", f[1], name);
      args[a].datum_a = strtoull(f[2], NULL, 10);
      args[a].datum_b = strtoull(f[3], NULL, 10);
    }
    rc = seccomp_rule_add_array(filter, action, nr, (unsigned)nargs, args);
    if (rc != 0) fail("seccomp: add the rule for %s (%s): %s", name, r->fields[2], strerror(-rc));
  }
  export_program(filter);
  seccomp_release(filter);
  planned = 1;
  if (plan_find(p, "scexport")) send_compiled_program();
}

void seccomp_connect_listener(const struct plan *p) {
  const char *path = plan_get(p, "sclistener", 1, NULL);
  if (!path) return;
  listener_path = path;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) fail("linux.seccomp.listenerPath %s is too long for a unix socket address", path);
  strcpy(addr.sun_path, path);
  listener_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_sock < 0) fail_errno("socket for the seccomp agent");
  if (connect(listener_sock, (struct sockaddr *)&addr, sizeof addr) != 0)
    fail_errno("connect to the seccomp agent at linux.seccomp.listenerPath %s (is the agent listening there?)", path);
}

void seccomp_close_listener(void) {
  if (listener_sock >= 0) close(listener_sock);
  listener_sock = -1;
}

void seccomp_take_state(const struct plan *reply) {
  const struct record *r = plan_find(reply, "seccompstate");
  if (r && r->nfields >= 2) listener_state = r->fields[1];
}

void seccomp_await_state(void) {
  if (listener_sock < 0) return;
  char *msg;
  size_t len;
  struct plan reply;
  if (read_frame(sync_fd, &msg, &len) != 0 || plan_decode(msg, len, &reply) != 0) _exit(1);
  seccomp_take_state(&reply);
}

/* runtime-spec config-linux.md, "The Container Process State": the JSON as
 * payload and the notification fd by SCM_RIGHTS in the first sendmsg.
 * Returns 0, or the errno of the failure. */
static int send_state(int sock, int notify_fd, const char *state) {
  size_t len = strlen(state);
  ssize_t n = send_with_fd(sock, notify_fd, state, len);
  if (n <= 0) return n < 0 ? errno : EPIPE;
  for (size_t off = (size_t)n; off < len; off += (size_t)n) {
    while ((n = send(sock, state + off, len - off, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return n < 0 ? errno : EPIPE;
  }
  return 0;
}

/*
 * Everything we do once the filter is loaded is filtered too, and an agent
 * may well read the state up to EOF before it answers anything: a close()
 * of ours that the filter notifies would then wait for the agent, and the
 * agent for that close. So, as runc and crun do from their parent process,
 * an unfiltered process talks to the agent: a courier forked before the
 * filter is loaded. All the init itself must get through the filter is one
 * sendmsg to the courier (checked when the profile was planned).
 */
static pid_t start_courier(int *to_courier) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail_errno("socketpair for the seccomp agent's courier");
  pid_t pid = fork();
  if (pid < 0) fail_errno("fork the seccomp agent's courier");
  if (pid > 0) {
    close(pair[1]);
    *to_courier = pair[0];
    return pid;
  }
  close(pair[0]);
  int notify_fd = receive_fd(pair[1]);
  /* No fd: the init failed to load the filter and says why itself. */
  if (notify_fd < 0) _exit(0);
  /* Our exit closes the connection: the agent sees the end of the state. */
  _exit(send_state(listener_sock, notify_fd, listener_state));
}

/* The notification fd to the courier, then wait for its word. After the
 * sendmsg the fd is on its way to the agent: whatever else the filter
 * notifies, the agent can answer. */
static void hand_over_listener(int notify_fd, int to_courier, pid_t courier) {
  ssize_t n = send_with_fd(to_courier, notify_fd, "", 1);
  int sent_errno = errno;
  /* Without a listener left a notified syscall fails with ENOSYS instead
   * of waiting: on failure nothing of ours may still hold it. */
  close(notify_fd);
  close(to_courier);
  if (n != 1) {
    errno = sent_errno;
    fail_errno("pass the seccomp notification fd to the courier for the agent at linux.seccomp.listenerPath %s", listener_path);
  }
  int status;
  pid_t w;
  while ((w = waitpid(courier, &status, 0)) < 0 && errno == EINTR) {
  }
  /* A wait the agent refused still leaves the courier to the agent's care. */
  if (w != courier) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    fail("send the seccomp notification fd to the agent at linux.seccomp.listenerPath %s: %s (is the agent still there?)", listener_path, strerror(WEXITSTATUS(status)));
  if (WIFSIGNALED(status)) fail("the courier of the seccomp notification fd was killed by signal %d", WTERMSIG(status));
}

void seccomp_install(void) {
  if (!planned) return;
  planned = 0;
  int notify = (load_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
  int to_courier = -1;
  pid_t courier = -1;
  if (notify) {
    if (listener_sock < 0 || !listener_state) fail("seccomp: SCMP_ACT_NOTIFY is used but the agent's connection or the container process state is missing");
    courier = start_courier(&to_courier);
    /* Only the courier's copy may keep the agent's connection open: its
     * exit is the end of the state the agent reads. */
    seccomp_close_listener();
  }
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, load_flags, &program);
  if (rc < 0) {
    int saved = errno;
    /* The courier sees EOF and goes; the agent sees the connection close. */
    if (notify) close(to_courier);
    errno = saved;
    if (errno == EINVAL && load_flags)
      fail_errno("load the seccomp filter (flags %#lx: does this kernel know them all?)", load_flags);
    fail_errno("load the seccomp filter");
  }
  free(program.filter);
  program.filter = NULL;
  if (notify) hand_over_listener((int)rc, to_courier, courier);
}
