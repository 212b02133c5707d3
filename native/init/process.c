/*
 * The container process: executable look-up on the container's PATH, early
 * settings that can fail while `create` still reports errors (rlimits,
 * oom_score_adj, cwd), the terminal, and the last steps before execve in the
 * order runc uses: bounding set, groups, gid, uid, capabilities, ambient set,
 * no_new_privs, umask.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/close_range.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static const char *env_get(const struct plan *p, const char *name) {
  const struct record *r = plan_find(p, "env");
  size_t l = strlen(name);
  if (!r) return NULL;
  for (int i = 1; i < r->nfields; i++)
    if (strncmp(r->fields[i], name, l) == 0 && r->fields[i][l] == '=') return r->fields[i] + l + 1;
  return NULL;
}

static int is_executable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* args[0] looked up on the container's PATH, inside the container's root,
 * before `create` returns, so a missing binary is reported by create. */
const char *resolve_executable(const struct plan *p, char *buf, size_t buflen) {
  const struct record *args = plan_find(p, "args");
  if (!args || args->nfields < 2) fail("process.args is empty");
  const char *name = args->fields[1];
  const char *cwd = plan_get(p, "cwd", 1, "/");
  if (strchr(name, '/')) {
    if (name[0] != '/' && chdir(cwd) != 0) fail_errno("chdir to cwd (\"%s\") set in config.json failed", cwd);
    if (!is_executable_file(name)) fail_errno("exec: \"%s\"", name);
    snprintf(buf, buflen, "%s", name);
    return buf;
  }
  const char *path = env_get(p, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const char *s = path;
  while (*s) {
    const char *e = strchr(s, ':');
    size_t l = e ? (size_t)(e - s) : strlen(s);
    if (l == 0) snprintf(buf, buflen, "./%s", name);
    else snprintf(buf, buflen, "%.*s/%s", (int)l, s, name);
    if (is_executable_file(buf)) return buf;
    if (!e) break;
    s = e + 1;
  }
  fail("exec: \"%s\": executable file not found in $PATH", name);
}

void prepare_process_early(const struct plan *p) {
  for (int i = 0; i < p->nrecords; i++) {
    const struct record *r = &p->records[i];
    if (strcmp(r->fields[0], "rlimit") != 0 || r->nfields < 5) continue;
    struct rlimit rl = {(rlim_t)parse_ull(r->fields[3]), (rlim_t)parse_ull(r->fields[4])};
    if (setrlimit((int)strtol(r->fields[2], NULL, 10), &rl) != 0)
      fail_errno("setrlimit %s (soft %s, hard %s)%s", r->fields[1], r->fields[3], r->fields[4],
                 errno == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
  }
  const char *oom = plan_get(p, "oom", 1, NULL);
  if (oom && write_file("/proc/self/oom_score_adj", oom, strlen(oom)) != 0) fail_errno("set oom_score_adj to %s", oom);
  const char *pers = plan_get(p, "personality", 1, NULL);
  if (pers && personality(strtoul(pers, NULL, 10)) < 0) fail_errno("personality");
  const char *cwd = plan_get(p, "cwd", 1, "/");
  struct stat st;
  if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) fail_errno("chdir to cwd (\"%s\") set in config.json failed", cwd);
}

static int terminal_slave = -1;
static char terminal_name[32];

/* A pty on the container's own devpts; the master goes to the caller over
 * the console socket (runc's protocol), the slave becomes our stdio and
 * controlling terminal at exec. */
void setup_terminal(const struct plan *p, int console_fd) {
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail_errno("open the container's /dev/pts/ptmx (is devpts mounted at /dev/pts?)");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail_errno("unlockpt");
  int ptn;
  if (ioctl(master, TIOCGPTN, &ptn) != 0) fail_errno("ptsname");
  terminal_slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (terminal_slave < 0) fail_errno("open the pty slave");
  uid_t uid = (uid_t)plan_get_ll(p, "user", 1, 0);
  if (fchown(terminal_slave, uid, (gid_t)-1) != 0 && errno != EINVAL) fail_errno("chown the pty slave");
  long h = plan_get_ll(p, "consolesize", 1, 0), w = plan_get_ll(p, "consolesize", 2, 0);
  if (h > 0 && w > 0) {
    struct winsize ws = {(unsigned short)h, (unsigned short)w, 0, 0};
    ioctl(master, TIOCSWINSZ, &ws);
  }
  snprintf(terminal_name, sizeof terminal_name, "/dev/pts/%d", ptn);
  if (send_with_fd(console_fd, master, terminal_name, strlen(terminal_name)) < 0) fail_errno("send the pty master over the console socket");
  close(master);
  close(console_fd);
  /* The pty is our stdio from now on, as runc does before parking: the
   * caller's stdio (e.g. the pipe containerd's shim reads create's output
   * from until EOF) must not stay open in a created container. */
  for (int fd = 0; fd < 3; fd++)
    if (dup2(terminal_slave, fd) != fd) fail_errno("dup2 the pty");
}

/* As runc: the container's /dev/console is its terminal (the pty slave
 * bind-mounted over it), for programs that write to the console. Only for
 * the init, after the /dev set-up; a read-only /dev without a console entry
 * is left alone. */
void mount_console(void) {
  if (terminal_slave < 0) return;
  struct stat st;
  if (lstat("/dev/console", &st) != 0) {
    int fd = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EROFS) return;
      fail_errno("create /dev/console for the terminal");
    }
    close(fd);
  } else if (S_ISLNK(st.st_mode)) {
    /* never follow a link of the rootfs */
    if (unlink("/dev/console") != 0) fail_errno("remove the /dev/console link");
    int fd = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail_errno("create /dev/console for the terminal");
    close(fd);
  }
  if (mount(terminal_name, "/dev/console", NULL, MS_BIND, NULL) != 0) fail_errno("bind-mount the terminal %s over /dev/console", terminal_name);
}

