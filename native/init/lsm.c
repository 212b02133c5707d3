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
#include <unistd.h>

void lsm_apply(const struct plan *p) {
  const char *profile = plan_get(p, "apparmor", 1, NULL);
  if (profile) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "exec %s", profile);
    if (n < 0 || (size_t)n >= sizeof buf) fail("AppArmor profile name too long");
    /* As libapparmor's aa_change_onexec (and runc): the LSM-stacking file
     * where the kernel has it, else the classic one. Chosen by existence,
     * not by a failed write, so the error below is the one that matters. */
    const char *attr = access("/proc/self/attr/apparmor/exec", F_OK) == 0 ? "/proc/self/attr/apparmor/exec" : "/proc/self/attr/exec";
    if (write_file(attr, buf, (size_t)n) != 0)
      fail_errno("apply AppArmor profile \"%s\" (write %s; is the profile loaded on the host?)", profile, attr);
  }
  const char *label = plan_get(p, "selinux", 1, NULL);
  if (label && write_file("/proc/self/attr/exec", label, strlen(label)) != 0)
    fail_errno("set SELinux exec label \"%s\" (write /proc/self/attr/exec)", label);
}
