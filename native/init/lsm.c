/*
 * AppArmor profile and SELinux label for the process's exec. The runtime
 * (src/runtime/lsm.ts) only sends these records when the host has the LSM;
 * a write that fails here fails the container: no silent skip.
 *
 *   apparmor PROFILE
 *   selinux  LABEL
 */
#include "init.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void lsm_apply(const struct plan *p) {
  const char *profile = plan_get(p, "apparmor", 1, NULL);
  if (profile) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "exec %s", profile);
    if (n < 0 || (size_t)n >= sizeof buf) fail("AppArmor profile name too long");
    /* The LSM-stacking interface first, then the classic one. */
    if (write_file("/proc/self/attr/apparmor/exec", buf, (size_t)n) != 0 &&
        write_file("/proc/self/attr/exec", buf, (size_t)n) != 0)
      fail_errno("apply AppArmor profile \"%s\" (is it loaded on the host?)", profile);
  }
  const char *label = plan_get(p, "selinux", 1, NULL);
  if (label && write_file("/proc/self/attr/exec", label, strlen(label)) != 0)
    fail_errno("set SELinux exec label \"%s\"", label);
}