static void set_capabilities(const struct plan *p) {
  const struct record *r = plan_find(p, "caps");
  if (!r || r->nfields < 6) return;
  unsigned long long bounding = strtoull(r->fields[1], NULL, 16), effective = strtoull(r->fields[2], NULL, 16),
                     permitted = strtoull(r->fields[3], NULL, 16), inheritable = strtoull(r->fields[4], NULL, 16),
                     ambient = strtoull(r->fields[5], NULL, 16);
  int last = (int)plan_get_ll(p, "caplast", 1, 40);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  data[0].effective = (uint32_t)effective;
  data[1].effective = (uint32_t)(effective >> 32);
  data[0].permitted = (uint32_t)permitted;
  data[1].permitted = (uint32_t)(permitted >> 32);
  data[0].inheritable = (uint32_t)inheritable;
  data[1].inheritable = (uint32_t)(inheritable >> 32);
  if (syscall(SYS_capset, &hdr, data) != 0) fail_errno("capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail_errno("clear ambient capabilities");
  for (int c = 0; c <= last; c++)
    if ((ambient >> c) & 1)
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) fail_errno("raise ambient capability %d", c);
  (void)bounding;
}

static void drop_bounding_set(const struct plan *p) {
  const struct record *r = plan_find(p, "caps");
  if (!r || r->nfields < 6) return;
  unsigned long long bounding = strtoull(r->fields[1], NULL, 16);
  int last = (int)plan_get_ll(p, "caplast", 1, 40);
  for (int c = 0; c <= last; c++)
    if (!((bounding >> c) & 1))
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) fail_errno("drop capability %d from the bounding set", c);
}

void exec_process(const struct plan *p, const char *path) {
  /* Dispositions and the mask of the runtime are not the process's. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < 65; s++) sigaction(s, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  const char *cwd = plan_get(p, "cwd", 1, "/");
  if (chdir(cwd) != 0) fail_errno("chdir to cwd (\"%s\") set in config.json failed", cwd);

  if (terminal_slave >= 0) {
    /* we are a session leader already (container_init / exec) */
    if (ioctl(terminal_slave, TIOCSCTTY, 0) != 0) fail_errno("make the pty the controlling terminal");
    for (int fd = 0; fd < 3; fd++)
      if (dup2(terminal_slave, fd) != fd) fail_errno("dup2 the pty");
    if (terminal_slave > 2) close(terminal_slave);
  }

  /* Without no_new_privs the kernel takes a filter only from a holder of
   * CAP_SYS_ADMIN: load it before the credentials change (as runc does). */
  int nnp = plan_get_ll(p, "nnp", 1, 0) != 0;
  lsm_apply(p);
  if (!nnp) seccomp_install();

  int have_caps = plan_find(p, "caps") != NULL;
  if (have_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail_errno("PR_SET_KEEPCAPS");
  drop_bounding_set(p);

  uid_t uid = (uid_t)plan_get_ll(p, "user", 1, 0);
  gid_t gid = (gid_t)plan_get_ll(p, "user", 2, 0);
  long umask_value = (long)plan_get_ll(p, "user", 3, -1);
  const struct record *g = plan_find(p, "groups");
  if (g) {
    gid_t groups[NGROUPS_MAX > 65536 ? 65536 : NGROUPS_MAX];
    int n = 0;
    for (int i = 1; i < g->nfields && n < (int)(sizeof groups / sizeof groups[0]); i++)
      groups[n++] = (gid_t)strtoul(g->fields[i], NULL, 10);
    if (setgroups((size_t)n, groups) != 0) fail_errno("setgroups");
  }
  if (setresgid(gid, gid, gid) != 0) fail_errno("setgid %u", gid);
  if (setresuid(uid, uid, uid) != 0) fail_errno("setuid %u", uid);
  if (have_caps) {
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail_errno("PR_SET_KEEPCAPS");
    set_capabilities(p);
  }
  if (plan_get_ll(p, "nnp", 1, 0) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_errno("PR_SET_NO_NEW_PRIVS");
  umask(umask_value >= 0 ? (mode_t)umask_value : 022);

  /* Belt and braces: nothing but stdio and the preserved fds crosses exec. */
  long preserve = plan_get_ll(p, "preserve", 1, 0);
  syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC);
  /* The last step before exec: the filter sees as little of ours as possible. */
  if (nnp) seccomp_install();

  const struct record *args = plan_find(p, "args");
  const struct record *env = plan_find(p, "env");
  static char *empty[] = {NULL};
  execve(path, args->fields + 1, env ? env->fields + 1 : empty);
  fail_errno("exec %s", path);
}
