/*
 * linux.seccomp through libseccomp. src/runtime/seccomp.ts has already
 * checked the profile and turned it into records:
 *
 *   seccomp  DEFAULT_ACTION DEFAULT_ERRNO FLAG...
 *   scarch   ARCH                        (libseccomp's name: x86_64, aarch64...)
 *   scrule   SYSCALL ACTION ERRNO NARGS [INDEX OP VALUE VALUETWO]...
 *
 * The filter is built before the init parks (a bad profile fails `create`)
 * and loaded as late as possible: just before execve when no_new_privs is
 * set, else before the credentials change, while the process still holds
 * CAP_SYS_ADMIN (the kernel's rule for a filter without no_new_privs; runc
 * does the same).
 */
#include "init.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

static scmp_filter_ctx filter;

static int parse_action(const char *name, const char *errno_text, uint32_t *out) {
  uint32_t err = (uint32_t)strtoul(errno_text, NULL, 10);
  if (strcmp(name, "SCMP_ACT_ALLOW") == 0) *out = SCMP_ACT_ALLOW;
  else if (strcmp(name, "SCMP_ACT_ERRNO") == 0) *out = SCMP_ACT_ERRNO(err);
  else if (strcmp(name, "SCMP_ACT_TRACE") == 0) *out = SCMP_ACT_TRACE(err);
  else if (strcmp(name, "SCMP_ACT_TRAP") == 0) *out = SCMP_ACT_TRAP;
  else if (strcmp(name, "SCMP_ACT_LOG") == 0) *out = SCMP_ACT_LOG;
  else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0) *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0) *out = SCMP_ACT_KILL_PROCESS;
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

static void set_flag(const char *flag) {
  enum scmp_filter_attr attr;
  if (strcmp(flag, "SECCOMP_FILTER_FLAG_TSYNC") == 0) attr = SCMP_FLTATR_CTL_TSYNC;
  else if (strcmp(flag, "SECCOMP_FILTER_FLAG_LOG") == 0) attr = SCMP_FLTATR_CTL_LOG;
  else if (strcmp(flag, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0) attr = SCMP_FLTATR_CTL_SSB;
  else fail("seccomp flag %s is not supported by this build of ccrun", flag);
  int rc = seccomp_attr_set(filter, attr, 1);
  if (rc != 0) fail("seccomp flag %s: %s", flag, strerror(-rc));
}

void seccomp_prepare(const struct plan *p) {
  const struct record *d = plan_find(p, "seccomp");
  if (!d) return;
  if (d->nfields < 3) fail("malformed seccomp record");
  uint32_t def;
  if (parse_action(d->fields[1], d->fields[2], &def) != 0) fail("seccomp: unknown default action %s", d->fields[1]);
  filter = seccomp_init(def);
  if (!filter) fail("seccomp_init failed (defaultAction %s)", d->fields[1]);
  /* no_new_privs is the config's choice (process.noNewPrivileges), not libseccomp's. */
  int rc = seccomp_attr_set(filter, SCMP_FLTATR_CTL_NNP, 0);
  if (rc != 0) fail("seccomp: cannot leave no_new_privs alone: %s", strerror(-rc));
  for (int i = 3; i < d->nfields; i++) set_flag(d->fields[i]);

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
}

int seccomp_planned(void) { return filter != NULL; }

void seccomp_install(void) {
  if (!filter) return;
  int rc = seccomp_load(filter);
  if (rc != 0) fail("load the seccomp filter: %s", strerror(-rc));
  seccomp_release(filter);
  filter = NULL;
}
