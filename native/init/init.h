/*
 * ccrun-init: the single-threaded helper that turns a launch plan (made and
 * checked by the TypeScript runtime) into a container. Node is always
 * multithreaded, and unshare(CLONE_NEWUSER), setns() into mount/user
 * namespaces and the code between clone and execve must not run there; so
 * Node spawns this small program and hands it a plain plan over a socket.
 *
 * Wire format (both directions): a frame is a little-endian u32 byte length
 * followed by records; a record is a u32 field count, then per field a u32
 * length and the bytes. The first field of a record is its tag.
 */
#ifndef CCRUN_INIT_H
#define CCRUN_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct record {
  int nfields;
  char **fields; /* NUL-terminated copies */
};

struct plan {
  int nrecords;
  struct record *records;
};

/* plan.c */
int plan_decode(const char *buf, size_t len, struct plan *out);
const struct record *plan_find(const struct plan *p, const char *tag);
const char *plan_get(const struct plan *p, const char *tag, int field, const char *fallback);
long long plan_get_ll(const struct plan *p, const char *tag, int field, long long fallback);
unsigned long long parse_ull(const char *s);

/* io.c: the sync socket with the Node side */
extern int sync_fd;
/* After the park: where failures go for `start` to report (close-on-exec, so
 * end-of-file without a message means the user process was executed). */
extern int start_result_fd;
int read_frame(int fd, char **buf, size_t *len);
int send_message(int fd, const char *tag, ...); /* NULL-terminated fields */
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void fail_errno(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
int write_file(const char *path, const char *data, size_t len);
/* One sendmsg of data with fd attached by SCM_RIGHTS (EINTR retried, no
 * SIGPIPE): the bytes sent, or -1. */
ssize_t send_with_fd(int sock, int fd, const void *data, size_t len);
/* The fd of one SCM_RIGHTS message (made close-on-exec), or -1. */
int receive_fd(int sock);

/* rootfs.c: everything in the container's mount namespace */
void setup_rootfs(const struct plan *p);
void finish_rootfs(const struct plan *p);

/* process.c: the process attributes and the final exec */
const char *resolve_executable(const struct plan *p, char *buf, size_t buflen);
void prepare_process_early(const struct plan *p);
void exec_process(const struct plan *p, const char *path) __attribute__((noreturn));
void setup_terminal(const struct plan *p, int console_fd);
void mount_console(void);

/* seccomp.c: linux.seccomp, built before the park, loaded at the end */
void seccomp_prepare(const struct plan *p);
void seccomp_install(void);
/* SCMP_ACT_NOTIFY: connect to the agent while host paths resolve; the
 * helper closes its copy once the child has one; the state to send comes
 * in a "seccompstate" record (create: with the hook state; exec: its own frame). */
void seccomp_connect_listener(const struct plan *p);
void seccomp_close_listener(void);
void seccomp_take_state(const struct plan *reply);
void seccomp_await_state(void);

/* sealed.c: run from a sealed memfd copy (CVE-2019-5736) */
void reexec_sealed(char **argv);

/* lsm.c: apparmorProfile and selinuxLabel for the exec */
void lsm_apply(const struct plan *p);

/* monitor.c: a detached container's parent until it exits */
int monitor_prepare(const struct plan *p);
int monitor_container(const struct plan *p, pid_t init);

/* hooks.c: createContainer (before pivot_root) and startContainer hooks */
void hooks_before_pivot(const struct plan *p);
void hooks_start_container(const struct plan *p);

#endif
